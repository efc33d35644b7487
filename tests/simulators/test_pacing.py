"""Open-loop pacing, driven by a fake clock: no sleeping in tests."""

from __future__ import annotations

from typing import Any

import pytest

from simulators.generator import generate_batches
from simulators.pacing import RateProfile, Schedule
from simulators.runner import SendLoop
from simulators.truth import GroundTruth


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, s: float) -> None:
        self.now += s


class SlowSink:
    """Each send costs `cost` seconds of fake time: a system that cannot keep up."""

    def __init__(self, clock: FakeClock, cost: float) -> None:
        self.clock, self.cost, self.events = clock, cost, 0
        self.failed = GroundTruth()

    def send_batch(self, batch: list[Any]) -> None:
        self.clock.now += self.cost
        self.events += len(batch)

    def send_raw(self, value: bytes, kind: str, key: bytes | None = None) -> None:
        self.clock.now += self.cost

    def hand_over(self) -> None:
        pass

    def close(self) -> dict[str, Any]:
        return {"errors": 0}


def test_profiles() -> None:
    c = RateProfile.constant(1000)
    assert c.expected(2.0) == 2000 and c.due(500) == pytest.approx(0.5)
    r = RateProfile.ramp(0, 1000, 10)
    assert r.expected(10) == pytest.approx(5000) and r.due(5000) == pytest.approx(10)
    assert r.due(r.expected(3.3)) == pytest.approx(3.3)
    s = RateProfile.parse("100:10,200:10")
    assert s.expected(20) == pytest.approx(3000, rel=1e-3) and s.rate_at(15) == 200
    assert RateProfile.parse("10..20/5").points == ((0.0, 10.0), (5.0, 20.0))


def test_on_schedule_when_the_sink_keeps_up() -> None:
    clock = FakeClock()
    sink = SlowSink(clock, 0.00001)
    gt = GroundTruth()
    loop = SendLoop(sink, Schedule(RateProfile.constant(2000)), truth=gt, duration_s=5, clock=clock, sleep=clock.sleep)
    s = loop.run_batches(generate_batches("school-week", seed=1))
    assert abs(s.rate_error) < 0.01 and s.shortfall < 60  # type: ignore[arg-type]
    assert gt.total_events == s.events == sink.events


def test_shortfall_reported_not_hidden() -> None:
    clock = FakeClock()
    sink = SlowSink(clock, 0.001)  # ~1000 messages/s at most, target 5000 events/s
    loop = SendLoop(sink, Schedule(RateProfile.constant(5000)), duration_s=4, clock=clock, sleep=clock.sleep)
    s = loop.run_batches(generate_batches("school-week", seed=1))
    assert s.expected_events == pytest.approx(20_000, rel=0.01)
    assert s.shortfall > 10_000 and s.rate_error < -0.5  # type: ignore[operator]
    assert s.max_lag_s > 1.0  # the schedule did not move with the slow sink


def test_replay_follows_event_time() -> None:
    clock = FakeClock()
    sink = SlowSink(clock, 0.0)
    batches = list(generate_batches("school-week", seed=2, count=3000))
    span = (max(e.ts for b in batches for e in b) - batches[0][0].ts) / 1000
    loop = SendLoop(sink, Schedule(speed=600), clock=clock, sleep=clock.sleep)
    s = loop.run_batches(batches)
    assert s.elapsed_s == pytest.approx(span / 600, rel=0.02)
    assert s.events == 3000


def test_a_share_keeps_the_whole_streams_schedule() -> None:
    """A process sending one share of N paces each message by its position in the whole stream, so
    N processes together hold the one-process schedule (here: share 1 of 2 at 4000/s overall)."""
    from simulators.generator import Generator

    clock = FakeClock()
    sink = SlowSink(clock, 0.00001)
    loop = SendLoop(
        sink, Schedule(RateProfile.constant(4000)), truth=GroundTruth(), duration_s=5, clock=clock, sleep=clock.sleep
    )
    s = loop.run_messages(Generator("school-week", seed=1).messages(1, 2))
    assert s.events == pytest.approx(10_000, rel=0.05)  # half of the 20,000 due in 5 s
    assert s.max_lag_s < 0.01 and s.late_batches == 0
