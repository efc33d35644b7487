"""Read a worker's checkpoint: the last rate batch on one rates partition.

Used once per partition assignment, before the worker emits anything for that partition.
"""

from __future__ import annotations

import time

from contracts.rates import RateBatch, decode_batch


async def load_last_batch(bootstrap: str, topic: str, partition: int, timeout_s: float = 30.0) -> RateBatch | None:
    """The last message of `topic`/`partition` decoded, or None if the partition is empty."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap.split(","),
        enable_auto_commit=False,
        group_id=None,
        request_timeout_ms=int(timeout_s * 1000),
    )
    await consumer.start()
    try:
        tp = TopicPartition(topic, partition)
        consumer.assign([tp])
        end = (await consumer.end_offsets([tp]))[tp]
        begin = (await consumer.beginning_offsets([tp]))[tp]
        if end <= begin:
            return None
        consumer.seek(tp, end - 1)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            got = await consumer.getmany(tp, timeout_ms=1000)
            records = got.get(tp, [])
            if records:
                return decode_batch(records[-1].value)
        raise TimeoutError(f"no record read from {topic}[{partition}] at offset {end - 1} in {timeout_s}s")
    finally:
        await consumer.stop()
