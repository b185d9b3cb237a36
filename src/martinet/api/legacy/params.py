"""Typed reading of smsmode parameters: each failure names the parameter, as clients need to fix their call."""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

from martinet.services.accept import InvalidParameter

_DATE = re.compile(r"(\d{2})(\d{2})(\d{4})-(\d{2}):(\d{2})")


def integer(params: dict[str, str], name: str, default: int) -> int:
    raw = params.get(name.lower(), "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise InvalidParameter(name, "not a number") from None


def optional_integer(params: dict[str, str], name: str) -> int | None:
    """An integer parameter that has no default: None when absent, so the rules apply their own."""
    if not params.get(name.lower(), "").strip():
        return None
    return integer(params, name, 0)


def schedule(params: dict[str, str], timezone: str) -> int | None:
    """`date_envoi` (`ddMMyyyy-HH:mm`, in the account's time zone) as epoch milliseconds, or None."""
    return date(params, "date_envoi", timezone)


def date(params: dict[str, str], name: str, timezone: str) -> int | None:
    """A `ddMMyyyy-HH:mm` parameter, in the account's time zone, as epoch milliseconds, or None when absent."""
    raw = params.get(name.lower(), "").strip()
    if not raw:
        return None
    match = _DATE.fullmatch(raw)
    if match is None:
        raise InvalidParameter(name, "expected ddMMyyyy-HH:mm")
    day, month, year, hour, minute = (int(group) for group in match.groups())
    try:
        moment = datetime(year, month, day, hour, minute, tzinfo=ZoneInfo(timezone))
    except ValueError:
        raise InvalidParameter(name, "not a valid date") from None
    return int(moment.timestamp() * 1000)


def format_list_date(epoch_ms: int, timezone: str) -> str:
    return datetime.fromtimestamp(epoch_ms / 1000, ZoneInfo(timezone)).strftime("%d/%m/%Y %H:%M")


def format_reply_date(epoch_ms: int, timezone: str) -> str:
    return datetime.fromtimestamp(epoch_ms / 1000, ZoneInfo(timezone)).strftime("%d%m%Y-%H:%M")
