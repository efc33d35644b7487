"""The surge ratio of the map and the wall screen's rotation: each division's events over the last
SURGE_WINDOW of full minutes against its baseline.

The baseline is seasonal (`cockpit.seasonal`: the same window on the same weekday of earlier weeks,
or on the latest days of its kind for a holiday or a make-up day)
when enough weeks are stored, else each division's usual share of national traffic (day one).
"""

from __future__ import annotations

from collections.abc import Mapping

from cockpit.queries import Queries
from cockpit.seasonal import reference_offsets, surge_ratios
from cockpit.series import rate_point
from cockpit.timeframe import DAY, HOUR, MINUTE, windows

SURGE_WINDOW = 15 * MINUTE
SHARE_DAYS = 7  # the "usual share" baseline: the province's share over the days before the window
MIN_SHARE_EVENTS = 20  # a division with fewer events in the window is not judged (noise)


def surge_window(rate_minute: int) -> tuple[int, int]:
    """[start, end) of the surge window: SURGE_WINDOW of full minutes ending with `rate_minute`."""
    end = rate_minute + MINUTE
    return end - SURGE_WINDOW, end


def share_ratios(
    current: Mapping[str, int], usual: Mapping[str, int], min_events: int = MIN_SHARE_EVENTS
) -> dict[str, float]:
    """{code: its share of national events now / its usual share}: the baseline of day one, when
    no earlier week is stored. {} without usual traffic or current traffic."""
    now_total, usual_total = sum(current.values()), sum(usual.values())
    if now_total <= 0 or usual_total <= 0:
        return {}
    out: dict[str, float] = {}
    for code in sorted(set(current) | set(usual)):
        base = usual.get(code, 0) / usual_total
        n = int(current.get(code, 0))
        if base > 0 and (n >= min_events or usual.get(code, 0) >= min_events):
            out[code] = (n / now_total) / base
    return out


def load_surge_basis(q: Queries, now: int, platform: str | None = None) -> tuple[dict[str, float], str]:
    """(ratios, basis): against the same slot of earlier weeks when MIN_BASELINE_WEEKS are stored
    ("seasonal"), else against each division's usual share of national traffic over the
    SHARE_DAYS before the window, from the hourly rollup ("share"); ({}, "none") without either."""
    w = windows(now)
    rate_minute, _ = rate_point(q.series(w.hour_start, w.hour_end, platform=platform), w.now)
    start, end = surge_window(rate_minute)
    current = q.total_by_province(start, end, platform=platform)
    history = [q.total_by_province(start - b, end - b, platform=platform) for b in reference_offsets(start, q.calendar)]
    seasonal = surge_ratios(current, history)
    if seasonal:
        return seasonal, "seasonal"
    hour = start - start % HOUR
    usual = q.daily_by_province(hour - SHARE_DAYS * DAY, hour, platform=platform) if hour > 0 else {}
    if not usual:  # day one's first hour: the hours of the same day before the window's minutes
        usual = q.total_by_province(max(0, start - SHARE_DAYS * DAY), start, platform=platform)
    shares = share_ratios(current, usual)
    return (shares, "share") if shares else ({}, "none")


def load_surge(q: Queries, now: int, platform: str | None = None) -> dict[str, float]:
    """The surge ratio of every division with a baseline (see `load_surge_basis`), computed once
    per event-time minute: its window ends with the last full minute, so it holds all minute."""
    return q.memo(("surge", now, platform), lambda: load_surge_basis(q, now, platform))[0]


def surging(ratios: Mapping[str, float], threshold: float) -> list[str]:
    """Divisions at or above `threshold`, the highest ratio first (ties by code)."""
    return [c for c, r in sorted(ratios.items(), key=lambda p: (-p[1], p[0])) if r >= threshold]
