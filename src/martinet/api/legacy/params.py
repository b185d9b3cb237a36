"""Typed reading of smsmode parameters: each failure names the parameter, as clients need to fix their call."""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

from martinet.services.accept import InvalidParameter

#: The send service's names of a send's fields (`InvalidParameter.name`) as smsmode parameters; any other name
#: (one this door raised itself) is already one.
_PARAMETER_OF_FIELD = {
    "text": "message",
    "recipients": "numero",
    "classe": "classe_msg",
    "scheduled_at": "date_envoi",
    "sender": "emetteur",
    "ref_client": "refClient",
    "max_parts": "nbr_msg",
    "groups": "groupe",
    "rows": "fichier",
}

# ASCII digits only: `\d` and `int()` also take other scripts' digits (and `int()` underscores), which no client
# sends and which would make a number that is not the one shown.
_DATE = re.compile(r"([0-9]{2})([0-9]{2})([0-9]{4})-([0-9]{2}):([0-9]{2})")
# At most 18 digits: any such value fits the store's 64-bit integers (each parameter then has its own range).
_INTEGER = re.compile(r"[+-]?[0-9]{1,18}")


def smsmode_name(name: str) -> str:
    """The smsmode parameter a refusal names: `name` as the send service or this door gave it."""
    return _PARAMETER_OF_FIELD.get(name, name)


def integer(params: dict[str, str], name: str, default: int) -> int:
    raw = params.get(name.lower(), "").strip()
    if not raw:
        return default
    if _INTEGER.fullmatch(raw) is None:
        raise InvalidParameter(name, "not a number")
    return int(raw)


def group(params: dict[str, str]) -> tuple[str, ...]:
    """`groupe`: the name of one contact group of the account (none when absent)."""
    name = params.get("groupe", "").strip()
    return (name,) if name else ()


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
