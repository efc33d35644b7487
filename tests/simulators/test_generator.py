"""The generator: deterministic, contract-valid, and true to the model's parameters."""
from __future__ import annotations

import numpy as np
import pytest

from contracts.events import Click, Session, decode_message, encode
from simulators.generator import generate_batches
from simulators.model import PROVINCE_CODES, TrafficModel
from simulators.scenario import load_scenario
from simulators.truth import GroundTruth

DAY_MS = 86_400_000


def _bytes(**kw: object) -> bytes:
    return b"\n".join(encode(b) for b in generate_batches("school-week", **kw))  # type: ignore[arg-type]


def test_same_seed_same_events_other_seed_other_events() -> None:
    a = _bytes(seed=7, count=5000)
    assert a == _bytes(seed=7, count=5000)
    assert a != _bytes(seed=8, count=5000)


def test_count_is_exact_and_batches_are_valid_single_topic() -> None:
    batches = list(generate_batches("school-week", seed=1, count=12_345))
    assert sum(len(b) for b in batches) == 12_345
    ids = set()
    for b in batches:
        assert 1 <= len(b) <= 50
        assert len({type(e) for e in b}) == 1  # a message goes to one topic
        assert len({e.session for e in b}) == 1  # one client's flush
        events, rejects = decode_message(encode(b), max_bytes=262_144, max_events=1000)
        assert not rejects and events == b
        ids.update(e.id for e in b)
    assert len(ids) == 12_345
    kinds = [type(e) for b in batches for e in b]
    assert 0.55 < kinds.count(Click) / len(kinds) < 0.85  # mostly clicks, some session events


def test_parts_are_disjoint_and_add_up() -> None:
    sc = load_scenario("school-week")
    end = sc.start_ms + DAY_MS
    whole = sum(len(b) for b in generate_batches(sc, end_ms=end, seed=3))
    parts = [[e.id for b in generate_batches(sc, end_ms=end, seed=3, part=i, parts=2) for e in b] for i in range(2)]
    assert not set(parts[0]) & set(parts[1])
    # same expectation; sessions (~15 events each) are the Poisson unit, so ~2% noise on 45k events
    assert abs(len(parts[0]) + len(parts[1]) - whole) / whole < 0.08


@pytest.fixture(scope="module")
def school_day() -> tuple[GroundTruth, TrafficModel]:
    """One Monday of the school week at 1:500 (about 60k clicks)."""
    sc = load_scenario("school-week")
    gt = GroundTruth()
    for b in generate_batches(sc, end_ms=sc.start_ms + DAY_MS, seed=11, scale=0.002):
        gt.add_batch(b)
    return gt, TrafficModel(sc)


def test_province_shares_match_model(school_day: tuple[GroundTruth, TrafficModel]) -> None:
    gt, model = school_day
    by = gt.clicks_by_province()
    got = np.array([by.get(c, 0) for c in PROVINCE_CODES]) / gt.total_clicks
    want = model.province_share
    # Clicks arrive in sessions (compound Poisson: geometric clicks per session), so the noise of a
    # province's count is sqrt(sessions x E[K^2]); every province must lie within 4 of those SDs.
    m = model.scenario.model.clicks_per_session
    sessions = want * gt.total_clicks / m
    sd = np.sqrt(sessions * (2 * m * m - m)) / gt.total_clicks
    assert np.all(np.abs(got - want) < 4 * sd + 1e-4), np.round((got - want) / sd, 1)
    assert np.abs(got - want).sum() / 2 < 0.05  # total variation distance


def test_diurnal_shape_matches_model(school_day: tuple[GroundTruth, TrafficModel]) -> None:
    gt, model = school_day
    sc = model.scenario
    hours = np.zeros(24)
    for (minute_s, _, _), n in gt.clicks_by_minute_platform_province().items():
        hours[(minute_s * 1000 - sc.start_ms) // 3_600_000] += n
    minutes = np.arange(sc.start_ms, sc.start_ms + DAY_MS, 60_000)
    want = model.clicks_per_minute(minutes).sum(axis=(1, 2)).reshape(24, 60).sum(axis=1)
    got, want = hours / hours.sum(), want / want.sum()
    # Same compound-Poisson noise as for provinces (sessions spread clicks too): within 4 SDs per
    # hour, and the shapes correlate closely.
    m = model.scenario.model.clicks_per_session
    sd = np.sqrt(want * gt.total_clicks / m * (2 * m * m - m)) / gt.total_clicks
    assert np.all(np.abs(got - want) < 4 * sd), np.round((got - want) / sd, 1)
    assert np.corrcoef(got, want)[0, 1] > 0.98
    assert got[20] > 2 * got[3] * 10  # evening peak vs night trough
    assert got[12] < got[10]  # lunch dip


def test_zipf_exponent_of_lessons(school_day: tuple[GroundTruth, TrafficModel]) -> None:
    gt, model = school_day
    counts = sorted((n for r, n in gt.by_resource().items() if r.startswith("k12-les-")), reverse=True)
    top = np.array(counts[:200], dtype=float)
    slope = np.polyfit(np.log(np.arange(1, 201)), np.log(top), 1)[0]
    assert abs(-slope - model.scenario.model.zipf_exponent) < 0.1, slope


def test_rate_mode_and_live_start() -> None:
    sc = load_scenario("school-week")
    start = sc.start_ms + 10 * 3_600_000 + 123  # mid-morning, not minute-aligned
    events = [e for b in generate_batches(sc, start_ms=start, end_ms=start + 60_000, seed=5, rate=2000) for e in b]
    assert all(start <= e.ts < start + 60_000 for e in events)
    # ~2000 events/s from the first second (warm start; it runs ~10% high for the first minutes)
    assert 0.9 < len(events) / 120_000 < 1.25
    first_10s = sum(1 for e in events if e.ts < start + 10_000)
    assert first_10s > 0.8 * len(events) / 6
    assert any(isinstance(e, Session) and e.kind == "heartbeat" for e in events)
