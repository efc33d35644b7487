"""Integration: what the sender hands to a real broker arrives, exactly as the ground truth says."""
from __future__ import annotations

import pytest

from contracts.events import decode_message
from contracts.settings import load_settings
from simulators.generator import generate_batches
from simulators.kafka_out import KafkaSender, KafkaUnavailable, ensure_topics
from simulators.pacing import RateProfile, Schedule
from simulators.runner import KafkaSink, SendLoop
from simulators.truth import GroundTruth


def test_unreachable_broker_fails_loudly() -> None:
    settings = load_settings(kafka_bootstrap="127.0.0.1:1")
    with pytest.raises(KafkaUnavailable, match="127.0.0.1:1"):
        KafkaSender(settings, bootstrap_timeout_ms=2000)


@pytest.mark.integration
def test_sent_events_arrive_and_match_truth(kafka_settings) -> None:  # type: ignore[no-untyped-def]
    from kafka import KafkaConsumer

    ensure_topics(kafka_settings)
    truth = GroundTruth()
    loop = SendLoop(KafkaSink(kafka_settings), Schedule(RateProfile.constant(20_000)), truth=truth)
    summary = loop.run_batches(generate_batches("school-week", seed=9, count=20_000))
    assert summary.events == 20_000 and summary.delivery_errors == 0

    got = GroundTruth()
    consumer = KafkaConsumer(kafka_settings.topic_clicks, kafka_settings.topic_sessions,
                             bootstrap_servers=kafka_settings.kafka_bootstrap, auto_offset_reset="earliest",
                             consumer_timeout_ms=10_000, enable_auto_commit=False)
    try:
        for _ in range(10_000_000):  # bounded; ends at the consumer timeout or when all arrived
            batch = consumer.poll(timeout_ms=1000, max_records=5000)
            for records in batch.values():
                for r in records:
                    events, rejects = decode_message(r.value, max_bytes=262_144, max_events=1000)
                    assert not rejects
                    got.add_batch(events)
            if got.total_events >= truth.total_events or (not batch and got.total_events and _ > 30):
                break
    finally:
        consumer.close()
    assert got == truth
