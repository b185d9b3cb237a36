"""SMPP time fields (spec 7.1): ``schedule_delivery_time``, ``validity_period``, ``final_date``.

An absolute time (7.1.1) is ``YYMMDDhhmmsstnnp``: two-digit year, month, day, hours, minutes, seconds, tenths of
a second, the offset from UTC in quarter hours (00-48) and its direction (``+`` ahead of UTC, ``-`` behind).
A relative time (7.1.2) has the same digits read as a duration and ends in ``R``.  We always write UTC (offset
``00+``) so that nothing depends on the time zone of either end; we read any offset.
"""

from __future__ import annotations

import functools
import re
from datetime import UTC, datetime, timedelta
from typing import Final

__all__ = ["format_absolute_time", "parse_absolute_time", "unix_ms_to_absolute_time"]

_ABSOLUTE: Final = re.compile(r"^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d)(\d{2})([+-])$")
_MAX_QUARTERS: Final = 48


def format_absolute_time(moment: datetime) -> str:
    """``moment`` as an SMPP absolute time in UTC, e.g. ``260314093000000+``; truncated to the tenth of a second.

    Raises ValueError for a naive datetime (its meaning would depend on the host's time zone) and for years
    outside 2000-2099, which two digits cannot tell apart.
    """
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("an SMPP time needs an aware datetime")
    utc = moment.astimezone(UTC)
    if not 2000 <= utc.year <= 2099:
        raise ValueError(f"year {utc.year} cannot be written in an SMPP time")
    return f"{utc:%y%m%d%H%M%S}{utc.microsecond // 100_000}00+"


def unix_ms_to_absolute_time(unix_ms: int) -> str:
    """An instant in Unix milliseconds as an SMPP absolute time in UTC, truncated to the second (tenths ``0``).

    Truncating never moves the instant later: a validity period written this way ends no later than asked.
    """
    return _second_as_absolute_time(unix_ms // 1000)


@functools.lru_cache(maxsize=1024)
def _second_as_absolute_time(unix_seconds: int) -> str:
    """Cached: every part carries its message's validity period, and a campaign's messages share a few seconds."""
    return format_absolute_time(datetime.fromtimestamp(unix_seconds, UTC))


def parse_absolute_time(text: str) -> datetime:
    """An SMPP absolute time as an aware datetime in UTC; ValueError for anything else (a relative time too)."""
    match = _ABSOLUTE.match(text)
    if match is None:
        raise ValueError(f"not an SMPP absolute time: {text!r}")
    yy, mo, dd, hh, mi, ss, tenths, quarters, sign = match.groups()
    if int(quarters) > _MAX_QUARTERS:
        raise ValueError(f"UTC offset beyond 12 hours: {text!r}")
    offset = timedelta(minutes=15 * int(quarters))
    local = datetime(2000 + int(yy), int(mo), int(dd), int(hh), int(mi), int(ss), int(tenths) * 100_000, UTC)
    return local - offset if sign == "+" else local + offset
