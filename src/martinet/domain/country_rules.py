"""What carriers of a country accept and what its law asks, as data (``data/countries.toml``).

Carriers differ on who a message may come from: alphanumeric sender IDs ("ACME") are delivered in most of
Europe but replaced or dropped in the United States and Canada, which take numbers only; some countries accept
a sender only once it is registered with their carriers; a few networks mangle Unicode; the law of some
countries keeps marketing to business hours and asks for an opt-out mention. An operator learns these from
carriers and adjusts them, so they are a table, not code: ``[default]`` applies to every country, and a
``[XX]`` table changes what differs for that country. The operator's configuration overrides single keys.

Acceptance asks :meth:`CountryRules.check` per recipient and refuses what a country would not deliver, with the
country in the reason, instead of charging for a message that would vanish. When the sender is the only
problem and the country's rule names a ``fallback_sender`` (a number the operator holds there), the message is
accepted and the engine sends it from that number (:meth:`CountryRules.sender_for`).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from importlib.resources import files
from types import MappingProxyType
from typing import Final

import phonenumbers

from martinet.domain.valueclass import valueclass

__all__ = [
    "CountryRule",
    "CountryRules",
    "QuietHoursData",
    "Verdict",
    "load_default_country_rules",
    "loads_country_rules",
    "parse_country_rules",
]

_KNOWN_COUNTRIES: Final[frozenset[str]] = frozenset(phonenumbers.SUPPORTED_REGIONS)
_DIGITS: Final[re.Pattern[str]] = re.compile(r"[0-9]+")
_FALLBACK: Final[re.Pattern[str]] = re.compile(r"[0-9]{3,15}")
_WEEKDAYS: Final[frozenset[str]] = frozenset(
    {"monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"}
)
_HH_MM: Final[re.Pattern[str]] = re.compile(r"([01]\d|2[0-3]):[0-5]\d")
_QUIET_KEYS: Final[frozenset[str]] = frozenset({"timezone", "opens", "closes", "closed_days", "public_holidays"})


@valueclass
class QuietHoursData:
    """A marketing window as written in the table; :mod:`martinet.domain.quiet_hours` enforces it."""

    timezone: str
    opens: str = "08:00"
    closes: str = "20:00"
    closed_days: tuple[str, ...] = ("sunday",)
    public_holidays: bool = True


@valueclass
class CountryRule:
    """The rules for one country, every key filled in from ``[default]`` where the country says nothing."""

    country: str
    alphanumeric: bool = True  # alphanumeric sender IDs are delivered
    sender_max: int = 11  # longest alphanumeric sender ID
    registration: bool = False  # alphanumeric senders must be registered with the country's carriers
    registered: frozenset[str] = frozenset()  # senders registered there (compared without case)
    fallback_sender: str | None = None  # number to send from when the sender is not allowed
    unicode: bool = True  # UCS-2 messages are delivered
    opt_out: str = ""  # the opt-out mention marketing carries there ("" when the law names none)
    quiet_hours: QuietHoursData | None = None  # marketing window, None when unrestricted
    note: str = ""

    def sender_problem(self, sender: str) -> str | None:
        """Why ``sender`` is not delivered in this country, or None (numeric senders always are)."""
        if _DIGITS.fullmatch(sender):
            return None
        if not self.alphanumeric:
            return f"{self.country}: alphanumeric senders are not delivered, numeric senders only"
        if len(sender) > self.sender_max:
            return f"{self.country}: alphanumeric senders of at most {self.sender_max} characters"
        if self.registration and sender.upper() not in self.registered:
            return f"{self.country}: sender {sender!r} is not registered with the carriers there"
        return None


@valueclass
class Verdict:
    """What acceptance does with one recipient: ``problem`` refuses it (naming ``parameter``), else it goes,
    from ``sender`` (the fallback number when the send's own sender is not delivered there)."""

    problem: str | None = None
    parameter: str = ""
    sender: str | None = None


_OK: Final[Verdict] = Verdict()


@dataclass(frozen=True)
class CountryRules:
    """Every country's rule; a country without a table of its own gets ``default`` under its code."""

    default: CountryRule
    countries: Mapping[str, CountryRule] = field(default_factory=dict)
    origin: str = "built-in countries.toml"

    def __post_init__(self) -> None:
        object.__setattr__(self, "countries", MappingProxyType(dict(self.countries)))

    def rule(self, country: str) -> CountryRule:
        found = self.countries.get(country)
        return found if found is not None else replace(self.default, country=country)

    def check(self, country: str, sender: str | None, unicode: bool) -> Verdict:
        """Whether a message from ``sender`` (None: the carrier's default) in UCS-2 or not reaches ``country``."""
        rule = self.countries.get(country)
        if rule is None:
            if self._default_is_open:
                return _OK
            rule = self.rule(country)
        if unicode and not rule.unicode:
            return Verdict(f"{country}: Unicode messages are not delivered there", "text")
        if sender:
            problem = rule.sender_problem(sender)
            if problem is not None:
                if rule.fallback_sender is not None:
                    return Verdict(sender=rule.fallback_sender)
                return Verdict(problem, "sender")
        return _OK

    def sender_for(self, country: str | None, sender: str | None) -> str | None:
        """The sender a message to ``country`` leaves with: its own, or the country's fallback number."""
        if not sender or country is None:
            return sender
        rule = self.countries.get(country)
        if rule is None or rule.fallback_sender is None or rule.sender_problem(sender) is None:
            return sender
        return rule.fallback_sender

    def quiet_hours(self) -> dict[str, QuietHoursData]:
        """The marketing windows the table sets, by country."""
        return {code: rule.quiet_hours for code, rule in self.countries.items() if rule.quiet_hours is not None}

    def with_quiet_hours(self, windows: Mapping[str, QuietHoursData]) -> CountryRules:
        """These rules with every marketing window replaced by ``windows`` (the configuration's
        ``marketing.quiet_hours``), so what ``routes explain`` shows is what the dispatcher enforces."""
        countries = {code: replace(rule, quiet_hours=windows.get(code)) for code, rule in self.countries.items()}
        for code, hours in windows.items():
            if code not in countries:
                countries[code] = replace(self.default, country=_country_code("marketing.quiet_hours", code))
                countries[code] = replace(countries[code], quiet_hours=hours)
        return CountryRules(self.default, countries, self.origin)

    @property
    def _default_is_open(self) -> bool:
        d = self.default
        return d.unicode and d.alphanumeric and not d.registration and d.sender_max >= 11

    def with_overrides(self, overrides: Mapping[str, Mapping[str, object]]) -> CountryRules:
        """These rules with some keys changed (the configuration's ``[rules.countries.XX]``)."""
        if not overrides:
            return self
        default = self.default
        if "default" in overrides:
            default = _rule("rules.countries.default", "default", overrides["default"], base=default)
        countries = dict(self.countries)
        for code, keys in overrides.items():
            if code == "default":
                continue
            _country_code("rules.countries", code)
            base = self.countries.get(code, replace(default, country=code))
            countries[code] = _rule(f"rules.countries.{code}", code, keys, base=base)
        return CountryRules(default, countries, self.origin)


def _country_code(where: str, code: object) -> str:
    if not isinstance(code, str) or code not in _KNOWN_COUNTRIES:
        hint = " (the United Kingdom is 'GB')" if code == "UK" else ""
        raise ValueError(f"{where}: unknown country code {code!r}{hint}")
    return code


def _bool(where: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{where}: expected true or false, got {value!r}")
    return value


def _text(where: str, value: object) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{where}: expected a string, got {value!r}")
    return value


def _quiet(where: str, value: object) -> QuietHoursData | None:
    if value is False:
        return None
    if not isinstance(value, Mapping):
        raise ValueError(f"{where}: expected a table (timezone, opens, closes, closed_days, public_holidays) or false")
    unknown = sorted(str(k) for k in value if k not in _QUIET_KEYS)
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {', '.join(unknown)}")
    timezone = _text(f"{where}.timezone", value.get("timezone"))
    hours = {}
    for name in ("opens", "closes"):
        if name in value:
            text = _text(f"{where}.{name}", value[name])
            if _HH_MM.fullmatch(text) is None:
                raise ValueError(f"{where}.{name}: {text!r} is not HH:MM")
            hours[name] = text
    days = value.get("closed_days", ["sunday"])
    if not isinstance(days, list) or not all(isinstance(d, str) and d.lower() in _WEEKDAYS for d in days):
        raise ValueError(f"{where}.closed_days: expected a list of weekday names, got {days!r}")
    holidays = _bool(f"{where}.public_holidays", value.get("public_holidays", True))
    return QuietHoursData(timezone, closed_days=tuple(d.lower() for d in days), public_holidays=holidays, **hours)


def _rule(where: str, code: str, body: object, *, base: CountryRule) -> CountryRule:
    if not isinstance(body, Mapping):
        raise ValueError(f"{where}: expected a table of rules")
    changes: dict[str, object] = {"country": code}
    for key, value in body.items():
        at = f"{where}.{key}"
        if key in ("alphanumeric", "registration", "unicode"):
            changes[key] = _bool(at, value)
        elif key == "sender_max":
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 11:
                raise ValueError(f"{at}: expected a whole number from 1 to 11, got {value!r}")
            changes[key] = value
        elif key == "registered":
            if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
                raise ValueError(f"{at}: expected a list of sender IDs")
            changes[key] = frozenset(v.upper() for v in value)
        elif key == "fallback_sender":
            text = re.sub(r"[\s.()-]", "", _text(at, value)).removeprefix("+")  # "+1 204 555-0143"
            if text and _FALLBACK.fullmatch(text) is None:
                raise ValueError(f"{at}: expected a number (3 to 15 digits), got {value!r}")
            changes[key] = text or None
        elif key in ("opt_out", "note"):
            changes[key] = _text(at, value)
        elif key == "quiet_hours":
            changes[key] = _quiet(at, value)
        else:
            raise ValueError(f"{where}: unknown key {key!r}")
    return replace(base, **changes)  # type: ignore[arg-type]


def parse_country_rules(data: Mapping[str, object], origin: str = "built-in countries.toml") -> CountryRules:
    """Validate decoded TOML: ``[default]`` and ``[XX]`` tables; raises ValueError naming the key."""
    default_body = data.get("default", {})
    default = _rule("default", "default", default_body, base=CountryRule("default"))
    if default.quiet_hours is not None:
        raise ValueError("default.quiet_hours: quiet hours are read in one country's time zone; set them per country")
    if default.fallback_sender is not None:
        raise ValueError("default.fallback_sender: a fallback number belongs to one country; set it per country")
    countries = {}
    for code, body in data.items():
        if code == "default":
            continue
        _country_code("countries", code)
        countries[code] = _rule(code, code, body, base=replace(default, country=code))
    return CountryRules(default, countries, origin)


def loads_country_rules(text: str | bytes, origin: str = "built-in countries.toml") -> CountryRules:
    try:
        decoded = text.decode("utf-8") if isinstance(text, bytes) else text
        data = tomllib.loads(decoded)
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ValueError(f"country rules are not valid TOML: {exc}") from exc
    return parse_country_rules(data, origin)


def load_default_country_rules() -> CountryRules:
    """The table shipped with Martinet (``martinet/data/countries.toml``)."""
    return loads_country_rules((files("martinet") / "data" / "countries.toml").read_bytes())
