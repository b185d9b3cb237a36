"""Message routing: which connectors a message may take, and in which order.

Routes are rules written by operators in the configuration; the first one whose conditions all hold for a
message decides its connectors, and a message no route takes goes to the default connectors. The engine asks
:meth:`Router.candidates` for every message it dispatches, so matching is cached by the only things routes
can look at, and the costly part, finding the number's operator, is done only when a route needs it.
:meth:`Router.explain` walks the same rules slowly and says why each earlier route was passed over, for
``martinet routes explain``.

Connectors of a route are ranked; the engine tries the ranks in order (failover). Connectors sharing a rank
are equals: each message orders them by a weighted random draw, so traffic spreads by weight across many
messages while every equal stays available as failover for the others.
"""

from __future__ import annotations

import itertools
import random
import re
import tomllib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import field
from decimal import Decimal
from functools import lru_cache
from importlib.resources import files
from typing import Final, TypeAlias

import phonenumbers
from phonenumbers import NumberParseException, carrier
from phonenumbers.carrierdata import CARRIER_DATA, CARRIER_LONGEST_PREFIX

from martinet.domain.networks import NetworkDataset, load_network_dataset
from martinet.domain.recipients import is_metropolitan_mobile
from martinet.domain.valueclass import valueclass

__all__ = [
    "Destination",
    "Explanation",
    "Mismatch",
    "Network",
    "Operator",
    "OperatorLookup",
    "Route",
    "RouteEntry",
    "Router",
    "load_default_operator_table",
    "parse_operator_table",
    "rank_entries",
]

_MCCMNC: Final[re.Pattern[str]] = re.compile(r"[0-9]{5,6}")
_KNOWN_COUNTRIES: Final[frozenset[str]] = frozenset(phonenumbers.SUPPORTED_REGIONS)
# Distinct (country, lane, account, number head) seen between two configuration changes: enough for every
# account of a large platform sending to every route's prefixes; a miss only costs a walk over the routes.
_MATCH_CACHE_SIZE: Final[int] = 16384
# Numbers whose operator is remembered: one send may carry 10,000 recipients, later retries reuse them.
_OPERATOR_CACHE_SIZE: Final[int] = 65536
#: The longest E.164 prefix of a French number libphonenumber's carrier table lists (7 digits today): two French
#: mobiles that begin with this many same digits have the same range holder (no country code but 33 begins "33").
_FRENCH_CARRIER_PREFIX: Final[int] = max(
    (len(prefix) for prefix in CARRIER_DATA if prefix.startswith("33")), default=CARRIER_LONGEST_PREFIX
)


@valueclass
class RouteEntry:
    """One connector of a route; ``tier`` is already resolved (the configuration defaults it to position)."""

    connector: str
    weight: int
    price: Decimal | None
    tier: int


@valueclass
class Route:
    """A routing rule: every non-empty condition must hold for a message to take it."""

    name: str
    countries: frozenset[str]
    prefixes: tuple[str, ...]
    operators: frozenset[str]
    lanes: frozenset[str]
    accounts: frozenset[str]
    entries: tuple[RouteEntry, ...]
    least_cost: bool = False

    def __post_init__(self) -> None:
        # Lower-cased here so operator names compare case-insensitively whoever builds the route.
        object.__setattr__(self, "operators", frozenset(name.lower() for name in self.operators))
        if not self.entries:
            raise ValueError(f"route {self.name!r} has no connector")
        names = [entry.connector for entry in self.entries]
        twice = sorted({name for name in names if names.count(name) > 1})
        if twice:
            raise ValueError(f"route {self.name!r} names connector(s) more than once: {', '.join(twice)}")
        light = [entry.connector for entry in self.entries if entry.weight < 1]
        if light:
            raise ValueError(f"route {self.name!r}: weight must be at least 1 ({', '.join(light)})")


@valueclass
class Destination:
    """Where a message goes: E.164 digits without '+' as stored, and the territory libphonenumber gave."""

    msisdn: str
    country: str | None


@valueclass
class Operator:
    """The range holder of a number (libphonenumber's name) and its network code when the table knows it."""

    name: str | None
    mccmnc: str | None
    # The name the network is known by, when a table gave its code: shown, not compared (the code says it all).
    network: str | None = field(default=None, compare=False)

    def __str__(self) -> str:
        if self.name is None:
            return self.mccmnc or "unknown"
        return f"{self.name} ({self.mccmnc})" if self.mccmnc else self.name


@valueclass
class Network:
    """A mobile network a range holder runs: its usual name and MCC+MNC."""

    name: str
    mccmnc: str


OperatorTable: TypeAlias = Mapping[str, Mapping[str, Network]]
"""Country (ISO 3166 alpha-2) → range holder as libphonenumber spells it → network."""

_UNKNOWN_OPERATOR: Final[Operator] = Operator(None, None)


def _network(where: str, value: object) -> Network:
    if not isinstance(value, Mapping):
        raise ValueError(f"{where}: expected a table {{ network = ..., mccmnc = ... }}")
    unknown = sorted(str(key) for key in value if key not in ("network", "mccmnc"))
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {', '.join(unknown)}")
    name, code = value.get("network"), value.get("mccmnc")
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"{where}.network: expected a non-empty string")
    if not isinstance(code, str) or _MCCMNC.fullmatch(code) is None:
        raise ValueError(f"{where}.mccmnc: expected 5 or 6 digits as a string, got {code!r}")
    return Network(name.strip(), code)


def parse_operator_table(data: Mapping[str, object]) -> dict[str, dict[str, Network]]:
    """Validate decoded TOML (see ``data/operators.toml``); a wrong entry would silently mis-route."""
    table: dict[str, dict[str, Network]] = {}
    for country, holders in data.items():
        if country not in _KNOWN_COUNTRIES:
            raise ValueError(f"operators: unknown country code {country!r}")
        if not isinstance(holders, Mapping):
            raise ValueError(f"operators.{country}: expected a table of range holders")
        table[country] = {str(holder): _network(f"{country}.{holder}", v) for holder, v in holders.items()}
    return table


def load_default_operator_table() -> dict[str, dict[str, Network]]:
    """The table shipped with Martinet (``martinet/data/operators.toml``)."""
    resource = files("martinet") / "data" / "operators.toml"
    return parse_operator_table(tomllib.loads(resource.read_text(encoding="utf-8")))


class OperatorLookup:
    """Finds the operator of a number; memoised because libphonenumber's lookup costs tens of µs.

    Memoised per number, and for metropolitan French mobiles (most of the traffic) per prefix: libphonenumber
    names a mobile's range holder from the longest of its E.164 prefixes that its carrier table lists, and for
    France none is longer than `_FRENCH_CARRIER_PREFIX` digits, so every such mobile starting with the same that
    many digits has the same range holder, hence the same operator. There are about 20,000 such prefixes: the
    lookups of a day's traffic (in the notifier one per message otherwise, the `mcc_mnc` of its delivery reports)
    come down to one per prefix.
    """

    def __init__(
        self,
        table: OperatorTable,
        cache_size: int = _OPERATOR_CACHE_SIZE,
        dataset: NetworkDataset | Callable[[], NetworkDataset | None] | None = None,
    ) -> None:
        """``table``: the hand-kept range holder → network table, consulted first; ``dataset``: the networks of
        every country (:mod:`martinet.domain.networks`), for the range holders the table does not name, or a
        function loading them when first needed (reading them takes half a second a process may never need)."""
        self._table = {country: dict(holders) for country, holders in table.items()}
        self._dataset_source = dataset
        codes: dict[str, set[str]] = {}
        for holders in self._table.values():
            for network in holders.values():
                codes.setdefault(network.name.lower(), set()).add(network.mccmnc)
        self._codes_by_network = {name: frozenset(found) for name, found in codes.items()}
        self._cached: Callable[[str], Operator] = lru_cache(maxsize=cache_size)(self._lookup)
        self._by_prefix: dict[str, Operator] = {}
        self._prefix_cache_size = cache_size

    @classmethod
    def default(cls) -> OperatorLookup:
        """The shipped table, with the MCC/MNC data set when it is installed."""
        return cls(load_default_operator_table(), dataset=load_network_dataset)

    @property
    def dataset(self) -> NetworkDataset | None:
        """The MCC/MNC data set, loaded on first use; None when it is not installed."""
        source = self._dataset_source
        if source is None or isinstance(source, NetworkDataset):
            return source
        loaded = source()
        self._dataset_source = loaded
        return loaded

    def operator(self, msisdn: str) -> Operator:
        """Range holder and MCC+MNC of E.164 digits (no '+'); unknown parts are None, never an error."""
        if not is_metropolitan_mobile(msisdn):
            return self._cached(msisdn)
        prefix = msisdn[:_FRENCH_CARRIER_PREFIX]
        found = self._by_prefix.get(prefix)
        if found is None:
            if len(self._by_prefix) >= self._prefix_cache_size:
                self._by_prefix.clear()  # bounded; refilled from the traffic of the moment
            found = self._by_prefix[prefix] = self._lookup(msisdn)
        return found

    def codes_named(self, name: str) -> frozenset[str]:
        """MCC+MNC of the networks usually called ``name``, so "Orange" also matches "Orange France"."""
        found = self._codes_by_network.get(name.lower(), frozenset())
        dataset = self.dataset
        if dataset is not None:
            found |= dataset.codes_named(name)
        return found

    def _lookup(self, msisdn: str) -> Operator:
        try:
            number = phonenumbers.parse("+" + msisdn)
        except NumberParseException:
            return _UNKNOWN_OPERATOR
        name = carrier.name_for_number(number, "en") or None
        if name is None:
            return _UNKNOWN_OPERATOR
        country = phonenumbers.region_code_for_number(number) or ""
        network = self._table.get(country, {}).get(name)
        if network is not None:
            return Operator(name, network.mccmnc, network.name)
        dataset = self.dataset
        if dataset is not None:
            entry = dataset.match(country, name)
            if entry is not None:
                return Operator(name, entry.mccmnc, entry.name)
        return Operator(name, None)


def _tier_key(entry: RouteEntry) -> tuple[int]:
    return (entry.tier,)


def _cost_key(entry: RouteEntry) -> tuple[bool, Decimal, int]:
    # Unpriced entries rank after every priced one: nothing says they are cheap.
    return (entry.price is None, entry.price or Decimal(0), entry.tier)


def rank_entries(entries: Iterable[RouteEntry], least_cost: bool) -> tuple[tuple[RouteEntry, ...], ...]:
    """Group entries into ranks, best first; entries of one rank (equals) keep their configuration order."""
    key: Callable[[RouteEntry], tuple[object, ...]] = _cost_key if least_cost else _tier_key
    ordered = sorted(entries, key=key)  # stable
    return tuple(tuple(rank) for _, rank in itertools.groupby(ordered, key))


def _weighted_order(names: tuple[str, ...], weights: tuple[int, ...], rng: random.Random, out: list[str]) -> None:
    """Append ``names`` drawn without replacement, each draw proportional to weight.

    The first name is the one this message tries first, so over many messages each equal is tried first in
    proportion to its weight; the rest follow, still weighted, as failover.
    """
    pool = list(names)
    pool_weights = list(weights)
    total = sum(pool_weights)
    while len(pool) > 1:
        point = rng.random() * total
        index, last = 0, len(pool) - 1
        cumulative = pool_weights[0]
        while point >= cumulative and index < last:
            index += 1
            cumulative += pool_weights[index]
        out.append(pool.pop(index))
        total -= pool_weights.pop(index)
    out.append(pool[0])


class _Plan:
    """A route's ranks, prepared so ordering a message allocates nothing when there are no equals."""

    __slots__ = ("fixed", "groups", "ranks")

    def __init__(self, ranks: tuple[tuple[RouteEntry, ...], ...]) -> None:
        self.ranks = ranks
        self.groups = tuple((tuple(e.connector for e in rank), tuple(e.weight for e in rank)) for rank in ranks)
        self.fixed = tuple(r[0].connector for r in ranks) if all(len(r) == 1 for r in ranks) else None

    def order(self, rng: random.Random) -> tuple[str, ...]:
        if self.fixed is not None:
            return self.fixed
        out: list[str] = []
        for names, weights in self.groups:
            if len(names) == 1:
                out.append(names[0])
            else:
                _weighted_order(names, weights, rng, out)
        return tuple(out)


class _Matcher:
    """A route with its plan and the operator names/codes it accepts (None: any operator)."""

    __slots__ = ("operator_codes", "plan", "route")

    def __init__(self, route: Route, operators: OperatorLookup) -> None:
        self.route = route
        self.plan = _Plan(rank_entries(route.entries, route.least_cost))
        codes: set[str] = set(route.operators)
        for name in route.operators:
            codes |= operators.codes_named(name)
        self.operator_codes: frozenset[str] | None = frozenset(codes) if codes else None

    def matches_cheaply(self, country: str | None, lane: str, account: str, number: str) -> bool:
        """Every condition but the operator, which is checked only if this route is reached."""
        route = self.route
        return (
            (not route.countries or country in route.countries)
            and (not route.prefixes or number.startswith(route.prefixes))
            and (not route.lanes or lane in route.lanes)
            and (not route.accounts or account in route.accounts)
        )

    def matches_operator(self, operator: Operator) -> bool:
        codes = self.operator_codes
        if codes is None:
            return True
        return (operator.name is not None and operator.name.lower() in codes) or (
            operator.mccmnc is not None and operator.mccmnc in codes
        )


@valueclass
class Mismatch:
    """A route passed over, and every condition of it the message failed."""

    route: str
    reasons: tuple[str, ...]


@valueclass
class Explanation:
    """Why a message takes the connectors it takes; ``route`` is None when the default connectors apply."""

    destination: Destination
    lane: str
    account: str
    operator: Operator
    route: str | None
    skipped: tuple[Mismatch, ...]
    least_cost: bool
    ranks: tuple[tuple[RouteEntry, ...], ...]

    @property
    def connectors(self) -> tuple[str, ...]:
        """Every connector in rank order; equals in configuration order (the engine shuffles them by weight)."""
        return tuple(entry.connector for rank in self.ranks for entry in rank)


def _listed(values: Iterable[str]) -> str:
    return "[" + ", ".join(values) + "]"


class Router:
    """Chooses, per message, the ordered connectors to try (see the module docstring)."""

    def __init__(self, routes: Sequence[Route], default: Sequence[str], operators: OperatorLookup) -> None:
        if not default:
            raise ValueError("the default connector list is empty")
        self._matchers = tuple(_Matcher(route, operators) for route in routes)
        self._default = _Plan(tuple((RouteEntry(name, 1, None, tier),) for tier, name in enumerate(default, 1)))
        self._operators = operators
        # Only what some route looks at goes into the cache key, so unused dimensions do not split it.
        self._by_country = any(route.countries for route in routes)
        self._by_lane = any(route.lanes for route in routes)
        self._by_account = any(route.accounts for route in routes)
        self._head = max((len(prefix) for route in routes for prefix in route.prefixes), default=0)
        self._shortlist: Callable[[str | None, str, str, str], tuple[_Matcher, ...]] = lru_cache(
            maxsize=_MATCH_CACHE_SIZE
        )(self._find_shortlist)

    @property
    def routes(self) -> tuple[Route, ...]:
        return tuple(matcher.route for matcher in self._matchers)

    def candidates(self, destination: Destination, lane: str, account: str, rng: random.Random) -> tuple[str, ...]:
        """The connector names to try for one message, best first; never empty."""
        return self._plan(destination, lane, account).order(rng)

    def explain(self, destination: Destination, lane: str, account: str) -> Explanation:
        """The route a message takes and why each earlier one did not match; deterministic (no draw)."""
        operator = self._operators.operator(destination.msisdn)
        skipped: list[Mismatch] = []
        chosen: _Matcher | None = None
        for matcher in self._matchers:
            reasons = self._reasons(matcher, destination, lane, account, operator)
            if not reasons:
                chosen = matcher
                break
            skipped.append(Mismatch(matcher.route.name, reasons))
        return Explanation(
            destination=destination,
            lane=lane,
            account=account,
            operator=operator,
            route=chosen.route.name if chosen is not None else None,
            skipped=tuple(skipped),
            least_cost=chosen is not None and chosen.route.least_cost,
            ranks=(chosen.plan if chosen is not None else self._default).ranks,
        )

    def _plan(self, destination: Destination, lane: str, account: str) -> _Plan:
        if not self._matchers:
            return self._default
        shortlist = self._shortlist(
            destination.country if self._by_country else None,
            lane if self._by_lane else "",
            account if self._by_account else "",
            destination.msisdn[: self._head],
        )
        operator: Operator | None = None
        for matcher in shortlist:
            if matcher.operator_codes is not None:
                if operator is None:
                    operator = self._operators.operator(destination.msisdn)
                if not matcher.matches_operator(operator):
                    continue
            return matcher.plan
        return self._default

    def _find_shortlist(self, country: str | None, lane: str, account: str, head: str) -> tuple[_Matcher, ...]:
        """Routes that match but for the operator, up to the first that needs no operator (it always wins).

        ``head`` is the number cut to the longest configured prefix, which decides every prefix condition.
        """
        found: list[_Matcher] = []
        for matcher in self._matchers:
            if matcher.matches_cheaply(country, lane, account, head):
                found.append(matcher)
                if matcher.operator_codes is None:
                    break
        return tuple(found)

    @staticmethod
    def _reasons(
        matcher: _Matcher, destination: Destination, lane: str, account: str, operator: Operator
    ) -> tuple[str, ...]:
        route = matcher.route
        reasons: list[str] = []
        if route.countries and destination.country not in route.countries:
            reasons.append(f"country {destination.country or 'unknown'} not in {_listed(sorted(route.countries))}")
        if route.prefixes and not destination.msisdn.startswith(route.prefixes):
            reasons.append(f"number {destination.msisdn} does not start with {_listed(route.prefixes)}")
        if not matcher.matches_operator(operator):
            reasons.append(f"operator {operator} not in {_listed(sorted(route.operators))}")
        if route.lanes and lane not in route.lanes:
            reasons.append(f"lane {lane} not in {_listed(sorted(route.lanes))}")
        if route.accounts and account not in route.accounts:
            reasons.append(f"account {account or '(none)'} not in {_listed(sorted(route.accounts))}")
        return tuple(reasons)
