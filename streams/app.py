"""Build the Faust app from settings: the app object alone, agents live in `streams.agents`."""

from __future__ import annotations

import faust
from faust.types import ConsumerT

from contracts.settings import Settings
from streams import bounded_records
from streams.fetch_consumer import FetchConsumer, FetchRoute


class WorkerApp(faust.App):
    """A Faust app with the worker's consumer; `fetch_route` names the topics whose fetches go whole
    to a handler (`streams.fetch_consumer`). The output does not use Faust's producer but
    `streams.rates_sender`, on a thread of its own."""

    fetch_route: FetchRoute

    def _new_consumer(self) -> ConsumerT:
        return FetchConsumer(
            self.transport,
            callback=self.topics.on_message,
            loop=self.transport.loop,
            on_partitions_revoked=self._on_partitions_revoked,
            on_partitions_assigned=self._on_partitions_assigned,
            beacon=self.beacon,
        )


def create_app(settings: Settings) -> WorkerApp:
    """A Faust app whose group id is `worker_id`; in-memory stores (the state is in the rates topic).
    Compressed record batches are expanded only up to `max_decompressed_bytes` in this process."""
    bounded_records.install(settings.max_decompressed_bytes)
    broker = ";".join(f"kafka://{hp.strip()}" for hp in settings.kafka_bootstrap.split(","))
    datadir = settings.data_dir / "faust" / settings.worker_id  # not the working directory
    datadir.mkdir(parents=True, exist_ok=True)
    app = WorkerApp(
        settings.worker_id,
        broker=broker,
        store="memory://",
        datadir=str(datadir),
        autodiscover=False,
        web_enabled=False,
        processing_guarantee="at_least_once",  # exactness comes from checkpoints, see processor.py
        topic_partitions=settings.topic_partitions,
        topic_allow_declare=False,  # topics are created by contracts.topics.ensure_topics
        broker_session_timeout=settings.worker_session_timeout_s,
        broker_heartbeat_interval=min(3.0, settings.worker_session_timeout_s / 3),
        broker_commit_interval=1.0,
        consumer_auto_offset_reset="earliest",
        consumer_max_fetch_size=settings.worker_fetch_max_bytes,
        consumer_metadata_max_age_ms=int(settings.worker_metadata_max_age_s * 1000),
    )
    app.fetch_route = FetchRoute(
        window_s=settings.worker_batch_within_s,
        max_messages=settings.worker_batch_max,
        fetch_wait_s=settings.worker_fetch_wait_s,
    )
    return app
