"""ValueMemory: distance to the nearest seen value, bounded memory."""

from __future__ import annotations

import numpy as np
import pytest

from alerts.memory import ValueMemory


def test_distance_matches_brute_force_within_one_bin() -> None:
    rng = np.random.default_rng(1)
    xs = np.concatenate([rng.normal(0, 1, 3000), rng.normal(8, 0.5, 500)])
    mem = ValueMemory(max_bins=1024)
    seen: list[float] = []
    for x in xs:
        if seen:
            exact = float(np.min(np.abs(np.asarray(seen) - x)))
            got = mem.distance(float(x))
            assert got <= exact + 1e-12
            assert exact - got <= mem.width + 1e-12
        mem.add(float(x))
        seen.append(float(x))
    assert len(mem.keys) <= 1024 // 2 + 1


def test_new_extremes_are_exact_and_range_tracks() -> None:
    mem = ValueMemory()
    for x in (5.0, 7.0, 6.0):
        mem.add(x)
    assert mem.distance(10.0) == 3.0
    assert mem.distance(4.0) == 1.0
    assert mem.range == 2.0


def test_constant_series_has_no_distance_and_tiny_state() -> None:
    mem = ValueMemory()
    for _ in range(10_000):
        mem.add(3.0)
    assert mem.distance(3.0) == 0.0
    assert mem.keys == [] and mem.range == 0.0


def test_range_growth_coarsens_instead_of_growing() -> None:
    mem = ValueMemory(max_bins=64)
    for i in range(100_000):
        mem.add(float(i))
    assert len(mem.keys) <= 33
    assert mem.distance(100_500.0) == 501.0


def test_quantiles_and_robust_range_ignore_rare_extremes() -> None:
    rng = np.random.default_rng(2)
    xs = rng.uniform(0, 100, 20_000)
    mem = ValueMemory()
    for x in xs:
        mem.add(float(x))
    mem.add(10_000.0)  # one wild outlier stretches the range a hundredfold ...
    assert mem.range > 9_900
    assert abs(mem.quantile(0.5) - float(np.median(xs))) < 2 * mem.width
    assert abs(mem.robust_range(0.001) - 99.8) < 2 * mem.width + 0.5  # ... but not the robust spread
    assert mem.quantile(0.0) == mem.lo and mem.quantile(1.0) == mem.hi


def test_counts_survive_the_first_distinct_value_and_coarsening() -> None:
    mem = ValueMemory(max_bins=64)
    for _ in range(10):
        mem.add(1.0)
    mem.add(2.0)
    assert sum(mem.counts) == 11 and mem.quantile(0.5) == pytest.approx(1.0, abs=mem.width)
    for i in range(1000):
        mem.add(float(i))
    assert sum(mem.counts) == mem.count == 1011


def test_local_gap_is_the_spacing_of_the_values_around_x() -> None:
    """The density damping of the anomaly score reads it: sparse tails have wide gaps, the bulk narrow ones."""
    mem = ValueMemory()
    assert mem.local_gap(1.0, 4) == 0.0  # nothing seen
    for v in range(100):
        mem.add(float(v))
    assert 0.8 <= mem.local_gap(50.3, 4) <= 1.2  # unit spacing in the bulk
    rng = np.random.default_rng(3)
    tail = ValueMemory()
    for x in rng.exponential(1.0, 5000):
        tail.add(float(x))
    assert tail.local_gap(6.0, 4) > 10 * tail.local_gap(0.5, 4)  # the exponential's tail is sparse
    assert tail.local_gap(-1.0, 4) >= 0.0 and tail.local_gap(1e9, 4) >= 0.0  # outside the range: no error
