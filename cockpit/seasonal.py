"""The seasonal baseline: what the same time of day looked like on the same weekday of the previous
BASELINE_WEEKS weeks, as a median (the expected value) and a min..max range.

A holiday on a weekday or a make-up school day on a weekend (the alerting's calendar,
`Settings.school_calendar`) is compared with the latest days of its own kind instead, and an
ordinary day skips the weeks whose same weekday was not (`reference_offsets`): a make-up Sunday
read every province at twice its Sundays.

A week counts only where the store holds traffic: a week before the store's history is missing data,
not zero traffic. With fewer than MIN_BASELINE_WEEKS such weeks there is no baseline, and the map and
the national line say so instead of guessing. The map's surge ratio (`surge_ratios`) and the line's
band (`load_baseline`, `seasonal_band`) follow the same rule.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from cockpit.queries import Queries
from cockpit.series import fill_gaps
from cockpit.timeframe import DAY, MINUTE, Span
from contracts.beijing import BEIJING_OFFSET_S
from contracts.calendar import SchoolCalendar, is_weekday

BASELINE_WEEKS = 4
MIN_BASELINE_WEEKS = 2
WEEK = 7 * DAY


def surge_ratios(
    current: Mapping[str, int], history: Sequence[Mapping[str, int]], min_weeks: int = MIN_BASELINE_WEEKS
) -> dict[str, float]:
    """{code: current / baseline} for codes whose baseline (the median over the weeks with any
    traffic) is above zero; {} when fewer than `min_weeks` weeks stored traffic."""
    weeks = [h for h in history if any(n > 0 for n in h.values())]
    if len(weeks) < min_weeks:
        return {}
    codes = set(current).union(*weeks)
    out: dict[str, float] = {}
    for code in sorted(codes):
        base = statistics.median(int(h.get(code, 0)) for h in weeks)
        if base > 0:
            out[code] = int(current.get(code, 0)) / base
    return out


def reference_offsets(t: int, calendar: SchoolCalendar, weeks: int = BASELINE_WEEKS) -> list[int]:
    """Seconds back from `t` to the `weeks` days its window is compared with: the same weekday of
    earlier weeks that was a day of the same kind (school day or rest day) when `t`'s day is an
    ordinary one of its weekday, else the latest days of its kind (a holiday Wednesday against the
    last rest days, a make-up Sunday against the last school days). Nationwide days only."""
    day = (t + BEIJING_OFFSET_S) // DAY
    school = calendar.is_school_day(day)
    if school == is_weekday(day):  # an ordinary day: same weekday, same kind
        return [k * WEEK for k in range(1, 3 * weeks + 1) if calendar.is_school_day(day - 7 * k) == school][:weeks]
    return [d * DAY for d in range(1, 21 * weeks + 1) if calendar.is_school_day(day - d) == school][:weeks]


def load_baseline(q: Queries, span: Span, platform: str | None = None) -> list[list[tuple[int, int]]] | None:
    """The national line's seasonal history: the same span (same Beijing time of day, same weekday)
    one, two, ... BASELINE_WEEKS weeks earlier, one `series` per week through the shared cache, its
    buckets moved forward by its week onto the span's. `seasonal_band` turns it into the median and
    min..max band, needing MIN_BASELINE_WEEKS weeks with data per bucket, as the map does.

    Minute lines (up to a day) read four more spans of minute rows; hour lines (7 days, custom
    ranges) read the hourly rollup (`Queries.series`), so a 7-day band costs ~700 hour rows.
    """
    # a span of up to a day is compared by the kind of its last day (what the wall screen shows now)
    back = (
        reference_offsets(span.end - 1, q.calendar)
        if span.end - span.start <= DAY
        else [k * WEEK for k in range(1, BASELINE_WEEKS + 1)]
    )
    return [
        [(ts + b, n) for ts, n in q.series(span.start - b, span.end - b, span.step, platform=platform)] for b in back
    ]


@dataclass(frozen=True)
class BandPoint:
    """The seasonal baseline of one drawn bucket: the median and the range of the earlier weeks."""

    ts: int  # the bucket of the drawn span (epoch s)
    expected: float  # median over the weeks with data for this bucket
    low: int  # smallest of those weeks
    high: int  # largest of those weeks
    weeks: int  # how many weeks had data for this bucket


def seasonal_band(
    weeks: Sequence[Sequence[tuple[int, int]]], step: int = MINUTE, min_weeks: int = MIN_BASELINE_WEEKS
) -> list[BandPoint]:
    """Per bucket, the seasonal baseline from the same span one, two, ... weeks earlier.

    `weeks` holds one series per week back, (bucket, events) with buckets already moved forward by
    their week onto the drawn span's buckets. A week has data for a bucket when the bucket lies
    between that week's first and last stored bucket (`fill_gaps`: an empty bucket inside them
    stored 0 events); outside them the store held nothing yet, which is missing data, not zero
    traffic. A bucket with fewer than `min_weeks` such weeks gets no point: no band is drawn there.

    The expected value is the median of those weeks, as for the surge map. The band is their full
    range, min..max, not the interquartile range: with two to four weeks per bucket quartiles are
    interpolations between the same few values (with two weeks they are not defined), whereas
    min..max reads plainly on the wall screen as "what the same time looked like in recent weeks".
    """
    stored = [dict(fill_gaps(w, step)) for w in weeks]
    out = []
    for ts in sorted(set().union(*stored)):
        values = [w[ts] for w in stored if ts in w]
        if len(values) >= min_weeks:
            out.append(BandPoint(ts, float(statistics.median(values)), min(values), max(values), len(values)))
    return out
