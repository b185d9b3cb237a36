"""Credits charged per SMS part, by destination country.

The table is data that operators edit (``data/prices.toml``), so it is validated strictly when loaded: a
typo such as ``FR = "1,5"`` or ``UK = "2"`` must stop the platform at start-up with a message naming the
line, not surface later as a wrong bill or a silently refused country. A destination without a price is
refused per recipient by the caller, which is why :meth:`PriceTable.price` returns None instead of a default.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from importlib.resources import files
from types import MappingProxyType
from typing import Final

import phonenumbers

__all__ = ["PriceTable", "load_default_price_table", "loads_price_table", "parse_price_table"]

# Country codes a price can usefully be given for: the regions libphonenumber can report for a number,
# i.e. exactly the values ``Recipient.country`` takes. Anything else can never match a recipient.
_KNOWN_COUNTRIES: Final[frozenset[str]] = frozenset(phonenumbers.SUPPORTED_REGIONS)
_COUNTRY_CODE: Final[re.Pattern[str]] = re.compile(r"[A-Z]{2}")

# The ledger counts thousandths of a credit; a finer price could not be charged exactly.
_MILLI: Final[Decimal] = Decimal(1000)


@dataclass(frozen=True)
class PriceTable:
    """Credits per part by destination; copied read-only on build so a shared table cannot drift."""

    prices: Mapping[str, Decimal]

    def __post_init__(self) -> None:
        object.__setattr__(self, "prices", MappingProxyType(dict(self.prices)))

    def price(self, country: str) -> Decimal | None:
        """Credits per part to ``country``, or None when the destination is not open for sending."""
        return self.prices.get(country)


def _country(key: object) -> str:
    if not isinstance(key, str):
        raise ValueError(f"prices: key {key!r} is not a country code string")
    if _COUNTRY_CODE.fullmatch(key) is None:
        hint = f" (did you mean {key.upper()!r}?)" if key.upper() in _KNOWN_COUNTRIES else ""
        raise ValueError(f"prices.{key}: country code must be two upper-case letters (ISO 3166-1 alpha-2){hint}")
    if key not in _KNOWN_COUNTRIES:
        hint = " (the United Kingdom is 'GB')" if key == "UK" else ""
        raise ValueError(f"prices.{key}: unknown country code {key!r}{hint}")
    return key


def _credits(key: str, value: object) -> Decimal:
    # bool is an int subclass: `FR = true` must not become 1 credit.
    if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
        raise ValueError(
            f"prices.{key}: price must be a number or a decimal string, got {type(value).__name__} {value!r}"
        )
    # Floats go through str() so 1.1 is Decimal("1.1"), not its binary approximation.
    text = value.strip() if isinstance(value, str) else str(value)
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise ValueError(f'prices.{key}: {value!r} is not a decimal number (use a dot: "1.5")') from None
    if not amount.is_finite():
        raise ValueError(f"prices.{key}: {value!r} is not a finite number")
    if amount < 0:
        raise ValueError(f"prices.{key}: price {value!r} is negative")
    scaled = amount * _MILLI
    if scaled != scaled.to_integral_value():
        raise ValueError(f"prices.{key}: price {value!r} has more than three decimals")
    return amount


def parse_price_table(data: Mapping[str, object]) -> PriceTable:
    """Build a table from decoded TOML (``{"prices": {"FR": "1", ...}}``), refusing anything doubtful.

    Raises ValueError naming the offending entry: unknown top-level key, missing or empty ``[prices]``,
    bad country code, non-numeric, non-finite, negative or sub-millicredit price.
    """
    # [voice] holds the prices of voice calls (martinet.domain.voice_pricing), read beside this table.
    unknown = sorted(str(key) for key in data if key not in ("prices", "voice"))
    if unknown:
        raise ValueError(
            f"price table: unknown top-level key(s) {', '.join(map(repr, unknown))}; only [prices] and [voice]"
        )
    table = data.get("prices")
    if table is None:
        raise ValueError("price table: missing [prices] table")
    if not isinstance(table, Mapping):
        raise ValueError(f"price table: 'prices' must be a table, got {type(table).__name__}")
    if not table:
        raise ValueError("price table: [prices] is empty, every destination would be refused")
    prices: dict[str, Decimal] = {}
    for key, value in table.items():
        country = _country(key)
        prices[country] = _credits(country, value)
    return PriceTable(prices)


def loads_price_table(text: str | bytes) -> PriceTable:
    """Parse the TOML text of a price table; the caller does the reading so this stays free of I/O."""
    try:
        decoded = text.decode("utf-8") if isinstance(text, bytes) else text
        data = tomllib.loads(decoded)
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ValueError(f"price table is not valid TOML: {exc}") from exc
    return parse_price_table(data)


def load_default_price_table() -> PriceTable:
    """The table shipped with Martinet, used until an operator provides their own."""
    resource = files("martinet") / "data" / "prices.toml"
    return loads_price_table(resource.read_bytes())
