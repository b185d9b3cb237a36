"""Credits charged per SMS part (and per voice call), by destination country.

Prices come in layers, the most specific first, so that an operator changes one country or one customer by
writing one line and never has to copy the whole world:

1. a price for one account (``[pricing.accounts.LOGIN]`` in the configuration);
2. the configuration's per-country lines (``[pricing.prices]``) and closed destinations (``pricing.closed``);
3. the price table file (built-in ``data/prices.toml`` or the operator's own): its per-country ``[prices]``
   lines and its ``closed`` list;
4. the table's zones (``[zones.NAME]``): a price shared by a list of countries, one zone being the default of
   every region listed nowhere, so that every number libphonenumber knows has a price out of the box.

A closed destination (or, in a table without zones, one without a line) is refused per recipient by the caller
(status 3560), which is why :meth:`PriceTable.price` returns None instead of a guess. :meth:`PriceTable.quote`
also says which layer gave the answer, for ``martinet prices show``.

The table is data that operators edit, so it is validated strictly when loaded: a typo such as
``FR = "1,5"`` or ``UK = "2"`` must stop the platform at start-up with a message naming the line, not surface
later as a wrong bill or a silently refused country.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from importlib.resources import files
from types import MappingProxyType
from typing import Final, Literal

import phonenumbers

from martinet.domain.valueclass import valueclass

__all__ = [
    "CHANNELS",
    "Channel",
    "PriceTable",
    "Quote",
    "Zone",
    "known_countries",
    "load_default_price_table",
    "loads_price_table",
    "parse_price_table",
]

Channel = Literal["sms", "voice"]
CHANNELS: Final[tuple[Channel, ...]] = ("sms", "voice")

# Country codes a price can usefully be given for: the regions libphonenumber can report for a number,
# i.e. exactly the values ``Recipient.country`` takes. Anything else can never match a recipient.
_KNOWN_COUNTRIES: Final[frozenset[str]] = frozenset(phonenumbers.SUPPORTED_REGIONS)
_COUNTRY_CODE: Final[re.Pattern[str]] = re.compile(r"[A-Z]{2}")
_ZONE_NAME: Final[re.Pattern[str]] = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")
_TOP_LEVEL: Final[frozenset[str]] = frozenset({"prices", "voice", "zones", "closed"})
_ZONE_KEYS: Final[frozenset[str]] = frozenset({"sms", "voice", "countries", "default", "name"})

# The ledger counts thousandths of a credit; a finer price could not be charged exactly.
_MILLI: Final[Decimal] = Decimal(1000)

_EMPTY: Final[Mapping[str, Decimal]] = MappingProxyType({})


def known_countries() -> frozenset[str]:
    """Every region a price can be given for (what libphonenumber reports for a number)."""
    return _KNOWN_COUNTRIES


@valueclass
class Zone:
    """Countries sharing one price: ``sms`` credits per part, ``voice`` credits per voice call (None: no price)."""

    name: str
    sms: Decimal
    voice: Decimal | None
    countries: frozenset[str]
    title: str = ""


@valueclass
class Quote:
    """The effective price to one country and where it comes from; ``price`` None means refused (closed)."""

    country: str
    price: Decimal | None
    source: str


def _frozen(mapping: Mapping[str, Decimal]) -> Mapping[str, Decimal]:
    return MappingProxyType(dict(mapping))


@dataclass(frozen=True)
class PriceTable:
    """Credits per part by destination; copied read-only on build so a shared table cannot drift.

    ``prices`` are the table file's per-country lines, ``zones`` its zones (``default_zone`` names the one that
    prices every region no zone lists), ``closed`` the countries it refuses. ``overrides``, ``closed_overrides``
    and ``accounts`` are the configuration's layers on top (see the module docstring). ``origin`` names the
    file, for the sources ``martinet prices`` prints.
    """

    prices: Mapping[str, Decimal]
    zones: Mapping[str, Zone] = field(default_factory=dict)
    default_zone: str | None = None
    closed: frozenset[str] = frozenset()
    voice: Mapping[str, Decimal] = field(default_factory=dict)
    overrides: Mapping[str, Decimal] = field(default_factory=dict)
    voice_overrides: Mapping[str, Decimal] = field(default_factory=dict)
    closed_overrides: frozenset[str] = frozenset()
    accounts: Mapping[str, Mapping[str, Decimal]] = field(default_factory=dict)
    origin: str = "built-in prices.toml"
    _zone_of: Mapping[str, Zone] = field(init=False, repr=False, compare=False, default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("prices", "voice", "overrides", "voice_overrides"):
            object.__setattr__(self, name, _frozen(getattr(self, name)))
        object.__setattr__(self, "zones", MappingProxyType(dict(self.zones)))
        object.__setattr__(
            self, "accounts", MappingProxyType({login: _frozen(p) for login, p in self.accounts.items()})
        )
        zone_of: dict[str, Zone] = {}
        for zone in self.zones.values():
            for country in zone.countries:
                other = zone_of.get(country)
                if other is not None:
                    raise ValueError(f"zones: {country} is in both {other.name!r} and {zone.name!r}")
                zone_of[country] = zone
        if self.default_zone is not None and self.default_zone not in self.zones:
            raise ValueError(f"zones: the default zone {self.default_zone!r} is not defined")
        object.__setattr__(self, "_zone_of", MappingProxyType(zone_of))

    def zone_of(self, country: str) -> Zone | None:
        """The zone pricing ``country`` when no line names it: the one listing it, else the default zone."""
        zone = self._zone_of.get(country)
        if zone is None and self.default_zone is not None and country in _KNOWN_COUNTRIES:
            return self.zones[self.default_zone]
        return zone

    def price(self, country: str, account: str | None = None) -> Decimal | None:
        """Credits per part to ``country`` (for ``account`` when given), or None when it is not open."""
        return self.quote(country, account).price

    def quote(self, country: str, account: str | None = None, channel: Channel = "sms") -> Quote:
        """The effective price to ``country`` and the layer it comes from, most specific first."""
        if account is not None:
            own = self.accounts.get(account, _EMPTY).get(country)
            if own is not None and channel == "sms":
                return Quote(country, own, f"account {account}")
        if country in self.closed_overrides:
            return Quote(country, None, "closed by the configuration (pricing.closed)")
        lines, overrides = (self.prices, self.overrides) if channel == "sms" else (self.voice, self.voice_overrides)
        if country in overrides:
            return Quote(country, overrides[country], "configuration override (pricing." + _section(channel) + ")")
        if country in self.closed:
            return Quote(country, None, f"closed in {self.origin}")
        if country in lines:
            return Quote(country, lines[country], f"line in {self.origin}")
        zone = self.zone_of(country)
        if channel == "voice":
            if zone is not None and zone.voice is not None:
                return Quote(country, zone.voice, f"zone {zone.name} of {self.origin}")
            return Quote(country, None, f"no voice price in {self.origin}")
        if zone is not None:
            how = "" if zone.name != self.default_zone or country in zone.countries else ", the default zone"
            return Quote(country, zone.sms, f"zone {zone.name}{how} of {self.origin}")
        return Quote(country, None, f"no price in {self.origin}")

    def countries(self) -> tuple[str, ...]:
        """Every country a price could apply to, sorted: libphonenumber's regions."""
        return tuple(sorted(_KNOWN_COUNTRIES))

    def open_count(self) -> int:
        """How many regions have a price (for ``martinet config check``)."""
        return sum(1 for country in _KNOWN_COUNTRIES if self.price(country) is not None)

    def with_overrides(
        self,
        prices: Mapping[str, object] | None = None,
        closed: Iterable[str] = (),
        accounts: Mapping[str, Mapping[str, object]] | None = None,
        voice: Mapping[str, object] | None = None,
    ) -> PriceTable:
        """This table under the configuration's layers, each validated as strictly as the file."""
        closing = frozenset(_country("pricing.closed", code) for code in closed)
        overrides = {
            _country("pricing.prices", k): _credits(f"pricing.prices.{k}", v) for k, v in (prices or {}).items()
        }
        both = sorted(closing & overrides.keys())
        if both:
            raise ValueError(f"pricing: {', '.join(both)} both priced (pricing.prices) and closed (pricing.closed)")
        return PriceTable(
            prices=self.prices,
            zones=self.zones,
            default_zone=self.default_zone,
            closed=self.closed,
            voice=self.voice,
            overrides=overrides,
            voice_overrides={
                _country("pricing.voice", k): _credits(f"pricing.voice.{k}", v) for k, v in (voice or {}).items()
            },
            closed_overrides=closing,
            accounts={
                login: {
                    _country(f"pricing.accounts.{login}", k): _credits(f"pricing.accounts.{login}.{k}", v)
                    for k, v in lines.items()
                }
                for login, lines in (accounts or {}).items()
            },
            origin=self.origin,
        )


def _section(channel: Channel) -> str:
    return "prices" if channel == "sms" else "voice"


def _country(where: str, key: object) -> str:
    if not isinstance(key, str):
        raise ValueError(f"{where}: key {key!r} is not a country code string")
    if _COUNTRY_CODE.fullmatch(key) is None:
        hint = f" (did you mean {key.upper()!r}?)" if key.upper() in _KNOWN_COUNTRIES else ""
        raise ValueError(f"{where}.{key}: country code must be two upper-case letters (ISO 3166-1 alpha-2){hint}")
    if key not in _KNOWN_COUNTRIES:
        hint = " (the United Kingdom is 'GB')" if key == "UK" else ""
        raise ValueError(f"{where}.{key}: unknown country code {key!r}{hint}")
    return key


def _credits(where: str, value: object) -> Decimal:
    # bool is an int subclass: `FR = true` must not become 1 credit.
    if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
        raise ValueError(f"{where}: price must be a number or a decimal string, got {type(value).__name__} {value!r}")
    # Floats go through str() so 1.1 is Decimal("1.1"), not its binary approximation.
    text = value.strip() if isinstance(value, str) else str(value)
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise ValueError(f'{where}: {value!r} is not a decimal number (use a dot: "1.5")') from None
    if not amount.is_finite():
        raise ValueError(f"{where}: {value!r} is not a finite number")
    if amount < 0:
        raise ValueError(f"{where}: price {value!r} is negative")
    scaled = amount * _MILLI
    if scaled != scaled.to_integral_value():
        raise ValueError(f"{where}: price {value!r} has more than three decimals")
    return amount


def _lines(where: str, table: object) -> dict[str, Decimal]:
    if not isinstance(table, Mapping):
        raise ValueError(f"price table: '{where}' must be a table, got {type(table).__name__}")
    lines: dict[str, Decimal] = {}
    for key, value in table.items():
        country = _country(where, key)
        lines[country] = _credits(f"{where}.{country}", value)
    return lines


def _zone(name: object, body: object) -> tuple[Zone, bool]:
    if not isinstance(name, str) or _ZONE_NAME.fullmatch(name) is None:
        raise ValueError(f"zones.{name}: a zone name is lower-case letters, digits, '-' or '_'")
    where = f"zones.{name}"
    if not isinstance(body, Mapping):
        raise ValueError(f"{where}: expected a table with sms and countries")
    unknown = sorted(str(key) for key in body if key not in _ZONE_KEYS)
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {', '.join(map(repr, unknown))}")
    if "sms" not in body:
        raise ValueError(f"{where}: missing sms (credits per part)")
    sms = _credits(f"{where}.sms", body["sms"])
    voice = _credits(f"{where}.voice", body["voice"]) if "voice" in body else None
    countries = body.get("countries", [])
    if not isinstance(countries, list):
        raise ValueError(f"{where}.countries: expected a list of country codes")
    codes = [_country(f"{where}.countries", code) for code in countries]
    twice = sorted({code for code in codes if codes.count(code) > 1})
    if twice:
        raise ValueError(f"{where}.countries: listed twice: {', '.join(twice)}")
    default = body.get("default", False)
    if not isinstance(default, bool):
        raise ValueError(f"{where}.default: expected true or false")
    title = body.get("name", "")
    if not isinstance(title, str):
        raise ValueError(f"{where}.name: expected a string")
    return Zone(name, sms, voice, frozenset(codes), title), default


def parse_price_table(data: Mapping[str, object], origin: str = "built-in prices.toml") -> PriceTable:
    """Build a table from decoded TOML, refusing anything doubtful.

    The shape is ``closed = [...]`` (optional), ``[zones.NAME]`` tables (``sms``, optional ``voice``,
    ``countries``, ``default = true`` on at most one), ``[prices]`` and ``[voice]`` per-country lines. A table
    of ``[prices]`` only is a closed list as before zones existed: a country without a line is refused.
    Raises ValueError naming the offending entry.
    """
    unknown = sorted(str(key) for key in data if key not in _TOP_LEVEL)
    if unknown:
        raise ValueError(
            f"price table: unknown top-level key(s) {', '.join(map(repr, unknown))}; "
            "only closed, [zones.NAME], [prices] and [voice]"
        )
    prices = _lines("prices", data["prices"]) if "prices" in data else {}
    voice = _lines("voice", data["voice"]) if "voice" in data else {}
    zones_data = data.get("zones", {})
    if not isinstance(zones_data, Mapping):
        raise ValueError(f"price table: 'zones' must be a table, got {type(zones_data).__name__}")
    zones: dict[str, Zone] = {}
    defaults: list[str] = []
    for name, body in zones_data.items():
        zone, default = _zone(name, body)
        zones[zone.name] = zone
        if default:
            defaults.append(zone.name)
    if len(defaults) > 1:
        raise ValueError(f"zones: only one zone may be the default, got {', '.join(defaults)}")
    closed_data = data.get("closed", [])
    if not isinstance(closed_data, list):
        raise ValueError("price table: 'closed' must be a list of country codes")
    closed = frozenset(_country("closed", code) for code in closed_data)
    both = sorted(closed & prices.keys())
    if both:
        raise ValueError(f"price table: {', '.join(both)} both priced ([prices]) and closed")
    if not prices and not zones:
        raise ValueError("price table: no [zones.NAME] and no [prices], every destination would be refused")
    return PriceTable(
        prices=prices,
        zones=zones,
        default_zone=defaults[0] if defaults else None,
        closed=closed,
        voice=voice,
        origin=origin,
    )


def loads_price_table(text: str | bytes, origin: str = "built-in prices.toml") -> PriceTable:
    """Parse the TOML text of a price table; the caller does the reading so this stays free of I/O."""
    try:
        decoded = text.decode("utf-8") if isinstance(text, bytes) else text
        data = tomllib.loads(decoded)
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ValueError(f"price table is not valid TOML: {exc}") from exc
    return parse_price_table(data, origin)


def load_default_price_table() -> PriceTable:
    """The table shipped with Martinet, used until an operator provides their own."""
    resource = files("martinet") / "data" / "prices.toml"
    return loads_price_table(resource.read_bytes())
