"""The worker's output producer on its own thread, against the session's real broker."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from kafka import KafkaConsumer, TopicPartition

from contracts.settings import Settings
from contracts.topics import ensure_topics
from ops.local_process import free_port
from streams.rates_sender import RatesSender
from tests.conftest import make_settings

pytestmark = [pytest.mark.integration]


@pytest.fixture()
def started(kafka: str) -> Iterator[tuple[Settings, RatesSender]]:
    """Settings with topics of their own, and a sender started on the session's broker."""
    s = make_settings(kafka)
    ensure_topics(s)
    sender = RatesSender(s, client_id="test-rates")
    sender.start()
    try:
        yield s, sender
    finally:
        sender.stop()


def read_all(settings: Settings, topic: str, partition: int, n: int) -> list[bytes]:
    consumer = KafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        consumer_timeout_ms=10_000,
    )
    try:
        tp = TopicPartition(topic, partition)
        consumer.assign([tp])
        consumer.seek_to_beginning(tp)
        got: list[bytes] = []
        for record in consumer:
            got.append(record.value)
            if len(got) >= n:
                break
        return got
    finally:
        consumer.close()


def test_records_are_acknowledged_to_the_calling_loop_and_stored_in_order(
    started: tuple[Settings, RatesSender],
) -> None:
    s, sender = started

    async def send_all() -> list[object]:
        deliveries = [await sender.send(s.topic_rates, 2, f"batch {i}".encode()) for i in range(50)]
        return await asyncio.gather(*deliveries)  # futures of this loop, resolved from the thread

    acks = asyncio.run(send_all())
    assert [a.offset for a in acks] == list(range(50))  # type: ignore[attr-defined]
    assert all(a.partition == 2 for a in acks)  # type: ignore[attr-defined]
    assert read_all(s, s.topic_rates, 2, 50) == [f"batch {i}".encode() for i in range(50)]


def test_a_refused_record_raises_from_its_delivery(started: tuple[Settings, RatesSender]) -> None:
    s, sender = started

    async def too_big() -> None:
        await (await sender.send(s.topic_rates, 0, b"x" * (5 * 1024 * 1024)))  # over max_request_size

    with pytest.raises(Exception, match="(?i)too large|size"):
        asyncio.run(too_big())


def test_an_unreachable_broker_fails_the_start_loudly() -> None:
    s = Settings(kafka_bootstrap=f"127.0.0.1:{free_port()}")
    sender = RatesSender(s, client_id="test-rates")
    with pytest.raises(SystemExit, match="could not reach Kafka at 127.0.0.1"):
        sender.start()
    sender.stop()
