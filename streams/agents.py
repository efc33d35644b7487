"""The worker's agents: thin `async for` loops that hand batches to `streams.processor`."""
from __future__ import annotations

from collections import defaultdict

import faust

from contracts.settings import Settings
from streams.checkpoint import load_last_batch
from streams.metrics import WorkerMetrics
from streams.processor import Processor


def register(app: faust.App, settings: Settings, metrics: WorkerMetrics) -> Processor:
    """Declare topics and the clicks agent on `app`; return the processor for inspection."""
    clicks = app.topic(settings.topic_clicks, value_type=bytes, value_serializer="raw",
                       key_type=bytes, key_serializer="raw")

    async def send(topic: str, partition: int | None, value: bytes):  # type: ignore[no-untyped-def]
        return await app.producer.send(topic, None, value, partition, None, None)

    async def load(partition: int):  # type: ignore[no-untyped-def]
        return await load_last_batch(settings.kafka_bootstrap, settings.topic_rates, partition)

    processor = Processor(settings, send, load, metrics)

    @app.agent(clicks, name="clicks-per-minute")
    async def clicks_per_minute(stream: faust.StreamT) -> None:
        async for events in stream.take_events(settings.worker_batch_max, within=settings.worker_batch_within_s):
            runs: dict[int, list[tuple[int, bytes]]] = defaultdict(list)
            for ev in events:
                runs[ev.message.partition].append((ev.message.offset, ev.message.value))
            for partition, msgs in runs.items():
                await processor.handle(partition, msgs)

    @app.on_partitions_revoked.connect
    async def on_revoked(sender: faust.App, revoked: set, **kwargs: object) -> None:  # noqa: ARG001
        processor.forget([tp.partition for tp in revoked if tp.topic == settings.topic_clicks])

    @app.timer(interval=5.0)
    async def report_lag() -> None:
        consumer = app.consumer
        for tp in consumer.assignment():
            if tp.topic != settings.topic_clicks:
                continue
            high = consumer.highwater(tp)
            state = processor.partitions.get(tp.partition)
            if high is not None and state is not None:
                metrics.lag.labels(tp.topic, str(tp.partition)).set(max(0, high - state.last_offset - 1))

    return processor
