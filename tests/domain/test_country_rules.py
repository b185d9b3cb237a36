"""Country rules as data: the shipped table, its validation, overrides, and the verdict per recipient."""

from __future__ import annotations

import pytest

from martinet.domain.country_rules import (
    CountryRules,
    QuietHoursData,
    Verdict,
    load_default_country_rules,
    parse_country_rules,
)
from martinet.domain.recipients import Recipient, parse_recipients
from martinet.services.destination_rules import DestinationRules

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def rules() -> CountryRules:
    return load_default_country_rules()


def test_united_states_and_canada_take_numeric_senders_only(rules: CountryRules) -> None:
    for country in ("US", "CA"):
        verdict = rules.check(country, "ACME", unicode=False)
        assert verdict == Verdict(f"{country}: alphanumeric senders are not delivered, numeric senders only", "sender")
        assert rules.check(country, "36180", unicode=False) == Verdict()
        assert rules.check(country, None, unicode=True) == Verdict()


def test_europe_takes_alphanumeric_senders_and_france_keeps_its_marketing_hours(rules: CountryRules) -> None:
    assert rules.check("FR", "ACME", unicode=True) == Verdict()
    assert rules.check("DE", "ACME", unicode=True) == Verdict()
    assert rules.rule("FR").quiet_hours == QuietHoursData("Europe/Paris", "08:00", "20:00", ("sunday",), True)
    assert rules.rule("FR").opt_out == "STOP 36180"
    assert rules.quiet_hours().keys() == {"FR"}


def test_registration_and_header_length(rules: CountryRules) -> None:
    assert rules.check("IN", "ACMEINC", unicode=False).problem == "IN: alphanumeric senders of at most 6 characters"
    assert (
        rules.check("IN", "ACME", unicode=False).problem
        == "IN: sender 'ACME' is not registered with the carriers there"
    )
    registered = rules.with_overrides({"IN": {"registered": ["acme"]}})
    assert registered.check("IN", "ACME", unicode=False) == Verdict()


def test_a_fallback_number_replaces_a_sender_the_country_refuses(rules: CountryRules) -> None:
    fallback = rules.with_overrides({"US": {"fallback_sender": "+1 (201) 555-0143"}})
    assert fallback.check("US", "ACME", unicode=False) == Verdict(sender="12015550143")
    assert fallback.sender_for("US", "ACME") == "12015550143"
    assert fallback.sender_for("US", "36180") == "36180"
    assert fallback.sender_for("FR", "ACME") == "ACME"
    assert fallback.sender_for(None, "ACME") == "ACME"


def test_unicode_refused_where_it_is_not_delivered() -> None:
    rules = parse_country_rules({"XK": {"unicode": False}})
    assert rules.check("XK", None, unicode=True) == Verdict("XK: Unicode messages are not delivered there", "text")
    assert rules.check("XK", None, unicode=False) == Verdict()


def test_default_applies_to_countries_without_a_table() -> None:
    rules = parse_country_rules({"default": {"alphanumeric": False}, "FR": {"alphanumeric": True}})
    assert (
        rules.check("VN", "ACME", unicode=False).problem
        == "VN: alphanumeric senders are not delivered, numeric senders only"
    )
    assert rules.check("FR", "ACME", unicode=False) == Verdict()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"UK": {}}, r"countries: unknown country code 'UK' \(the United Kingdom is 'GB'\)"),
        ({"US": {"alphanumeric": "no"}}, r"US\.alphanumeric: expected true or false"),
        ({"US": {"sender_max": 12}}, r"US\.sender_max: expected a whole number from 1 to 11"),
        ({"US": {"fallback_sender": "ACME"}}, r"US\.fallback_sender: expected a number"),
        ({"US": {"colour": "red"}}, r"US: unknown key 'colour'"),
        ({"FR": {"quiet_hours": {"timezone": "Europe/Paris", "opens": "8h"}}}, r"FR\.quiet_hours\.opens: '8h' is not HH:MM"),
        ({"FR": {"quiet_hours": {"timezone": "Europe/Paris", "closed_days": ["dimanche"]}}}, r"closed_days"),
        ({"default": {"quiet_hours": {"timezone": "Europe/Paris"}}}, r"set them per country"),
    ],
)  # fmt: skip
def test_bad_rules_name_the_key(data: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_country_rules(data)


def test_refusals_per_country_and_for_the_whole_send(rules: CountryRules) -> None:
    check = DestinationRules(rules)
    parsed = parse_recipients("0612345678,+12015550123,+12045550199")
    assert all(isinstance(r, Recipient) for r in parsed)
    mixed = check.refusals(parsed, "ACME", unicode=False)
    assert set(mixed.by_country) == {"US", "CA"} and mixed.all_refused is None
    only_us = check.refusals(parse_recipients("+12015550123"), "ACME", unicode=False)
    assert only_us.all_refused == ("sender", "US: alphanumeric senders are not delivered, numeric senders only")
    assert check.refusals(parsed, None, unicode=True).by_country == {}
