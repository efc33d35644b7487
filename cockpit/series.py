"""A stored (bucket, events) series, read the same way by every page: a bucket missing inside the
stored range counted 0 events, nothing before it is invented, and "now" is the last full minute."""

from __future__ import annotations

from collections.abc import Sequence

from cockpit.timeframe import MINUTE


def fill_gaps(series: Sequence[tuple[int, int]], step: int = MINUTE) -> list[tuple[int, int]]:
    """Buckets (minutes by default) between the first and last stored minute that stored nothing count 0 events.

    Before the first stored minute nothing is drawn: no data is not the same as zero traffic.
    """
    if not series:
        return []
    counts = dict(series)
    first, last = min(counts), max(counts)
    return [(ts, counts.get(ts, 0)) for ts in range(first, last + step, step)]


def rate_point(series: list[tuple[int, int]], now: int) -> tuple[int, int]:
    """(minute, events) of the last full minute: the one before `now`, which may still be filling.

    With only the latest minute stored there is no earlier one; that minute is shown then. A minute
    missing from a non-empty series stored no events: its rate is 0, not a guess.
    """
    counts = dict(series)
    if any(ts < now for ts in counts):
        return now - MINUTE, counts.get(now - MINUTE, 0)
    return now, counts.get(now, 0)


def peak_point(series: list[tuple[int, int]]) -> tuple[int, int]:
    """(minute, events) of the busiest minute; the earliest one on ties."""
    return max(series, key=lambda p: (p[1], -p[0])) if series else (0, 0)
