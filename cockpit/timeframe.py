"""Event-time windows for the cockpit, as epoch seconds.

The cockpit's "now" is the latest minute in the store, not the wall clock, so a replay of March 2022
looks live; every window here is derived from that minute. Beijing has no daylight saving time, so a
Beijing day is a fixed UTC+8 day.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

BEIJING = timezone(timedelta(hours=8), "Asia/Shanghai")
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
