"""Price table parsing and the packaged default table."""

from __future__ import annotations

import tomllib
from decimal import Decimal
from importlib.resources import files
from typing import Any

import phonenumbers
import pytest

from martinet.domain.pricing import (
    PriceTable,
    Quote,
    load_default_price_table,
    loads_price_table,
    parse_price_table,
)
from martinet.domain.recipients import Recipient, parse_recipients

pytestmark = pytest.mark.unit

OVERSEAS = ["RE", "GP", "MQ", "GF", "YT", "PM", "BL", "MF", "NC", "PF", "WF"]
COMMON = [
    "BE", "CH", "LU", "MC", "DE", "ES", "IT", "PT", "NL", "GB", "IE", "AT", "PL", "SE", "DK", "NO", "FI",
    "US", "CA", "MA", "DZ", "TN", "SN", "CI", "CM", "IL", "AE", "CN", "IN", "BR",
]  # fmt: skip


@pytest.fixture(scope="module")
def default_table() -> PriceTable:
    return load_default_price_table()


def test_default_table_prices_metropolitan_france_at_one_credit(default_table: PriceTable) -> None:
    assert default_table.price("FR") == Decimal("1")


@pytest.mark.parametrize("country", OVERSEAS)
def test_default_table_prices_every_overseas_territory(default_table: PriceTable, country: str) -> None:
    price = default_table.price(country)
    assert price is not None
    assert Decimal("3") <= price <= Decimal("5")


@pytest.mark.parametrize("country", COMMON)
def test_default_table_prices_common_destinations(default_table: PriceTable, country: str) -> None:
    price = default_table.price(country)
    assert price is not None
    assert Decimal("1.5") <= price <= Decimal("12")


def test_unpriced_destination_is_none(default_table: PriceTable) -> None:
    assert default_table.price("KP") is None
    assert default_table.price("XX") is None
    assert default_table.price("fr") is None  # codes are exact, as Recipient.country produces them


def test_default_table_holds_decimals_only(default_table: PriceTable) -> None:
    assert all(type(value) is Decimal for value in default_table.prices.values())


def test_default_table_file_documents_its_unit_and_refusal() -> None:
    text = (files("martinet") / "data" / "prices.toml").read_text(encoding="utf-8")
    assert "CREDITS PER SMS PART" in text
    assert "REFUSED" in text
    assert set(tomllib.loads(text)) == {"closed", "zones", "prices"}


def test_recipient_countries_of_the_default_table_line_up(default_table: PriceTable) -> None:
    numero = "0612345678,0692123456,0639401234,0690001234,0696201234,0694201234,32470123456,+41791234567"
    recipients = [r for r in parse_recipients(numero) if isinstance(r, Recipient)]
    assert len(recipients) == 8
    assert all(default_table.price(r.country) is not None for r in recipients)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1", Decimal("1")),
        ("1.5", Decimal("1.5")),
        (" 2.25 ", Decimal("2.25")),
        (2, Decimal("2")),
        (1.5, Decimal("1.5")),
        (1.1, Decimal("1.1")),  # via str(), not the binary approximation
        (Decimal("0.125"), Decimal("0.125")),
        ("0", Decimal("0")),
        ("1.500", Decimal("1.5")),
    ],
)
def test_prices_accept_strings_and_numbers(value: object, expected: Decimal) -> None:
    price = parse_price_table({"prices": {"FR": value}}).price("FR")
    assert price == expected
    assert type(price) is Decimal


def test_toml_text_and_bytes() -> None:
    text = '[prices]\nFR = "1"\nBE = 2.5\nRE = 3\n'
    expected = {"FR": Decimal("1"), "BE": Decimal("2.5"), "RE": Decimal("3")}
    assert dict(loads_price_table(text).prices) == expected
    assert dict(loads_price_table(text.encode()).prices) == expected


@pytest.mark.parametrize(
    ("prices", "message"),
    [
        ({"FR": "-1"}, r"prices\.FR: price '-1' is negative"),
        ({"FR": -0.5}, r"prices\.FR: price -0\.5 is negative"),
        ({"FR": "abc"}, r"prices\.FR: 'abc' is not a decimal number"),
        ({"FR": "1,5"}, r"prices\.FR: '1,5' is not a decimal number \(use a dot"),
        ({"FR": ""}, r"prices\.FR: '' is not a decimal number"),
        ({"FR": "NaN"}, r"prices\.FR: 'NaN' is not a finite number"),
        ({"FR": float("inf")}, r"prices\.FR: inf is not a finite number"),
        ({"FR": True}, r"prices\.FR: price must be a number or a decimal string, got bool"),
        ({"FR": [1]}, r"prices\.FR: price must be a number or a decimal string, got list"),
        ({"FR": {"price": 1}}, r"prices\.FR: price must be a number or a decimal string, got dict"),
        ({"FR": "1.0005"}, r"prices\.FR: price '1\.0005' has more than three decimals"),
        ({"XX": "1"}, r"prices\.XX: unknown country code 'XX'"),
        ({"UK": "1"}, r"prices\.UK: unknown country code 'UK' \(the United Kingdom is 'GB'\)"),
        ({"fr": "1"}, r"prices\.fr: country code must be two upper-case letters .*did you mean 'FR'"),
        ({"FRA": "1"}, r"prices\.FRA: country code must be two upper-case letters"),
        ({"FR": "1", "BE": "x"}, r"prices\.BE:"),
        ({1: "1"}, r"prices: key 1 is not a country code string"),
    ],
)
def test_bad_prices_name_the_entry(prices: dict[object, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_price_table({"prices": prices})


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({}, "no \\[zones.NAME\\] and no \\[prices\\], every destination would be refused"),
        ({"prices": "FR=1"}, "'prices' must be a table, got str"),
        ({"prices": {}}, "no \\[zones.NAME\\] and no \\[prices\\]"),
        ({"prices": {"FR": "1"}, "price": {"BE": "2"}}, "unknown top-level key\\(s\\) 'price'"),
    ],
)
def test_bad_table_shape(data: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_price_table(data)


def test_bad_toml_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="not valid TOML"):
        loads_price_table("[prices\nFR = 1")
    with pytest.raises(ValueError, match="not valid TOML"):
        loads_price_table(b"[prices]\nFR = '\xff'")
    with pytest.raises(ValueError, match=r"prices\.FR"):
        loads_price_table("[prices]\nFR = -1")


def test_table_is_read_only_and_detached_from_its_source() -> None:
    source = {"FR": Decimal("1")}
    table = PriceTable(source)
    source["FR"] = Decimal("99")
    assert table.price("FR") == Decimal("1")
    with pytest.raises(TypeError):
        table.prices["FR"] = Decimal("2")  # type: ignore[index]


def test_every_known_country_code_is_accepted() -> None:
    # Exactly the codes Recipient.country can take.
    prices = {code: "1" for code in phonenumbers.SUPPORTED_REGIONS}
    assert len(parse_price_table({"prices": prices}).prices) == len(phonenumbers.SUPPORTED_REGIONS)


# --- zones, closed destinations, the configuration's layers -----------------------------------------------


def test_every_region_libphonenumber_knows_is_priced_or_closed(default_table: PriceTable) -> None:
    for country in phonenumbers.SUPPORTED_REGIONS:
        quote = default_table.quote(country)
        assert (quote.price is None) == (country in default_table.closed), quote
        assert default_table.quote(country, channel="voice").price is not None or country == "KP"
    assert default_table.closed == {"KP"}


def test_every_region_is_listed_in_exactly_one_zone_of_the_default_table(default_table: PriceTable) -> None:
    listed = [c for zone in default_table.zones.values() for c in zone.countries]
    assert len(listed) == len(set(listed))
    assert set(listed) == set(phonenumbers.SUPPORTED_REGIONS) - {"KP"}


def test_quotes_say_where_the_price_comes_from(default_table: PriceTable) -> None:
    assert default_table.quote("VN").source == "zone asia of built-in prices.toml"
    assert default_table.quote("BR").source == "line in built-in prices.toml"
    assert default_table.quote("KP").source == "closed in built-in prices.toml"
    assert default_table.quote("VN", channel="voice").price == Decimal("4")


def test_a_region_listed_in_no_zone_gets_the_default_zone() -> None:
    table = parse_price_table(
        {"zones": {"fr": {"sms": "1", "countries": ["FR"]}, "rest": {"sms": "7", "default": True}}}
    )
    assert table.quote("FR").price == Decimal("1")
    assert table.quote("VN") == Quote("VN", Decimal("7"), "zone rest, the default zone of built-in prices.toml")
    assert table.price("XX") is None


def test_a_table_without_zones_is_a_closed_list() -> None:
    table = parse_price_table({"prices": {"FR": "1"}})
    assert table.price("BE") is None
    assert table.quote("BE").source == "no price in built-in prices.toml"


def test_configuration_layers_beat_the_file_and_accounts_beat_everything(default_table: PriceTable) -> None:
    table = default_table.with_overrides(
        prices={"VN": "2.5", "KP": "9"}, closed=["BR"], accounts={"bigco": {"VN": "1.2", "BR": "2"}}
    )
    assert table.quote("VN") == Quote("VN", Decimal("2.5"), "configuration override (pricing.prices)")
    assert table.quote("KP").price == Decimal("9")  # the configuration opens what the file closed
    assert table.quote("BR") == Quote("BR", None, "closed by the configuration (pricing.closed)")
    assert table.quote("VN", "bigco") == Quote("VN", Decimal("1.2"), "account bigco")
    assert table.price("BR", "bigco") == Decimal("2")
    assert table.price("BR", "other") is None
    assert table.price("FR", "bigco") == Decimal("1")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"prices": {"UK": "1"}}, r"pricing\.prices\.UK: unknown country code 'UK' \(the United Kingdom is 'GB'\)"),
        ({"closed": ["XX"]}, r"pricing\.closed\.XX: unknown country code"),
        ({"prices": {"FR": "1"}, "closed": ["FR"]}, r"FR both priced \(pricing\.prices\) and closed"),
        ({"accounts": {"bigco": {"FR": "-1"}}}, r"pricing\.accounts\.bigco\.FR: price '-1' is negative"),
        ({"voice": {"FR": "x"}}, r"pricing\.voice\.FR: 'x' is not a decimal number"),
    ],
)
def test_bad_overrides_name_the_setting(default_table: PriceTable, kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        default_table.with_overrides(**kwargs)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"zones": {"a": {"sms": "1", "countries": ["FR"]}, "b": {"sms": "2", "countries": ["FR"]}}},
         "FR is in both 'a' and 'b'"),
        ({"zones": {"a": {"countries": ["FR"]}}}, r"zones\.a: missing sms"),
        ({"zones": {"a": {"sms": "1", "price": "2"}}}, r"zones\.a: unknown key\(s\) 'price'"),
        ({"zones": {"A": {"sms": "1"}}}, r"zones\.A: a zone name is lower-case"),
        ({"zones": {"a": {"sms": "1", "default": True}, "b": {"sms": "1", "default": True}}},
         "only one zone may be the default"),
        ({"zones": {"a": {"sms": "1", "countries": ["FR", "FR"]}}}, r"zones\.a\.countries: listed twice: FR"),
        ({"prices": {"FR": "1"}, "closed": ["FR"]}, r"FR both priced \(\[prices\]\) and closed"),
        ({"prices": {"FR": "1"}, "closed": "FR"}, "'closed' must be a list"),
    ],
)  # fmt: skip
def test_bad_zones_name_the_entry(data: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_price_table(data)
