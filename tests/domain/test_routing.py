"""Routing rules: which route a message takes, the order of its connectors, and the explanation of both.

Operator tests use real French mobile numbers whose range holder libphonenumber knows (33607… Orange France,
33612… SFR, 33650… Bouygues, 33651… Free Mobile), so a change in its carrier data shows up here.
"""

from __future__ import annotations

import random
from collections import Counter
from decimal import Decimal

import phonenumbers
import pytest
from phonenumbers.carrierdata import CARRIER_DATA

from martinet.domain.routing import (
    Destination,
    Mismatch,
    Operator,
    OperatorLookup,
    Route,
    RouteEntry,
    Router,
    load_default_operator_table,
    parse_operator_table,
    rank_entries,
)

pytestmark = pytest.mark.unit

ORANGE = Destination("33607123456", "FR")
SFR = Destination("33612345678", "FR")
BOUYGUES = Destination("33650123456", "FR")
FREE = Destination("33651123456", "FR")
PROXIMUS = Destination("32470123456", "BE")
GUADELOUPE = Destination("590690123456", "GP")

DEFAULT = ("carrier-a", "carrier-b")


@pytest.fixture(scope="module")
def operators() -> OperatorLookup:
    return OperatorLookup.default()


class CountingLookup(OperatorLookup):
    """The real lookup, counting how often the router asks (the costly step it must avoid)."""

    def __init__(self) -> None:
        super().__init__(load_default_operator_table())
        self.calls = 0

    def operator(self, msisdn: str) -> Operator:
        self.calls += 1
        return super().operator(msisdn)


def entry(connector: str, *, weight: int = 1, price: str | None = None, tier: int = 0) -> RouteEntry:
    return RouteEntry(connector, weight, Decimal(price) if price is not None else None, tier)


def chain(*connectors: str) -> tuple[RouteEntry, ...]:
    """An ordered failover chain, as the configuration builds it when no tier is given."""
    return tuple(entry(name, tier=position) for position, name in enumerate(connectors, start=1))


def route(
    name: str,
    entries: tuple[RouteEntry, ...],
    *,
    countries: tuple[str, ...] = (),
    prefixes: tuple[str, ...] = (),
    operators: tuple[str, ...] = (),
    lanes: tuple[str, ...] = (),
    accounts: tuple[str, ...] = (),
    least_cost: bool = False,
) -> Route:
    return Route(
        name=name,
        countries=frozenset(countries),
        prefixes=prefixes,
        operators=frozenset(operators),
        lanes=frozenset(lanes),
        accounts=frozenset(accounts),
        entries=entries,
        least_cost=least_cost,
    )


def chosen(router: Router, destination: Destination, lane: str = "marketing", account: str = "acme") -> str | None:
    return router.explain(destination, lane, account).route


# --- matching ---------------------------------------------------------------------------------------------


def test_without_routes_every_message_takes_the_default_chain_in_order(operators: OperatorLookup) -> None:
    router = Router([], DEFAULT, operators)
    assert router.candidates(SFR, "otp", "acme", random.Random(1)) == DEFAULT
    assert chosen(router, SFR) is None


def test_the_first_matching_route_wins_in_configuration_order(operators: OperatorLookup) -> None:
    router = Router(
        [route("fr-1", chain("x"), countries=("FR",)), route("fr-2", chain("y"), countries=("FR",))],
        DEFAULT,
        operators,
    )
    assert router.candidates(SFR, "otp", "acme", random.Random(1)) == ("x",)
    assert chosen(router, SFR) == "fr-1"


def test_empty_conditions_match_anything(operators: OperatorLookup) -> None:
    router = Router([route("all", chain("x"))], DEFAULT, operators)
    assert {chosen(router, d) for d in (SFR, PROXIMUS, GUADELOUPE, Destination("999", None))} == {"all"}


def test_every_non_empty_condition_must_hold(operators: OperatorLookup) -> None:
    strict = route("strict", chain("x"), countries=("FR",), lanes=("otp",), accounts=("acme",), prefixes=("336",))
    router = Router([strict], DEFAULT, operators)
    assert chosen(router, SFR, "otp", "acme") == "strict"
    assert chosen(router, SFR, "marketing", "acme") is None
    assert chosen(router, SFR, "otp", "other") is None
    assert chosen(router, PROXIMUS, "otp", "acme") is None
    assert chosen(router, Destination("33712345678", "FR"), "otp", "acme") is None


def test_a_message_no_route_takes_gets_the_default_connectors(operators: OperatorLookup) -> None:
    router = Router([route("be", chain("x"), countries=("BE",))], DEFAULT, operators)
    assert router.candidates(SFR, "otp", "acme", random.Random(1)) == DEFAULT


def test_prefixes_match_the_leading_digits_whatever_their_length(operators: OperatorLookup) -> None:
    router = Router(
        [
            route("long", chain("long"), prefixes=("3361234",)),
            route("short", chain("short"), prefixes=("336", "337")),
        ],
        DEFAULT,
        operators,
    )
    rng = random.Random(1)
    # Same country, lane and account: only the number's head tells them apart, and the cache must too.
    assert router.candidates(Destination("33612345678", "FR"), "otp", "a", rng) == ("long",)
    assert router.candidates(Destination("33612355678", "FR"), "otp", "a", rng) == ("short",)
    assert router.candidates(Destination("33712345678", "FR"), "otp", "a", rng) == ("short",)
    assert router.candidates(Destination("33112345678", "FR"), "otp", "a", rng) == DEFAULT
    assert router.candidates(Destination("33612345678", "FR"), "otp", "a", rng) == ("long",)


def test_the_match_cache_keeps_lanes_and_accounts_apart(operators: OperatorLookup) -> None:
    router = Router(
        [route("otp", chain("fast"), lanes=("otp",)), route("vip", chain("vip"), accounts=("bigco",))],
        DEFAULT,
        operators,
    )
    rng = random.Random(1)
    for _ in range(3):
        assert router.candidates(SFR, "otp", "acme", rng) == ("fast",)
        assert router.candidates(SFR, "marketing", "bigco", rng) == ("vip",)
        assert router.candidates(SFR, "marketing", "acme", rng) == DEFAULT


def test_an_unknown_country_matches_only_routes_without_countries(operators: OperatorLookup) -> None:
    router = Router([route("fr", chain("x"), countries=("FR",)), route("any", chain("y"))], DEFAULT, operators)
    assert chosen(router, Destination("80012345678", None)) == "any"


# --- operators ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("destination", "name", "mccmnc"),
    [
        (ORANGE, "Orange France", "20801"),
        (SFR, "SFR", "20810"),
        (BOUYGUES, "Bouygues", "20820"),
        (FREE, "Free Mobile", "20815"),
        (PROXIMUS, "Proximus", "20601"),
    ],
)
def test_operator_lookup_gives_range_holder_and_network_code(
    operators: OperatorLookup, destination: Destination, name: str, mccmnc: str
) -> None:
    assert operators.operator(destination.msisdn) == Operator(name, mccmnc)


def test_operator_lookup_of_numbers_without_a_known_range_holder(operators: OperatorLookup) -> None:
    assert operators.operator("33140000000") == Operator(None, None)  # Paris landline
    assert operators.operator("999") == Operator(None, None)
    # A known holder that the hand-kept table does not name: the MCC/MNC data set, when installed, gives its code.
    without_dataset = OperatorLookup(load_default_operator_table())
    assert without_dataset.operator("590690123456") == Operator("Digicel", None)
    if operators.dataset is not None:
        assert operators.operator("590690123456") == Operator("Digicel", "34020")


@pytest.mark.parametrize(
    ("wanted", "matches"),
    [
        ("SFR", {SFR}),  # range holder, as libphonenumber names it
        ("sfr", {SFR}),  # case-insensitive
        ("Orange France", {ORANGE}),
        ("Orange", {ORANGE}),  # the network's usual name
        ("20815", {FREE}),  # mcc/mnc
        ("Bouygues", {BOUYGUES}),
        ("Bouygues Telecom", {BOUYGUES}),
        ("20801", {ORANGE}),
        ("Digicel", set()),
    ],
)
def test_routes_match_operators_by_name_or_mcc_mnc(
    operators: OperatorLookup, wanted: str, matches: set[Destination]
) -> None:
    router = Router([route("op", chain("x"), operators=(wanted,))], DEFAULT, operators)
    assert {d for d in (ORANGE, SFR, BOUYGUES, FREE) if chosen(router, d) == "op"} == matches


def test_operator_routes_only_look_up_numbers_when_they_are_reached() -> None:
    lookup = CountingLookup()
    router = Router(
        [route("be", chain("x"), countries=("BE",)), route("fr-sfr", chain("y"), operators=("SFR",))],
        DEFAULT,
        lookup,
    )
    rng = random.Random(1)
    assert router.candidates(PROXIMUS, "otp", "acme", rng) == ("x",)  # decided before the operator route
    assert lookup.calls == 0
    assert router.candidates(SFR, "otp", "acme", rng) == ("y",)
    assert router.candidates(ORANGE, "otp", "acme", rng) == DEFAULT
    assert lookup.calls == 2


def test_without_operator_routes_no_number_is_looked_up() -> None:
    lookup = CountingLookup()
    router = Router([route("fr", chain("x"), countries=("FR",))], DEFAULT, lookup)
    for destination in (SFR, ORANGE, PROXIMUS):
        router.candidates(destination, "otp", "acme", random.Random(1))
    assert lookup.calls == 0


def test_an_operator_route_that_fails_lets_later_routes_match(operators: OperatorLookup) -> None:
    router = Router(
        [route("orange", chain("o"), operators=("orange",)), route("fr", chain("f"), countries=("FR",))],
        DEFAULT,
        operators,
    )
    rng = random.Random(1)
    assert router.candidates(ORANGE, "otp", "acme", rng) == ("o",)
    assert router.candidates(SFR, "otp", "acme", rng) == ("f",)


def test_route_operator_names_are_lower_cased() -> None:
    assert route("r", chain("x"), operators=("SFR", "Orange France")).operators == {"sfr", "orange france"}


# --- ordering -----------------------------------------------------------------------------------------------


def test_by_default_entries_are_an_ordered_failover_chain(operators: OperatorLookup) -> None:
    router = Router([route("r", chain("a", "b", "c"))], DEFAULT, operators)
    rng = random.Random(7)
    assert {router.candidates(SFR, "otp", "x", rng) for _ in range(100)} == {("a", "b", "c")}


def test_tiers_order_entries_and_configuration_order_breaks_nothing(operators: OperatorLookup) -> None:
    entries = (entry("late", tier=3), entry("first", tier=1), entry("second", tier=2))
    router = Router([route("r", entries)], DEFAULT, operators)
    assert router.candidates(SFR, "otp", "x", random.Random(1)) == ("first", "second", "late")


def test_weights_spread_the_first_choice_among_equals(operators: OperatorLookup) -> None:
    entries = (entry("heavy", weight=3, tier=1), entry("light", weight=1, tier=1), entry("backup", tier=2))
    router = Router([route("r", entries)], DEFAULT, operators)
    rng = random.Random(20240601)
    draws = [router.candidates(SFR, "otp", "x", rng) for _ in range(10_000)]
    first = Counter(order[0] for order in draws)
    assert first["heavy"] + first["light"] == 10_000
    assert 2.7 < first["heavy"] / first["light"] < 3.3
    # Every equal stays in the list as failover, and lower tiers stay behind them.
    assert {order[2] for order in draws} == {"backup"}
    assert {frozenset(order[:2]) for order in draws} == {frozenset({"heavy", "light"})}


def test_three_equals_are_drawn_in_proportion_and_without_repeats(operators: OperatorLookup) -> None:
    entries = (entry("a", weight=1, tier=1), entry("b", weight=2, tier=1), entry("c", weight=7, tier=1))
    router = Router([route("r", entries)], DEFAULT, operators)
    rng = random.Random(5)
    draws = [router.candidates(SFR, "otp", "x", rng) for _ in range(10_000)]
    assert all(sorted(order) == ["a", "b", "c"] for order in draws)
    first = Counter(order[0] for order in draws)
    assert abs(first["a"] - 1_000) < 200
    assert abs(first["b"] - 2_000) < 250
    assert abs(first["c"] - 7_000) < 300


def test_the_same_seed_gives_the_same_orders(operators: OperatorLookup) -> None:
    entries = (entry("a", tier=1), entry("b", tier=1), entry("c", tier=1))
    router = Router([route("r", entries)], DEFAULT, operators)
    first_run, second_run = random.Random(3), random.Random(3)
    assert [router.candidates(SFR, "otp", "x", first_run) for _ in range(50)] == [
        router.candidates(SFR, "otp", "x", second_run) for _ in range(50)
    ]


def test_least_cost_orders_by_price_then_tier_and_unpriced_last(operators: OperatorLookup) -> None:
    entries = (
        entry("unpriced", tier=1),
        entry("dear", price="0.040", tier=2),
        entry("cheap-2", price="0.030", tier=4),
        entry("cheap-1", price="0.030", tier=3),
    )
    router = Router([route("r", entries, least_cost=True)], DEFAULT, operators)
    assert router.candidates(SFR, "otp", "x", random.Random(1)) == ("cheap-1", "cheap-2", "dear", "unpriced")


def test_least_cost_entries_of_same_price_and_tier_are_equals(operators: OperatorLookup) -> None:
    entries = (entry("a", price="0.03", tier=1), entry("b", price="0.03", tier=1), entry("c", price="0.05", tier=1))
    router = Router([route("r", entries, least_cost=True)], DEFAULT, operators)
    rng = random.Random(11)
    draws = [router.candidates(SFR, "otp", "x", rng) for _ in range(1_000)]
    assert {order[0] for order in draws} == {"a", "b"}
    assert {order[2] for order in draws} == {"c"}


def test_without_least_cost_prices_do_not_reorder(operators: OperatorLookup) -> None:
    entries = (entry("dear", price="9", tier=1), entry("cheap", price="0.01", tier=2))
    router = Router([route("r", entries)], DEFAULT, operators)
    assert router.candidates(SFR, "otp", "x", random.Random(1)) == ("dear", "cheap")


def test_rank_entries_groups_equals_in_configuration_order() -> None:
    a, b, c = entry("a", tier=2), entry("b", tier=1), entry("c", tier=2)
    assert rank_entries([a, b, c], least_cost=False) == ((b,), (a, c))


def test_a_route_cannot_name_a_connector_twice() -> None:
    with pytest.raises(ValueError, match="more than once: a"):
        route("r", (entry("a", tier=1), entry("a", tier=2)))


def test_the_default_list_cannot_be_empty(operators: OperatorLookup) -> None:
    with pytest.raises(ValueError, match="default"):
        Router([], (), operators)


# --- explanation --------------------------------------------------------------------------------------------


def test_explanation_says_why_each_earlier_route_did_not_match(operators: OperatorLookup) -> None:
    router = Router(
        [
            route("belgium", chain("x"), countries=("BE",)),
            route("campaigns", chain("x"), lanes=("marketing",), accounts=("bigco", "acme")),
            route("orange-mobiles", chain("x"), operators=("Orange", "20820"), prefixes=("3367", "3368")),
            route("france", chain("a", "b"), countries=("FR",)),
        ],
        DEFAULT,
        operators,
    )
    explanation = router.explain(SFR, "otp", "shop")
    assert explanation.route == "france"
    assert explanation.operator == Operator("SFR", "20810")
    assert explanation.skipped == (
        Mismatch("belgium", ("country FR not in [BE]",)),
        Mismatch("campaigns", ("lane otp not in [marketing]", "account shop not in [acme, bigco]")),
        Mismatch(
            "orange-mobiles",
            ("number 33612345678 does not start with [3367, 3368]", "operator SFR (20810) not in [20820, orange]"),
        ),
    )
    assert explanation.connectors == ("a", "b")


def test_explanation_without_account_or_known_country(operators: OperatorLookup) -> None:
    routes = [route("fr", chain("x"), countries=("FR",)), route("vip", chain("x"), accounts=("bigco",))]
    router = Router(routes, DEFAULT, operators)
    explanation = router.explain(Destination("80012345678", None), "otp", "")
    assert explanation.route is None
    assert [m.reasons for m in explanation.skipped] == [
        ("country unknown not in [FR]",),
        ("account (none) not in [bigco]",),
    ]
    assert explanation.connectors == DEFAULT
    assert [[e.tier for e in rank] for rank in explanation.ranks] == [[1], [2]]


def test_explanation_shows_equals_as_one_rank_deterministically(operators: OperatorLookup) -> None:
    entries = (entry("a", weight=3, tier=1), entry("b", weight=1, tier=1), entry("c", tier=2))
    router = Router([route("r", entries)], DEFAULT, operators)
    explanation = router.explain(SFR, "otp", "x")
    assert [[e.connector for e in rank] for rank in explanation.ranks] == [["a", "b"], ["c"]]
    assert [e.weight for e in explanation.ranks[0]] == [3, 1]
    assert explanation == router.explain(SFR, "otp", "x")


def test_explanation_and_candidates_agree(operators: OperatorLookup) -> None:
    routes = [
        route("otp-orange", chain("o"), operators=("orange",), lanes=("otp",)),
        route("be", chain("b"), countries=("BE",)),
        route("vip", chain("v"), accounts=("bigco",)),
        route("fr-mobiles", chain("m"), prefixes=("336", "337")),
    ]
    router = Router(routes, DEFAULT, operators)
    plans = {r.name: r.entries[0].connector for r in routes}
    for destination in (ORANGE, SFR, BOUYGUES, FREE, PROXIMUS, GUADELOUPE):
        for lane in ("otp", "marketing"):
            for account in ("bigco", "acme"):
                name = router.explain(destination, lane, account).route
                expected = (plans[name],) if name is not None else DEFAULT
                assert router.candidates(destination, lane, account, random.Random(1)) == expected


# --- the operator table -------------------------------------------------------------------------------------


def test_default_table_has_the_french_networks() -> None:
    france = load_default_operator_table()["FR"]
    assert {holder: network.mccmnc for holder, network in france.items()} == {
        "Orange France": "20801",
        "SFR": "20810",
        "Bouygues": "20820",
        "Free Mobile": "20815",
    }


def test_every_range_holder_of_the_table_is_spelled_as_libphonenumber_spells_it() -> None:
    table = load_default_operator_table()
    for country, holders in table.items():
        prefix = str(phonenumbers.country_code_for_region(country))
        known = {names.get("en") for digits, names in CARRIER_DATA.items() if digits.startswith(prefix)}
        assert set(holders) <= known, f"{country}: {sorted(set(holders) - known)} unknown to libphonenumber"


def test_every_mcc_matches_its_country() -> None:
    mcc = {"FR": "208", "BE": "206", "CH": "228", "ES": "214", "GB": "234"}
    for country, holders in load_default_operator_table().items():
        assert {network.mccmnc[:3] for network in holders.values()} == {mcc[country]}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"XX": {"A": {"network": "A", "mccmnc": "20801"}}}, "unknown country code 'XX'"),
        ({"FR": {"A": {"network": "A", "mccmnc": 20801}}}, "5 or 6 digits"),
        ({"FR": {"A": {"network": "A", "mccmnc": "208"}}}, "5 or 6 digits"),
        ({"FR": {"A": {"network": "", "mccmnc": "20801"}}}, "non-empty"),
        ({"FR": {"A": {"network": "A", "mccmnc": "20801", "mnc": "1"}}}, "unknown key"),
        ({"FR": {"A": "20801"}}, "expected a table"),
        ({"FR": "A"}, "table of range holders"),
    ],
)
def test_a_bad_operator_table_is_refused(data: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_operator_table(data)


def test_metropolitan_mobiles_sharing_a_carrier_prefix_share_one_lookup_that_agrees_with_the_library() -> None:
    """The per-prefix memo gives every French number, mobile or not, the operator libphonenumber's own lookup
    gives it (a fresh lookup per number); two mobiles of one prefix get the very same answer object."""
    memo, library = OperatorLookup(load_default_operator_table()), OperatorLookup(load_default_operator_table())
    rng = random.Random(18)
    numbers = [f"33{first}{rng.randrange(10**8):08d}" for first in range(1, 10) for _ in range(150)]
    numbers += [n[:7] + f"{rng.randrange(10**4):04d}" for n in numbers]  # partners sharing 7 digits
    numbers += [n[:9] + f"{rng.randrange(100):02d}" for n in numbers]  # and 9
    for msisdn in numbers:
        assert memo.operator(msisdn) == library._lookup(msisdn), msisdn
    first, second = [n for n in numbers if n.startswith(("3361", "3362")) and memo.operator(n).name is not None][:2]
    assert first[:7] != second[:7] and memo.operator(first) is not memo.operator(second)  # looked up apart
    assert memo.operator(first[:7] + ("0000" if first[7:] != "0000" else "0001")) is memo.operator(first)
    assert memo.operator("33140000000") == Operator(None, None)  # a Paris fixed line: no range holder
