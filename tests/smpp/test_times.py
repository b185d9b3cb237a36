"""SMPP absolute times (spec 7.1.1): written in UTC, read with any offset."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from martinet.smpp import SubmitSm, decode, encode
from martinet.smpp.times import format_absolute_time, parse_absolute_time, unix_ms_to_absolute_time

pytestmark = pytest.mark.unit


def test_utc_is_written_with_offset_00_plus() -> None:
    moment = datetime(2026, 3, 14, 9, 30, 5, 730_000, UTC)
    assert format_absolute_time(moment) == "260314093005700+"


def test_another_zone_is_converted_to_utc() -> None:
    paris = timezone(timedelta(hours=2))
    assert format_absolute_time(datetime(2026, 7, 1, 0, 15, tzinfo=paris)) == "260630221500000+"


def test_unix_ms_truncates_to_the_second() -> None:
    instant = int(datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC).timestamp() * 1000) + 999
    assert unix_ms_to_absolute_time(instant) == "260102030405000+"  # never later than asked


def test_naive_and_out_of_range_moments_are_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        format_absolute_time(datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="year"):
        format_absolute_time(datetime(1999, 12, 31, tzinfo=UTC))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("260314093005700+", datetime(2026, 3, 14, 9, 30, 5, 700_000, UTC)),
        ("260314113005008+", datetime(2026, 3, 14, 9, 30, 5, tzinfo=UTC)),  # 8 quarters = 2 h ahead of UTC
        ("260314043005020-", datetime(2026, 3, 14, 9, 30, 5, tzinfo=UTC)),  # 5 h behind
    ],
)
def test_absolute_times_are_read_with_their_offset(text: str, expected: datetime) -> None:
    assert parse_absolute_time(text) == expected


@pytest.mark.parametrize("text", ["", "000001000000000R", "2603140930050+", "260314093005049+", "26031409300500a+"])
def test_what_is_not_an_absolute_time_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_absolute_time(text)


@given(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31), timezones=st.just(UTC)))
def test_round_trip_to_the_tenth(moment: datetime) -> None:
    text = format_absolute_time(moment)
    assert len(text) == 16
    assert parse_absolute_time(text) == moment.replace(microsecond=moment.microsecond // 100_000 * 100_000)


def test_a_validity_period_goes_through_the_codec() -> None:
    validity = unix_ms_to_absolute_time(1_773_480_605_000)  # 2026-03-14 09:30:05 UTC
    pdu = SubmitSm(sequence_number=1, destination_addr="33612345678", validity_period=validity)
    decoded = decode(encode(pdu))
    assert isinstance(decoded, SubmitSm) and decoded.validity_period == "260314093005000+"
