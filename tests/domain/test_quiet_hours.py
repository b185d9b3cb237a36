"""Marketing quiet hours on real calendar dates: French law, DST change days, holidays and a custom rule."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from martinet.domain.quiet_hours import QuietHours, Window, window

pytestmark = pytest.mark.unit

PARIS = ZoneInfo("Europe/Paris")
BRUSSELS = ZoneInfo("Europe/Brussels")
EVERY_DAY = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]


def ms(local: str, zone: ZoneInfo = PARIS) -> int:
    """Unix ms of a local wall-clock time such as "2026-11-28 20:30"."""
    return utc_ms(dt.datetime.fromisoformat(local).replace(tzinfo=zone))


def utc_ms(at: dt.datetime) -> int:
    # Integer arithmetic: float timestamps can lose the last millisecond (…59.999).
    return (at - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)) // dt.timedelta(milliseconds=1)


def fr() -> Window:
    return window("FR", "Europe/Paris", "08:00", "20:00", ["sunday"], True)


def be() -> Window:
    return window("BE", "Europe/Brussels", "09:00", "19:00", ["saturday", "sunday"], False)


@pytest.fixture
def quiet() -> QuietHours:
    return QuietHours({"FR": fr(), "BE": be()})


@pytest.mark.parametrize(
    ("now", "opening"),
    [
        # Ordinary weekday: 08:00 opens, 19:59:59.999 still open, 20:00 closed.
        ("2026-11-24 07:59:59.999", "2026-11-24 08:00"),
        ("2026-11-24 08:00", None),
        ("2026-11-24 12:00", None),
        ("2026-11-24 19:59", None),
        ("2026-11-24 19:59:59.999", None),
        ("2026-11-24 20:00", "2026-11-25 08:00"),
        ("2026-11-24 23:59", "2026-11-25 08:00"),
        ("2026-11-25 00:00", "2026-11-25 08:00"),
        # Saturday evening waits over Sunday to Monday.
        ("2026-11-28 19:59", None),
        ("2026-11-28 20:30", "2026-11-30 08:00"),
        ("2026-11-29 12:00", "2026-11-30 08:00"),
        ("2026-11-30 08:00", None),
        # Christmas 2026 is a Friday: Thursday evening and all of Friday wait for Saturday.
        ("2026-12-24 20:00", "2026-12-26 08:00"),
        ("2026-12-25 10:00", "2026-12-26 08:00"),
        ("2026-12-26 08:00", None),
        # 2027-05-01 (Labour Day) is a Saturday, then Sunday: Friday evening waits until Monday 3 May.
        ("2027-04-30 21:00", "2027-05-03 08:00"),
        ("2027-05-01 09:00", "2027-05-03 08:00"),
        # Ascension, Thursday 2027-05-06.
        ("2027-05-05 20:00", "2027-05-07 08:00"),
        ("2027-05-06 12:00", "2027-05-07 08:00"),
        # Victory Day 2027-05-08 is a Saturday: Friday evening waits until Monday.
        ("2027-05-07 20:00", "2027-05-10 08:00"),
        # Whit Monday 2027-05-17 after Sunday: Saturday evening waits until Tuesday.
        ("2027-05-15 20:00", "2027-05-18 08:00"),
        ("2027-05-17 08:00", "2027-05-18 08:00"),
        # Spring forward 2027-03-28 is also Easter Sunday, and Easter Monday is a holiday.
        ("2027-03-27 20:00", "2027-03-30 08:00"),
        ("2027-03-28 03:30", "2027-03-30 08:00"),
        ("2027-03-30 07:59", "2027-03-30 08:00"),
        # Fall back 2026-10-25 is a Sunday; 08:00 CET on Monday.
        ("2026-10-24 20:00", "2026-10-26 08:00"),
        ("2026-10-25 02:30", "2026-10-26 08:00"),
        ("2026-10-26 08:00", None),
        # New Year's Day 2027 is a Friday.
        ("2026-12-31 20:00", "2027-01-02 08:00"),
    ],
)
def test_france(quiet: QuietHours, now: str, opening: str | None) -> None:
    expected = None if opening is None else ms(opening)
    assert quiet.next_opening("FR", ms(now)) == expected
    # A fresh instance (no cache) agrees with the possibly cached answer.
    assert QuietHours({"FR": fr()}).next_opening("FR", ms(now)) == expected


def test_dst_openings_are_local_eight_oclock(quiet: QuietHours) -> None:
    # 08:00 in Paris is 07:00 UTC in winter and 06:00 UTC in summer: the opening follows the local clock.
    assert quiet.next_opening("FR", ms("2027-03-26 21:00")) == utc_ms(dt.datetime(2027, 3, 27, 7, tzinfo=dt.UTC))
    assert quiet.next_opening("FR", ms("2027-03-29 21:00")) == utc_ms(dt.datetime(2027, 3, 30, 6, tzinfo=dt.UTC))
    assert quiet.next_opening("FR", ms("2026-10-23 21:00")) == utc_ms(dt.datetime(2026, 10, 24, 6, tzinfo=dt.UTC))
    assert quiet.next_opening("FR", ms("2026-10-24 21:00")) == utc_ms(dt.datetime(2026, 10, 26, 7, tzinfo=dt.UTC))


def test_dst_change_day_when_open_closes_at_local_time() -> None:
    # A rule open on Sundays, to see the change days themselves: 23 hours long in March, 25 in October.
    rule = QuietHours({"FR": window("FR", "Europe/Paris", "08:00", "20:00", [], False)})
    for day in ("2027-03-28", "2026-10-25"):
        assert rule.next_opening("FR", ms(f"{day} 07:59")) == ms(f"{day} 08:00")
        assert rule.next_opening("FR", ms(f"{day} 08:00")) is None
        assert rule.next_opening("FR", ms(f"{day} 19:59")) is None
        assert rule.next_opening("FR", ms(f"{day} 20:00")) is not None


def test_opening_inside_the_spring_forward_gap_lands_after_it() -> None:
    # 02:30 does not exist in Paris on 2027-03-28; the opening is read with the winter offset: 03:30 CEST.
    rule = QuietHours({"FR": window("FR", "Europe/Paris", "02:30", "20:00", [], False)})
    expected = utc_ms(dt.datetime(2027, 3, 28, 1, 30, tzinfo=dt.UTC))
    assert rule.next_opening("FR", ms("2027-03-28 01:00")) == expected
    assert rule.next_opening("FR", expected - 1) == expected
    assert rule.next_opening("FR", expected) is None


@pytest.mark.parametrize(
    ("now", "opening"),
    [
        ("2026-12-04 08:59", "2026-12-04 09:00"),  # Friday
        ("2026-12-04 09:00", None),
        ("2026-12-04 19:00", "2026-12-07 09:00"),  # Friday evening → Monday
        ("2026-12-05 12:00", "2026-12-07 09:00"),  # Saturday closed
        ("2026-12-25 12:00", None),  # Christmas, but this rule ignores holidays
    ],
)
def test_custom_rule(quiet: QuietHours, now: str, opening: str | None) -> None:
    expected = None if opening is None else ms(opening, BRUSSELS)
    assert quiet.next_opening("BE", ms(now, BRUSSELS)) == expected


@pytest.mark.parametrize("country", [None, "DE", "XX", "fr"])
def test_country_without_rule_is_never_held(quiet: QuietHours, country: str | None) -> None:
    assert quiet.next_opening(country, ms("2026-11-29 12:00")) is None  # a Sunday


def test_cache_answers_the_same_until_the_boundary_then_recomputes(quiet: QuietHours) -> None:
    open_at = ms("2026-11-28 08:00")  # Saturday
    close_at = ms("2026-11-28 20:00")
    assert quiet.next_opening("FR", open_at) is None
    assert quiet.next_opening("FR", open_at + 60_000) is None
    assert quiet.next_opening("FR", close_at - 1) is None
    monday = ms("2026-11-30 08:00")
    assert quiet.next_opening("FR", close_at) == monday
    assert quiet.next_opening("FR", ms("2026-11-29 12:00")) == monday
    assert quiet.next_opening("FR", monday - 1) == monday
    assert quiet.next_opening("FR", monday) is None
    # Going back in time (another caller's clock) is recomputed, not answered from the later interval.
    assert quiet.next_opening("FR", ms("2026-11-28 21:00")) == monday
    assert quiet.next_opening("FR", open_at) is None


def test_cache_is_per_country(quiet: QuietHours) -> None:
    saturday_noon = ms("2026-12-05 12:00")
    assert quiet.next_opening("FR", saturday_noon) is None
    assert quiet.next_opening("BE", saturday_noon) == ms("2026-12-07 09:00", BRUSSELS)
    assert quiet.next_opening("FR", saturday_noon) is None


@pytest.mark.parametrize(
    ("country", "now", "text"),
    [
        ("FR", "2026-11-29 12:00", "FR marketing closed (Sunday) until 2026-11-30 08:00 Europe/Paris"),
        ("FR", "2026-11-28 20:30", "FR marketing closed (from 20:00) until 2026-11-30 08:00 Europe/Paris"),
        ("FR", "2026-11-24 06:00", "FR marketing closed (before 08:00) until 2026-11-24 08:00 Europe/Paris"),
        ("FR", "2026-12-25 10:00", "FR marketing closed (Christmas Day) until 2026-12-26 08:00 Europe/Paris"),
        ("FR", "2026-11-24 12:00", "FR marketing open until 2026-11-24 20:00 Europe/Paris"),
        ("DE", "2026-11-24 12:00", "DE marketing not restricted (no quiet hours rule)"),
        (None, "2026-11-24 12:00", "marketing not restricted (destination country unknown)"),
    ],
)
def test_describe(quiet: QuietHours, country: str | None, now: str, text: str) -> None:
    assert quiet.describe(country, ms(now)) == text


def test_window_parses_configuration_text() -> None:
    assert fr() == Window(
        timezone="Europe/Paris",
        opens=dt.time(8),
        closes=dt.time(20),
        closed_weekdays=frozenset({6}),
        public_holidays=True,
        country="FR",
    )
    assert window("BE", "Europe/Brussels", "09:00", "19:00", ["Saturday", "SUNDAY"], False).closed_weekdays == {5, 6}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("FR", "Europe/Paris", "20:00", "08:00", [], True), "opens"),
        (("FR", "Europe/Paris", "08:00", "08:00", [], True), "opens"),
        (("FR", "Europe/Paris", "8h", "20:00", [], True), "HH:MM"),
        (("FR", "Europe/Paris", "08:00", "24:00", [], True), "HH:MM"),
        (("FR", "Europe/Paris", "08:00", "20:00", ["sundy"], True), "sundy"),
        (("FR", "Europe/Pariss", "08:00", "20:00", [], True), "Europe/Pariss"),
        (("FR", "Europe/Paris", "08:00", "20:00", EVERY_DAY, True), "every day"),
    ],
)
def test_invalid_window(args: tuple[str, str, str, str, list[str], bool], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        window(*args)


def test_unknown_holiday_country_is_refused_naming_it() -> None:
    with pytest.raises(ValueError, match="'XX'"):
        QuietHours({"XX": window("XX", "Europe/Paris", "08:00", "20:00", [], True)})
    # Without holidays the calendar is not needed, so any code is accepted.
    assert QuietHours({"XX": window("XX", "Europe/Paris", "08:00", "20:00", [], False)}).next_opening("XX", 0) == ms(
        "1970-01-01 08:00"
    )


def test_rule_filed_under_another_country_is_refused() -> None:
    with pytest.raises(ValueError, match="'BE'"):
        QuietHours({"FR": be()})
