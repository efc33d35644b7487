"""Seasonal baseline: learns the school-day curve, keeps its band, is not dragged by an anomaly."""

from __future__ import annotations

import numpy as np

from alerts.baseline import SeasonalBaseline
from tests.alerts.helpers import DAY, MONDAY, minutes, school_days, weekend_curve


def _feed(b: SeasonalBaseline, t: np.ndarray, x: np.ndarray) -> None:
    for a, v in zip(t, x, strict=False):
        b.update(float(a), float(v))


def test_learns_the_daily_curve_within_a_few_percent() -> None:
    lam = school_days(3, 100_000)
    b = SeasonalBaseline()
    _feed(b, minutes(2), lam[: 2 * 1440])
    for minute in (3 * 60, 9 * 60 + 30, 12 * 60 + 30, 20 * 60):
        t = MONDAY + 2 * DAY + 60 * minute
        e = b.expected(t)
        assert e is not None
        truth = lam[2 * 1440 + minute]
        assert abs(e.mean - truth) <= 0.06 * truth, (minute, e.mean, truth)
        assert e.lower <= e.mean <= e.upper


def test_no_baseline_before_min_visits_and_none_for_an_unseen_weekend() -> None:
    b = SeasonalBaseline(min_visits=2)
    _feed(b, minutes(1), school_days(1, 50_000))
    assert b.expected(MONDAY + DAY + 9 * 3600) is None
    _feed(b, minutes(1, MONDAY + DAY), school_days(1, 50_000))
    assert b.expected(MONDAY + 2 * DAY + 9 * 3600) is not None
    saturday = MONDAY + 5 * DAY + 9 * 3600
    assert b.expected(saturday) is None  # school days never judge a weekend (the "any" profile does not answer)


def test_weekend_profile_used_once_it_has_been_seen() -> None:
    b = SeasonalBaseline(min_visits=1)
    _feed(b, minutes(5), school_days(5, 50_000))
    sat = MONDAY + 5 * DAY
    _feed(b, minutes(1, sat), np.asarray(weekend_curve()) * 40_000 / 1440)
    e = b.expected(MONDAY + 12 * DAY + 8 * 3600)  # next Saturday 08:00
    assert e is not None and e.grouping in ("weekday", "daytype")
    assert abs(e.mean - weekend_curve()[8 * 60] * 40_000 / 1440) < 0.1 * e.mean


def test_a_surge_day_barely_moves_the_baseline() -> None:
    lam = school_days(5, 100_000)
    b = SeasonalBaseline()
    _feed(b, minutes(4), lam[: 4 * 1440])  # Monday to Thursday
    ten = MONDAY + 4 * DAY + 10 * 3600
    before = b.expected(ten).mean
    _feed(b, minutes(1, MONDAY + 4 * DAY), lam[4 * 1440 :] * 5.0)  # Friday: 5x all day
    after = b.expected(ten + 7 * DAY).mean  # next Friday, 10:00 (school-day profile)
    assert after < 1.1 * before, (before, after)
    _feed(b, minutes(1, MONDAY + 7 * DAY), lam[:1440])  # a plain Monday, then the next Friday
    _feed(b, minutes(1, MONDAY + 11 * DAY), lam[:1440])
    e = b.expected(ten + 14 * DAY)
    assert e.mean < 1.1 * before, e  # the Friday profile saw [5x, 1x]: not trusted, school days answer


def test_ratio_is_the_surge_ratio() -> None:
    b = SeasonalBaseline()
    _feed(b, minutes(3), school_days(3, 100_000))
    t = MONDAY + 3 * DAY + 10 * 3600
    e = b.expected(t)
    assert abs(b.ratio(t, 3 * e.mean) - 3.0) < 1e-9
