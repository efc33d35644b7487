"""Event-time windows for the cockpit, as epoch seconds.

The cockpit's "now" is the latest minute in the store, not the wall clock, so a replay of March 2022
looks live; every window here is derived from that minute. Beijing has no daylight saving time, so a
Beijing day is a fixed UTC+8 day.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from contracts.beijing import BEIJING

MINUTE = 60
HOUR = 3600
DAY = 86400
_OFFSET = 8 * HOUR


@dataclass(frozen=True)
class Windows:
    """Half-open [start, end) ranges around the event-time "now" (the start of the latest minute)."""

    now: int
    hour_start: int  # first of the 60 minutes ending with `now`
    day_start: int  # 00:00 Beijing of now's day

    @property
    def hour_end(self) -> int:
        return self.now + MINUTE

    @property
    def day_end(self) -> int:
        return self.day_start + DAY

    @property
    def previous_minute(self) -> int:
        return self.now - MINUTE


def beijing_day_start(ts: int) -> int:
    """Epoch seconds of 00:00 Beijing time on the day that contains `ts`."""
    return (ts + _OFFSET) // DAY * DAY - _OFFSET


def windows(now: int) -> Windows:
    now = now - now % MINUTE
    return Windows(now=now, hour_start=now - 59 * MINUTE, day_start=beijing_day_start(now))


def to_beijing(ts: int) -> datetime:
    """Naive Beijing wall time: Plotly draws naive datetimes as given, whatever the viewer's zone."""
    return datetime.fromtimestamp(ts, BEIJING).replace(tzinfo=None)


def fmt_minute(ts: int) -> str:
    return to_beijing(ts).strftime("%H:%M")


def fmt_datetime(ts: int) -> str:
    return to_beijing(ts).strftime("%Y-%m-%d %H:%M")


# ----------------------------------------------------------------------------------------------
# The viewer's chosen time range, resolved against the event-time "now".

RANGES: tuple[str, ...] = ("15m", "1h", "today", "7d", "custom")
DEFAULT_RANGE = "1h"
MAX_CUSTOM_DAYS = 92  # a quarter: longer spans belong to the hourly rollup, not the minute table


@dataclass(frozen=True)
class Span:
    """A half-open [start, end) range and the bucket width its line is drawn at."""

    start: int
    end: int
    step: int  # 60 up to a day (a minute line), 3600 beyond (an hour line: 7 days are 168 points)

    @property
    def days(self) -> float:
        return (self.end - self.start) / DAY


def parse_day(text: str | None) -> int | None:
    """'YYYY-MM-DD' (the date picker's value; a time part is ignored) -> 00:00 Beijing, or None."""
    if not text:
        return None
    try:
        day = datetime.strptime(text[:10], "%Y-%m-%d").replace(tzinfo=BEIJING)
    except ValueError:
        return None
    return int(day.timestamp())


def day_label(ts: int) -> str:
    return to_beijing(ts).strftime("%Y-%m-%d")


def range_span(kind: str, now: int, custom_start: str | None = None, custom_end: str | None = None) -> Span:
    """The span a range control names. Open ranges end after `now`'s minute (nothing is later).

    A custom range is whole Beijing days, first to last inclusive, clipped to `MAX_CUSTOM_DAYS`;
    an incomplete custom choice falls back to today rather than to an arbitrary span.
    """
    w = windows(now)
    if kind == "15m":
        return Span(w.now - 14 * MINUTE, w.hour_end, MINUTE)
    if kind == "7d":
        return Span(w.day_start - 6 * DAY, w.hour_end, HOUR)
    if kind == "custom":
        first, last = parse_day(custom_start), parse_day(custom_end)
        if first is not None and last is not None and last >= first:
            last = min(last, first + (MAX_CUSTOM_DAYS - 1) * DAY)
            end = last + DAY
            return Span(first, end, MINUTE if end - first <= DAY else HOUR)
        return Span(w.day_start, w.hour_end, MINUTE)
    if kind == "today":
        return Span(w.day_start, w.hour_end, MINUTE)
    return Span(w.hour_start, w.hour_end, MINUTE)  # "1h", and anything unknown
