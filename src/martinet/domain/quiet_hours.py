"""Marketing quiet hours: when commercial SMS may reach a country.

French law forbids commercial SMS between 20:00 and 08:00, on Sundays and on public holidays; other countries
have similar rules. A marketing message that falls outside its country's window is not refused: it waits for the
next opening, so the dispatcher needs the instant of that opening, not just a yes or no.

The dispatcher asks for every marketing message it claims, so :meth:`QuietHours.next_opening` remembers, per
country, the interval over which its answer cannot change and answers from it with one dict lookup and one
comparison; the calendar (time zones, holidays) is consulted only when the clock leaves that interval.

Time zones come from :mod:`zoneinfo` so that openings on daylight-saving change days fall at the local hour the
law speaks of, and holidays from the ``holidays`` package, whose calendars (Easter-based feasts, one-off
holidays) are maintained upstream rather than re-derived here.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final, NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays

__all__ = ["QuietHours", "Window", "window"]

_WEEKDAYS: Final[tuple[str, ...]] = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_HH_MM: Final[re.Pattern[str]] = re.compile(r"([01]\d|2[0-3]):([0-5]\d)")
_EPOCH: Final[dt.datetime] = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_ONE_MS: Final[dt.timedelta] = dt.timedelta(milliseconds=1)
# More than a year of consecutive closed days can only be a calendar bug; stop rather than loop for ever.
_MAX_CLOSED_DAYS: Final[int] = 400


@dataclass(frozen=True)
class Window:
    """The hours during which marketing may reach one country, read in that country's time zone.

    Validated on construction so that a bad rule stops the platform at start-up instead of holding, or
    releasing, messages wrongly at run time.
    """

    timezone: str
    opens: dt.time
    closes: dt.time
    closed_weekdays: frozenset[int]
    public_holidays: bool
    country: str

    def __post_init__(self) -> None:
        if self.opens >= self.closes:
            raise ValueError(
                f"quiet hours {self.country}: opens ({self.opens:%H:%M}) must be before closes ({self.closes:%H:%M})"
            )
        if not self.closed_weekdays <= frozenset(range(7)):
            raise ValueError(f"quiet hours {self.country}: weekdays are 0 (Monday) to 6 (Sunday)")
        if len(self.closed_weekdays) == 7:
            # Messages would wait for an opening that never comes.
            raise ValueError(f"quiet hours {self.country}: every day of the week is closed")
        _zone(self)


def window(
    country: str, timezone: str, opens: str, closes: str, closed_days: Sequence[str], public_holidays: bool
) -> Window:
    """Build a :class:`Window` from configuration text ("HH:MM", weekday names), keeping config out of domain."""
    return Window(
        timezone=timezone,
        opens=_parse_hh_mm(country, "opens", opens),
        closes=_parse_hh_mm(country, "closes", closes),
        closed_weekdays=frozenset(_parse_weekday(country, day) for day in closed_days),
        public_holidays=public_holidays,
        country=country,
    )


class _Span(NamedTuple):
    """An interval [start_ms, until_ms) over which next_opening's answer is ``opening_ms``."""

    start_ms: int
    until_ms: int
    opening_ms: int | None


class QuietHours:
    """Answers "may marketing reach this country now, and if not, when?" for a set of country windows."""

    def __init__(self, windows: Mapping[str, Window]) -> None:
        for country, rule in windows.items():
            if rule.country != country:
                raise ValueError(f"quiet hours: the rule under {country!r} is for {rule.country!r}")
        self._windows: dict[str, Window] = dict(windows)
        # Built once per country: loading a calendar is far slower than looking a date up in it.
        self._holidays: dict[str, holidays.HolidayBase] = {
            country: _holiday_calendar(country) for country, rule in windows.items() if rule.public_holidays
        }
        self._spans: dict[str, _Span] = {}

    def next_opening(self, country: str | None, now_ms: int) -> int | None:
        """None when marketing to ``country`` may go at ``now_ms``, else the Unix ms of the next opening.

        A country without a rule (or an unknown one) is never held: quiet hours are a legal restriction that
        applies only where it was configured.
        """
        if country is None:
            return None
        span = self._spans.get(country)
        if span is not None and span.start_ms <= now_ms < span.until_ms:
            return span.opening_ms
        rule = self._windows.get(country)
        if rule is None:
            return None
        span = self._span(rule, now_ms)
        self._spans[country] = span
        return span.opening_ms

    def describe(self, country: str | None, now_ms: int) -> str:
        """A short reason for logs and status history, e.g. "FR marketing closed (Sunday) until …"."""
        if country is None:
            return "marketing not restricted (destination country unknown)"
        rule = self._windows.get(country)
        if rule is None:
            return f"{country} marketing not restricted (no quiet hours rule)"
        opening_ms = self.next_opening(country, now_ms)
        if opening_ms is None:
            closing = _local(rule, self._spans[country].until_ms)
            return f"{country} marketing open until {closing:%Y-%m-%d %H:%M} {rule.timezone}"
        opening = _local(rule, opening_ms)
        reason = self._closed_reason(rule, _local(rule, now_ms))
        return f"{country} marketing closed ({reason}) until {opening:%Y-%m-%d %H:%M} {rule.timezone}"

    def _span(self, rule: Window, now_ms: int) -> _Span:
        """The answer at ``now_ms`` and how long it holds: until closing if open, until the opening if not."""
        today = _local(rule, now_ms).date()
        if self._is_open_day(rule, today):
            opens_ms = _instant_ms(rule, today, rule.opens)
            closes_ms = _instant_ms(rule, today, rule.closes)
            if opens_ms <= now_ms < closes_ms:
                return _Span(now_ms, closes_ms, None)
            if now_ms < opens_ms:
                return _Span(now_ms, opens_ms, opens_ms)
        opening_ms = _instant_ms(rule, self._next_open_day(rule, today), rule.opens)
        return _Span(now_ms, opening_ms, opening_ms)

    def _is_open_day(self, rule: Window, day: dt.date) -> bool:
        return day.weekday() not in rule.closed_weekdays and self._holiday(rule, day) is None

    def _holiday(self, rule: Window, day: dt.date) -> str | None:
        calendar = self._holidays.get(rule.country)
        return None if calendar is None else calendar.get(day)

    def _next_open_day(self, rule: Window, after: dt.date) -> dt.date:
        day = after
        for _ in range(_MAX_CLOSED_DAYS):
            day += dt.timedelta(days=1)
            if self._is_open_day(rule, day):
                return day
        raise RuntimeError(f"quiet hours {rule.country}: no open day within {_MAX_CLOSED_DAYS} days of {after}")

    def _closed_reason(self, rule: Window, local: dt.datetime) -> str:
        """Why ``local`` is closed, naming the day's own reason first since it is the one a reader can check."""
        holiday = self._holiday(rule, local.date())
        if holiday is not None:
            return holiday
        if local.weekday() in rule.closed_weekdays:
            return _WEEKDAYS[local.weekday()].capitalize()
        if local.time() < rule.opens:
            return f"before {rule.opens:%H:%M}"
        return f"from {rule.closes:%H:%M}"


def _parse_hh_mm(country: str, name: str, text: str) -> dt.time:
    match = _HH_MM.fullmatch(text)
    if match is None:
        raise ValueError(f"quiet hours {country}: {name} {text!r} is not HH:MM")
    return dt.time(int(match[1]), int(match[2]))


def _parse_weekday(country: str, name: str) -> int:
    try:
        return _WEEKDAYS.index(name.lower())
    except ValueError:
        raise ValueError(f"quiet hours {country}: unknown weekday {name!r}") from None


def _zone(rule: Window) -> ZoneInfo:
    try:
        return ZoneInfo(rule.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"quiet hours {rule.country}: unknown time zone {rule.timezone!r}") from None


def _holiday_calendar(country: str) -> holidays.HolidayBase:
    """The country's public holidays, named in English whatever the process locale, for stable log text."""
    try:
        return holidays.country_holidays(country, language="en_US")
    except NotImplementedError:
        raise ValueError(f"quiet hours {country}: no public holiday calendar for country {country!r}") from None


def _local(rule: Window, at_ms: int) -> dt.datetime:
    # Integer arithmetic, not fromtimestamp(ms / 1000): a float could land a millisecond off a boundary.
    return (_EPOCH + at_ms * _ONE_MS).astimezone(_zone(rule))


def _instant_ms(rule: Window, day: dt.date, at: dt.time) -> int:
    """Unix ms of wall-clock ``at`` on ``day`` in the rule's zone (a time skipped by DST maps just after the gap)."""
    return (dt.datetime.combine(day, at, tzinfo=_zone(rule)) - _EPOCH) // _ONE_MS
