"""Capacity: utilisation levels now, and when a trend-plus-season forecast crosses capacity.

Why a forecast and not only a utilisation threshold: during a closure wave traffic grows day over
day *and* follows the daily curve, so "85 % now" at 22:00 says little about 09:30 tomorrow. The
forecast here is deliberately simple and explainable to an operator:

    rate(t) ~ (a + b t) x season(time of day)

fitted on recent history by alternating least squares (the linear trend on deseasonalised values,
the season as the mean ratio of value to trend per slot), then scanned forward for the first time it
reaches capacity. An alert is due when that time is nearer than the lead time operators need to
add capacity. Pure functions over arrays; the engine calls them once a minute per platform.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from contracts.alerts import Severity
from contracts.beijing import BEIJING_OFFSET_S

DAY_S = 86_400


def utilisation(rate: float, capacity: float) -> float:
    """Fraction of capacity in use (inf if there is no capacity)."""
    if capacity <= 0:
        return float("inf") if rate > 0 else 0.0
    return rate / capacity


def utilisation_level(u: float, warning: float = 0.8, critical: float = 0.95) -> Severity | None:
    if u >= critical:
        return Severity.CRITICAL
    if u >= warning:
        return Severity.WARNING
    return None


@dataclass(frozen=True, slots=True)
class Forecast:
    crossing_at: float | None  # first instant the forecast reaches capacity, None within the horizon
    trend_per_day: float  # of the deseasonalised rate, units of rate per day
    peak: float  # highest forecast value within the horizon
    peak_at: float

    def due(self, now: float, lead_time_s: float) -> bool:
        """True if capacity is forecast to be reached sooner than the lead time."""
        return self.crossing_at is not None and self.crossing_at - now <= lead_time_s


def fit_trend_season(
    times: Sequence[float] | np.ndarray,
    values: Sequence[float] | np.ndarray,
    slot_s: int = 1800,
    utc_offset_s: int = BEIJING_OFFSET_S,
    iterations: int = 3,
) -> tuple[float, float, np.ndarray]:
    """(a, b, season[slot]) with value ~ (a + b t) * season; season is 1 where history is missing.

    Times are rebased to the last sample so that `a` is the current deseasonalised level.
    """
    t = np.asarray(times, dtype=np.float64)
    y = np.asarray(values, dtype=np.float64)
    if t.size != y.size or t.size < 2:
        raise ValueError("need at least two (time, value) samples of equal length")
    n_slots = DAY_S // slot_s
    slots = (((t + utc_offset_s) % DAY_S) // slot_s).astype(np.int64)
    rel = t - t[-1]
    covered = (t[-1] - t[0]) >= DAY_S  # without a full day the season cannot be told from trend
    season = np.ones(n_slots)
    a, b = float(y.mean()), 0.0
    for _ in range(iterations if covered else 1):
        s = season[slots]
        deseason = y / np.where(s > 0, s, 1.0)
        if np.ptp(rel) > 0:
            b, a = (float(v) for v in np.polyfit(rel, deseason, 1))
        else:
            a, b = float(deseason.mean()), 0.0
        if not covered:
            break
        trend = a + b * rel
        ok = trend > 1e-12
        sums = np.bincount(slots[ok], weights=y[ok] / trend[ok], minlength=n_slots)
        counts = np.bincount(slots[ok], minlength=n_slots)
        season = np.where(counts > 0, sums / np.maximum(counts, 1), 1.0)
        mean = season[counts > 0].mean() if (counts > 0).any() else 1.0
        season = season / (mean if mean > 0 else 1.0)
    return a, b, season


def forecast_crossing(
    times: Sequence[float] | np.ndarray,
    values: Sequence[float] | np.ndarray,
    capacity: float,
    horizon_s: float = 6 * 3600,
    step_s: float = 60.0,
    slot_s: int = 1800,
    utc_offset_s: int = BEIJING_OFFSET_S,
) -> Forecast:
    """First time after the last sample when (trend x season) reaches `capacity`, within the horizon."""
    t = np.asarray(times, dtype=np.float64)
    a, b, season = fit_trend_season(t, values, slot_s, utc_offset_s)
    now = float(t[-1])
    future = now + np.arange(step_s, horizon_s + step_s / 2, step_s)
    slots = (((future + utc_offset_s) % DAY_S) // slot_s).astype(np.int64)
    f = (a + b * (future - now)) * season[slots]
    hit = np.nonzero(f >= capacity)[0]
    peak_i = int(np.argmax(f)) if f.size else 0
    return Forecast(
        crossing_at=float(future[hit[0]]) if hit.size else None,
        trend_per_day=b * DAY_S,
        peak=float(f[peak_i]) if f.size else a,
        peak_at=float(future[peak_i]) if f.size else now,
    )
