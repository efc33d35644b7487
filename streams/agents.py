"""The worker's agents: thin `async for` loops that hand batches to `streams.processor`.

One agent per source topic (clicks, sessions), each with its own co-partitioned rates topic, so
each rates partition's last message is the checkpoint of exactly one source partition.
"""
from __future__ import annotations

import asyncio
import logging
import os
from collections import defaultdict

import faust

from contracts.settings import Settings
from streams.checkpoint import load_last_batch
from streams.metrics import WorkerMetrics
from streams.processor import Processor

log = logging.getLogger(__name__)


def register(app: faust.App, settings: Settings, metrics: WorkerMetrics) -> dict[str, Processor]:
    """Declare the source topics and their agents on `app`; return the processors by source topic."""

    async def send(topic: str, partition: int | None, value: bytes):  # type: ignore[no-untyped-def]
        return await app.producer.send(topic, None, value, partition, None, None)

    processors: dict[str, Processor] = {}
    for source, rates in ((settings.topic_clicks, settings.topic_rates),
                          (settings.topic_sessions, settings.topic_session_rates)):
        processors[source] = _register_one(app, settings, metrics, send, source, rates)

    @app.on_partitions_revoked.connect
    async def on_revoked(sender: faust.App, revoked: set, **kwargs: object) -> None:  # noqa: ARG001
        for tp in revoked:
            if tp.topic in processors:
                processors[tp.topic].forget([tp.partition])

    @app.timer(interval=5.0)
    async def report_lag() -> None:
        consumer = app.consumer
        for tp in consumer.assignment():
            proc = processors.get(tp.topic)
            high = consumer.highwater(tp)
            state = proc.partitions.get(tp.partition) if proc else None
            if high is not None and state is not None:
                metrics.lag.labels(tp.topic, str(tp.partition)).set(max(0, high - state.last_offset - 1))

    return processors


def _register_one(app: faust.App, settings: Settings, metrics: WorkerMetrics, send,  # type: ignore[no-untyped-def]
                  source: str, rates: str) -> Processor:
    topic = app.topic(source, value_type=bytes, value_serializer="raw", key_type=bytes, key_serializer="raw")

    async def load(partition: int):  # type: ignore[no-untyped-def]
        return await load_last_batch(settings.kafka_bootstrap, rates, partition)

    processor = Processor(settings, send, load, metrics, source_topic=source, rates_topic=rates)

    async def run(stream: faust.StreamT) -> None:
        async for events in stream.take_events(settings.worker_batch_max, within=settings.worker_batch_within_s):
            runs: dict[int, list[tuple[int, bytes]]] = defaultdict(list)
            for ev in events:
                runs[ev.message.partition].append((ev.message.offset, ev.message.value))
            try:
                # Partitions are independent (each has its own checkpoint), so their runs are
                # aggregated and sent concurrently: one batch cycle costs one round trip to the
                # broker, not one per partition.
                await asyncio.gather(*(processor.handle(p, msgs) for p, msgs in runs.items()))
            except Exception:  # noqa: BLE001 - any failure: crash before Faust acks the batch
                # take_events acks the batch in a `finally` even when this body raises, and the
                # offsets would be committed with no output. Exit at once instead: the batch is
                # re-read on restart, and the checkpoints skip what was already sent.
                log.critical("processing failed; exiting without acknowledging the batch", exc_info=True)
                logging.shutdown()
                os._exit(70)

    app.agent(topic, name=f"aggregate-{source}")(run)
    return processor
