"""Which table answers a range: whole Beijing days from `clicks_day`, whole hours from `clicks_hour`,
the ragged edges from `clicks_minute`.

A year of history must not slow the cockpit: a total over 90 days read from minutes scans ~50 M
rows, from days ~0.1 M. The rollups are filled by materialized views from the same inserts as the
minute table, so for whole buckets they hold the same sums (tested on both engines), and they
outlive the minute table's retention. `split` cuts [start, end) into the coarsest pieces; the
helpers run one named query per piece through `run(name, **params)` (the cockpit passes its cached
runner, `sinks.queries.run` bound to a store works too) and add the pieces up.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Final, Literal

Grain = Literal["minute", "hour", "day"]
Runner = Callable[..., Sequence[Sequence[Any]]]

MINUTE, HOUR, DAY = 60, 3600, 86400
BEIJING_OFFSET: Final = 8 * HOUR
STEP: Final[dict[Grain, int]] = {"minute": MINUTE, "hour": HOUR, "day": DAY}
SUFFIX: Final[dict[Grain, str]] = {"minute": "", "hour": "_hours", "day": "_days"}
BY: Final = ("platform", "province", "section")


def _floor(ts: int, grain: Grain) -> int:
    off = BEIJING_OFFSET if grain == "day" else 0
    return (ts + off) // STEP[grain] * STEP[grain] - off


def _ceil(ts: int, grain: Grain) -> int:
    f = _floor(ts, grain)
    return f if f == ts else f + STEP[grain]


def split(start: int, end: int, coarsest: Grain = "day") -> list[tuple[Grain, int, int]]:
    """[start, end) as (grain, a, b) pieces in time order, each as coarse as its bounds allow."""
    order: list[Grain] = ["day", "hour", "minute"]
    grains = order[order.index(coarsest) :]

    def cut(a: int, b: int, i: int) -> list[tuple[Grain, int, int]]:
        if a >= b:
            return []
        g = grains[i]
        if g == "minute":
            return [("minute", a, b)]
        lo, hi = _ceil(a, g), _floor(b, g)
        if hi <= lo:
            return cut(a, b, i + 1)
        return [*cut(a, lo, i + 1), (g, lo, hi), *cut(hi, b, i + 1)]

    return cut(start, end, 0)


def coarsest_for(step: int) -> Grain:
    """The coarsest grain whose buckets tile a bucket of `step` seconds."""
    if step % DAY == 0:
        return "day"
    if step % HOUR == 0:
        return "hour"
    return "minute"


def total(run: Runner, start: int, end: int, **filters: Any) -> int:
    """Events in [start, end), optionally for one platform / province."""
    out = 0
    for grain, a, b in split(start, end):
        rows = run(f"total_between{SUFFIX[grain]}", start=a, end=b, **filters)
        out += int(rows[0][0] or 0) if rows else 0
    return out


def total_by(run: Runner, by: str, start: int, end: int, **filters: Any) -> dict[str, int]:
    """Events in [start, end) per platform, province or section."""
    if by not in BY:
        raise ValueError(f"total_by: {by!r} is not one of {BY}")
    out: dict[str, int] = {}
    for grain, a, b in split(start, end):
        for code, n in run(f"total_by_{by}{SUFFIX[grain]}", start=a, end=b, **filters):
            out[str(code)] = out.get(str(code), 0) + int(n)
    return out


def bucket(ts: int, step: int) -> int:
    """Start of the `step`-second bucket holding ts (whole days are Beijing days)."""
    off = BEIJING_OFFSET if step % DAY == 0 else 0
    return (ts + off) // step * step - off


def series(run: Runner, start: int, end: int, step: int, **filters: Any) -> list[tuple[int, int]]:
    """(bucket start, events) for buckets of `step` seconds holding rows; empty buckets are absent."""
    sums: dict[int, int] = {}
    for grain, a, b in split(start, end, coarsest_for(step)):
        if grain == "day":
            rows = run("series_days", start=a, end=b, **filters)
        else:
            rows = run(f"series{SUFFIX[grain]}", start=a, end=b, step=STEP[grain] if step >= HOUR else step, **filters)
        for ts, n in rows:
            k = bucket(int(ts), step)
            sums[k] = sums.get(k, 0) + int(n)
    return sorted(sums.items())
