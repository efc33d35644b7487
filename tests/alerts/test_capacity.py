"""Capacity: utilisation levels and the trend+season crossing forecast, as pure functions."""

from __future__ import annotations

import math

import numpy as np

from alerts.capacity import fit_trend_season, forecast_crossing, utilisation, utilisation_level
from contracts.alerts import Severity
from tests.alerts.helpers import DAY, MONDAY, minutes, school_day_curve


def test_utilisation_levels() -> None:
    assert utilisation(800, 1000) == 0.8
    assert utilisation_level(0.5) is None
    assert utilisation_level(0.8) is Severity.WARNING
    assert utilisation_level(0.97) is Severity.CRITICAL
    assert math.isinf(utilisation(1, 0)) and utilisation(0, 0) == 0.0


def _growing(days: int, level: float, growth_per_day: float) -> tuple[np.ndarray, np.ndarray]:
    t = minutes(days)
    trend = level + growth_per_day * (t - t[0]) / DAY
    return t, trend * np.tile(school_day_curve(), days)


def test_fit_recovers_trend_and_season() -> None:
    t, y = _growing(4, 1000.0, 200.0)
    a, b, season = fit_trend_season(t, y)
    assert abs(b * DAY - 200.0) < 20.0
    assert abs(a - (1000 + 200 * (t[-1] - t[0]) / DAY)) < 60.0
    peak_slot = int(np.argmax(season))
    assert 19 * 2 <= peak_slot <= 21 * 2  # the evening peak, 19:00-21:00 Beijing time


def test_crossing_forecast_vs_lead_time() -> None:
    t, y = _growing(3, 1000.0, 300.0)  # ends Wednesday 24:00 at a deseasonalised level of ~1900
    now = float(t[-1])
    f = forecast_crossing(t, y, capacity=4000.0, horizon_s=DAY)
    assert f.crossing_at is not None
    # Thursday's lesson hours (~1.65 x 2050) stay under 4000; the evening peak (~2.0 x 2150) crosses
    hours = (f.crossing_at - (MONDAY + 3 * DAY)) / 3600
    assert 17.5 <= hours <= 20.5, hours
    assert not f.due(now, lead_time_s=3600)
    assert f.due(f.crossing_at - 1800, lead_time_s=3600)


def test_no_crossing_for_flat_traffic_far_below_capacity() -> None:
    t, y = _growing(3, 1000.0, 0.0)
    f = forecast_crossing(t, y, capacity=5000.0, horizon_s=DAY)
    assert f.crossing_at is None and abs(f.trend_per_day) < 10.0
    assert f.peak < 5000.0


def test_less_than_a_day_of_history_uses_the_trend_alone() -> None:
    t = np.arange(0, 3600 * 6, 60.0)
    y = 100 + t / 60.0  # +1 per minute
    f = forecast_crossing(t, y, capacity=600.0, horizon_s=3600 * 3)
    assert f.crossing_at is not None and abs(f.crossing_at - (t[-1] + 60 * (600 - y[-1]))) <= 120
