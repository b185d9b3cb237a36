"""`date_envoi` at the changes of daylight saving time, in the account's time zone (docs/compatibility.md): a
time the clocks skip is read with the offset before the change (an hour later on the wall), a time they pass
twice is its first occurrence."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from martinet.api.legacy.params import format_list_date, schedule

pytestmark = pytest.mark.unit


def _utc(params: dict[str, str]) -> datetime:
    at = schedule(params, "Europe/Paris")
    assert at is not None
    return datetime.fromtimestamp(at / 1000, UTC)


def test_a_time_the_clocks_skip_is_read_an_hour_later_on_the_wall() -> None:
    at = _utc({"date_envoi": "28032027-02:30"})  # Paris goes from 02:00 to 03:00 that night
    assert at == datetime(2027, 3, 28, 1, 30, tzinfo=UTC)
    assert format_list_date(int(at.timestamp() * 1000), "Europe/Paris") == "28/03/2027 03:30"


def test_a_time_the_clocks_pass_twice_is_its_first_occurrence() -> None:
    assert _utc({"date_envoi": "31102027-02:30"}) == datetime(2027, 10, 31, 0, 30, tzinfo=UTC)  # still summer time
    assert _utc({"date_envoi": "31102027-03:30"}) == datetime(2027, 10, 31, 2, 30, tzinfo=UTC)
