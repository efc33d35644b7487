"""A backlog of weeks (a rehearsal's history, a service restarted after a day) is judged in step:
judging stops at its budget and Kafka is polled in between (one call once judged weeks and outlived
the consumer's poll interval, leaving the group), and a partition far ahead of the minute being
judged is paused, so memory holds a bounded stretch of minutes (it once grew to 5.5 GB)."""

from __future__ import annotations

import threading
import time

from prometheus_client import CollectorRegistry

from alerts.engine import AlertEngine, EngineConfig
from alerts.service import AlertService
from contracts.rates import ClickRow, RateBatch, encode_batch
from contracts.settings import Settings
from contracts.topics import ensure_topics
from tests.conftest import make_settings
from tests.support import producer, wait_for

T0 = 1_647_216_000  # 2022-03-14 08:00 Beijing, a minute boundary


def row(minute: int, clicks: int = 50) -> ClickRow:
    return ClickRow(minute, "k12", "220000", "lessons", "view", clicks)


def test_advance_stops_at_its_deadline_and_the_next_call_goes_on() -> None:
    engine = AlertEngine(EngineConfig(lateness_s=0.0))
    engine.ingest([row(T0 + i * 60) for i in range(30)])
    past = time.monotonic() - 1.0
    first = engine.advance(T0 + 30 * 60, until=past)
    assert len(first) == 1  # at least one minute per call, then the deadline
    rest = engine.advance(T0 + 30 * 60)
    assert len(rest) == 29 and engine.next_minute == T0 + 30 * 60


def test_a_gap_of_years_is_stepped_over_not_judged_minute_by_minute() -> None:
    engine = AlertEngine(EngineConfig(lateness_s=0.0))
    engine.ingest([row(T0)])
    engine.advance(T0 + 60)
    later = T0 + 4 * 365 * 86_400  # a stack's clock 4 years behind a rehearsal's history
    engine.ingest([row(later + i * 60) for i in range(10)])
    judged = engine.advance(later + 10 * 60)
    assert len(judged) == 10 and engine.next_minute == later + 10 * 60
    assert engine.skipped_minutes == (later - T0 - 60) // 60
    # a short gap (a quiet hour) is still judged minute by minute: zero traffic is evidence
    engine.ingest([row(later + 70 * 60)])
    assert len(engine.advance(later + 71 * 60)) == 61


def _learnt_slots(engine: AlertEngine) -> int:
    return sum(len(p.slots) for d in engine.detectors.values() for p in d.baseline.profiles)


def test_after_a_gap_of_weeks_everything_learnt_is_dropped() -> None:
    """What was learnt before four weeks without rows describes another time (a stack whose only
    traffic was years earlier, at another scale, before a rehearsal): every series starts afresh.
    Kept, those few old visits anchored the slots of the rehearsal's history, and a closed province
    never fired (session 9: Jilin in march-2022 at 1:100 on the live stack; it fired on a fresh one)."""
    day = 86_400
    engine = AlertEngine(EngineConfig(lateness_s=0.0), provinces=["220000"])
    first = [T0 + i * 60 for i in range(0, 2 * day, 600)]  # two days: the slots have visits
    engine.ingest([row(m) for m in first])
    engine.advance(first[-1] + 60)
    before = dict(engine.detectors)
    assert _learnt_slots(engine) > 0
    week = first[-1] + 7 * day  # a week without rows: stepped over, but still the same time
    engine.ingest([row(week)])
    engine.advance(week + 60)
    assert engine.forgotten == 0 and all(engine.detectors[k] is d for k, d in before.items())
    years = week + 4 * 365 * day
    engine.ingest([row(years)])
    engine.advance(years + 60)
    assert engine.forgotten == 1
    assert set(engine.detectors) == set(before) and not any(engine.detectors[k] is d for k, d in before.items())
    assert _learnt_slots(engine) == 0  # the minute after the gap has not closed a day yet


def test_only_partitions_far_ahead_of_the_judged_minute_are_held() -> None:
    service = AlertService(Settings(alerts_max_ahead_s=3600, allowed_lateness_s=300), CollectorRegistry())
    assert service.too_far_ahead([0, 1]) == set()  # nothing held yet
    service.engine.ingest([row(T0)])  # the judged position: its earliest held minute
    service.clock.observe(0, (T0 + 7200) * 1000, 10)
    service.clock.observe(1, (T0 + 1800) * 1000, 10)
    assert service.too_far_ahead([0, 1]) == {0}
    # the limit stays above the lateness, or a paused partition's minutes could never close
    late = AlertService(Settings(alerts_max_ahead_s=600, allowed_lateness_s=3000), CollectorRegistry())
    late.engine.ingest([row(T0)])
    late.clock.observe(0, (T0 + 3100) * 1000, 10)
    assert late.too_far_ahead([0]) == set()


def test_a_day_of_backlog_is_judged_in_step_on_a_real_broker(kafka) -> None:  # type: ignore[no-untyped-def]
    s = make_settings(
        kafka, topic_partitions=2, alerts_max_ahead_s=600, alerts_eval_budget_s=0.2, allowed_lateness_s=60
    )
    ensure_topics(s)
    prod = producer(kafka)
    minutes = 1440
    for p, lead in ((0, 0), (1, 0)):
        for i in range(minutes):
            batch = RateBatch(
                src_topic=s.topic_clicks,
                src_partition=p,
                first_offset=i,
                last_offset=i,
                watermark_ms=(T0 + (i + 1 + lead) * 60) * 1000,
                events=50,
                clicks=[row(T0 + i * 60)],
            )
            prod.send(s.topic_rates, value=encode_batch(batch), partition=p)
    prod.flush(60)
    prod.close()
    registry = CollectorRegistry()
    service = AlertService(s, registry)
    thread = threading.Thread(target=service.run, daemon=True)
    thread.start()
    most_pending, most_paused = 0, 0.0

    def judged() -> bool:
        nonlocal most_pending, most_paused
        most_pending = max(most_pending, len(service.engine._pending))
        most_paused = max(most_paused, registry.get_sample_value("edu_alerts_paused_partitions") or 0.0)
        assert thread.is_alive(), "the alert service stopped"
        pos = service.engine.next_minute
        return pos is not None and pos >= T0 + (minutes - 2) * 60

    try:
        wait_for(judged, 240, "the whole day judged", interval=0.05)
    finally:
        service.stop()
        thread.join(30)
    assert most_paused >= 1, "no partition was ever held back"
    # 600 s ahead plus what one poll can bring (500 records of a minute each), not the whole day
    # (1,433 minutes held before partitions were paused; 494 measured with it)
    assert most_pending <= 10 + 500 + 10, most_pending
