"""The worker's handlers: one per source topic (clicks, sessions), taking runs of one partition
from `streams.fetch_consumer` to a `streams.processor.Processor`.

Each source topic has its own co-partitioned rates topic, so each rates partition's last message is
the checkpoint of exactly one source partition.
"""

from __future__ import annotations

import logging
import os

import faust

from contracts.settings import Settings
from streams.app import WorkerApp
from streams.checkpoint import load_last_batch
from streams.metrics import WorkerMetrics
from streams.processor import Processor, Send

log = logging.getLogger(__name__)


def register(app: WorkerApp, settings: Settings, metrics: WorkerMetrics, send: Send) -> dict[str, Processor]:
    """Subscribe `app` to the source topics with their handlers, which send their output with
    `send`; return the processors by source topic."""

    processors: dict[str, Processor] = {}
    for source, rates in (
        (settings.topic_clicks, settings.topic_rates),
        (settings.topic_sessions, settings.topic_session_rates),
    ):
        processors[source] = _register_one(app, settings, metrics, send, source, rates)

    # faust's stubs type a handler as (sender, *args, signal=...); it is called (sender, revoked, signal=...)
    @app.on_partitions_revoked.connect  # type: ignore[arg-type]
    async def on_revoked(sender: faust.App, revoked: set, **kwargs: object) -> None:
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


def _register_one(
    app: WorkerApp, settings: Settings, metrics: WorkerMetrics, send: Send, source: str, rates: str
) -> Processor:
    topic = app.topic(source, value_type=bytes, value_serializer="raw", key_type=bytes, key_serializer="raw")

    async def load(partition: int):
        return await load_last_batch(settings.kafka_bootstrap, rates, partition)

    processor = Processor(settings, send, load, metrics, source_topic=source, rates_topic=rates)

    async def handle(partition: int, run: list[tuple[int, bytes | None, int]]) -> None:
        try:
            await processor.handle(partition, run)
        except Exception:
            # Raised on, it would stop Faust's fetcher and leave a worker that holds its partitions
            # and reads nothing. Exit at once instead: this run is not committed, it is re-read on
            # restart, and the checkpoints skip what was already sent.
            log.critical("processing failed; exiting without committing the run", exc_info=True)
            logging.shutdown()
            os._exit(70)

    app.topics.add(topic)  # subscribed by Faust; its fetches go whole to `handle`
    app.fetch_route.handlers[source] = handle
    return processor
