"""The bulk send path (simulators/kafka_bulk.py) against a real broker: every record arrives once and
in order per partition, with idempotence and lz4 on; a batch the broker refuses is counted record by
record and each payload is handed back, never dropped."""

from __future__ import annotations

import pytest

from simulators.kafka_bulk import supported
from simulators.kafka_out import KafkaSender, ensure_topics

pytestmark = pytest.mark.integration


def _consume(settings, topic: str, expected: int) -> dict[int, list[tuple[bytes, bytes]]]:  # type: ignore[no-untyped-def]
    """(key, value) per partition, in offset order, until `expected` records or 10 s of silence."""
    from kafka import KafkaConsumer

    got: dict[int, list[tuple[bytes, bytes]]] = {}
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=settings.kafka_bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        consumer_timeout_ms=10_000,
    )
    try:
        n = 0
        for _ in range(1_000_000):  # bounded; ends when all arrived or at a poll that brings nothing late
            batch = consumer.poll(timeout_ms=1000, max_records=10_000)
            for tp, records in batch.items():
                got.setdefault(tp.partition, []).extend((r.key, r.value) for r in records)
                n += len(records)
            if n >= expected or (not batch and n and _ > 30):
                break
    finally:
        consumer.close()
    return got


def test_every_record_arrives_exactly_once_in_order(kafka_settings) -> None:  # type: ignore[no-untyped-def]
    assert supported()
    ensure_topics(kafka_settings, [kafka_settings.topic_clicks])
    topic, n = kafka_settings.topic_clicks, 30_000
    sender = KafkaSender(kafka_settings, bulk=True, hand_over_every=700)
    assert sender.config["enable_idempotence"] and sender.config["compression_type"] == "lz4"
    sent: dict[int, list[tuple[bytes, bytes]]] = {0: [], 1: []}
    with sender:
        for i in range(n):
            key = b"k%d" % (i % 97)
            part = i % 97 % 2
            value = b'{"n":%d,"pad":"%s"}' % (i, b"x" * (i % 300))
            sender.send(topic, value, key, partition=part)
            sent[part].append((key, value))
            if i % 5000 == 0:
                sender.hand_over()  # the send loop's call before it waits, mid-stream
    assert sender.stats.errors == 0 and sender.stats.messages == n
    assert _consume(kafka_settings, topic, n) == sent  # nothing lost, nothing twice, order kept


def test_a_refused_batch_is_counted_and_handed_back(kafka_settings) -> None:  # type: ignore[no-untyped-def]
    from kafka import KafkaAdminClient
    from kafka.admin import NewTopic

    topic = kafka_settings.topic_sessions
    admin = KafkaAdminClient(bootstrap_servers=kafka_settings.kafka_bootstrap)
    try:  # record batches over 20,000 bytes are refused by the broker (MESSAGE_TOO_LARGE), not the client
        admin.create_topics([NewTopic(topic, 2, 1, topic_configs={"max.message.bytes": "20000"})])
    finally:
        admin.close()
    failed: list[bytes] = []
    sender = KafkaSender(kafka_settings, bulk=True, compression_type=None)
    big = [b"%05d" % i + b"y" * 25_000 for i in range(40)]  # several batches of 256 KiB
    small = [b"%05d" % i for i in range(200)]
    with sender:
        for v in big:
            sender.send(topic, v, b"big", partition=0, on_error=lambda exc, v=v: failed.append(v))
        for v in small:
            sender.send(topic, v, b"small", partition=1, on_error=lambda exc, v=v: failed.append(v))
    assert sender.stats.errors == len(big) and sorted(failed) == big
    assert sender.stats.error_samples and "TooLarge" in sender.stats.error_samples[0]
    assert _consume(kafka_settings, topic, len(small)) == {1: [(b"small", v) for v in small]}


def test_an_unknown_partition_fails_loudly_and_counts_what_was_held(kafka_settings) -> None:  # type: ignore[no-untyped-def]
    ensure_topics(kafka_settings, [kafka_settings.topic_clicks])
    failed: list[bytes] = []
    sender = KafkaSender(kafka_settings, bulk=True)
    try:
        for v in (b"a", b"b"):
            sender.send(kafka_settings.topic_clicks, v, b"k", partition=7, on_error=lambda exc, v=v: failed.append(v))
        with pytest.raises(ValueError, match="no partition 7"):
            sender.hand_over()
        assert sender.stats.errors == 2 and failed == [b"a", b"b"]
    finally:
        sender.close()
