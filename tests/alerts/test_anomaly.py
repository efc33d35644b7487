"""The general anomaly score: bounded, quiet on ordinary traffic, loud once on a novelty."""

from __future__ import annotations

import math

import numpy as np

from alerts.anomaly import AnomalyScorer
from tests.alerts.helpers import minutes, poisson, school_days


def test_scores_are_in_unit_interval_and_zero_for_constant() -> None:
    s = AnomalyScorer()
    scores = [s.score(60.0 * i, 42.0) for i in range(2000)]
    assert all(v == 0.0 for v in scores)
    s2 = AnomalyScorer()
    rng = np.random.default_rng(3)
    vals = [s2.score(60.0 * i, float(x)) for i, x in enumerate(rng.standard_cauchy(5000))]
    assert all(0.0 <= v <= 1.0 for v in vals)


def test_non_finite_values_score_zero_and_do_not_poison_state() -> None:
    s = AnomalyScorer()
    for i in range(500):
        s.score(60.0 * i, float(i % 10))
    assert s.score(30_000.0, math.nan) == 0.0
    assert s.score(30_060.0, math.inf) == 0.0
    assert s.values.hi == 9.0


def test_spike_after_a_week_of_school_days_scores_high_once() -> None:
    days = 8
    t = minutes(days)
    x = poisson(school_days(days, 200_000))
    spike_at = 7 * 1440 + 10 * 60  # Tuesday of week 2, 10:00
    x[spike_at : spike_at + 20] *= 4.0
    s = AnomalyScorer()
    scores = np.array([s.score(float(a), float(b)) for a, b in zip(t, x, strict=False)])
    before = scores[3 * 1440 : spike_at]
    assert before.max() < 0.5, "ordinary school days must stay under the alert level"
    hit = scores[spike_at : spike_at + 20]
    assert hit.max() > 0.8
    assert (hit > 0.5).sum() <= 3, "one incident, one onset: no run of high scores"


def test_state_is_bounded() -> None:
    s = AnomalyScorer()
    rng = np.random.default_rng(5)
    for i, x in enumerate(rng.normal(0, 1, 30_000)):
        s.score(60.0 * i, float(x))
    assert len(s.values.keys) <= s.values.max_bins // 2 + 1
    assert all(len(r.keys) <= r.max_bins // 2 + 1 for r in s.residuals)
    assert len(s.profiles[1].mean) <= 7 * 48


def test_an_onset_below_the_series_record_is_damped_and_a_record_is_not() -> None:
    """Per-series calibration: a novelty is judged against the largest one this series produced."""
    rng = np.random.default_rng(7)
    x = 100.0 + rng.normal(0, 1, 4000)
    x[2000] += 60.0  # the record
    x[3000] += 30.0  # a smaller novelty later: still new, but half the record
    s = AnomalyScorer()
    half = s.cfg.half_score
    scores, raws, records = [], [], []
    for i, v in enumerate(x):
        records.append(s.record)
        scores.append(s.score(60.0 * i, float(v)))
        raws.append(s.last_raw)
    assert raws[2000] > records[2000] and scores[2000] == raws[2000] / (raws[2000] + half) > 0.9
    r, rec = raws[3000], records[3000]
    assert 0 < r < rec and rec == max(raws[100:3000])
    damped = r * (r / rec) ** s.cfg.record_beta
    assert math.isclose(scores[3000], damped / (damped + half))
    assert scores[3000] < r / (r + half)
