"""Credits charged per voice call, by destination country: the `[voice]` table of the price table file.

A call is one charge whatever its length (the text is at most 160 characters, read in one call). `default`
prices every destination open for SMS; a country named in `[voice]` has its own price, which also opens it to
calls. Validated as strictly as the SMS prices (`martinet.domain.pricing`), naming the faulty entry.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from importlib.resources import files
from types import MappingProxyType

from martinet.domain.pricing import PriceTable, parse_price_table

__all__ = ["VoicePrices", "load_default_voice_prices", "parse_voice_prices"]


@dataclass(frozen=True)
class VoicePrices:
    """Credits per call: per country, else `default` for the countries `sms` opens; None: no calls."""

    sms: PriceTable
    countries: Mapping[str, Decimal]
    default: Decimal | None

    def __post_init__(self) -> None:
        object.__setattr__(self, "countries", MappingProxyType(dict(self.countries)))

    def price(self, country: str) -> Decimal | None:
        """Credits per call to `country`, or None when voice calls there are not open."""
        own = self.countries.get(country)
        if own is not None:
            return own
        if self.default is not None and self.sms.price(country) is not None:
            return self.default
        return None


def parse_voice_prices(data: Mapping[str, object], sms: PriceTable) -> VoicePrices:
    """The `[voice]` table of decoded price-table TOML (absent: no destination is open to calls)."""
    table = data.get("voice")
    if table is None:
        return VoicePrices(sms, {}, None)
    if not isinstance(table, Mapping):
        raise ValueError(f"price table: 'voice' must be a table, got {type(table).__name__}")
    default: Decimal | None = None
    countries: dict[str, Decimal] = {}
    rest = {key: value for key, value in table.items() if key != "default"}
    try:
        if "default" in table:
            default = parse_price_table({"prices": {"FR": table["default"]}}).prices["FR"]
    except ValueError as exc:
        raise ValueError(str(exc).replace("prices.FR", "voice.default")) from None
    if rest:
        try:
            countries = dict(parse_price_table({"prices": rest}).prices)
        except ValueError as exc:
            raise ValueError(str(exc).replace("prices.", "voice.")) from None
    return VoicePrices(sms, countries, default)


def load_default_voice_prices(sms: PriceTable) -> VoicePrices:
    """The `[voice]` table shipped with Martinet."""
    resource = files("martinet") / "data" / "prices.toml"
    return parse_voice_prices(tomllib.loads(resource.read_bytes().decode("utf-8")), sms)
