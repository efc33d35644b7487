"""Build the Faust app from settings: the app object alone, agents live in `streams.agents`."""
from __future__ import annotations

import faust
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import ConsumerT, ProducerT

from contracts.settings import Settings
from streams.fetch_consumer import FetchConsumer, FetchRoute


class IdempotentProducer(faust_aiokafka.Producer):
    """Faust's producer, idempotent outside transactions too.

    Under `at_least_once` Faust leaves aiokafka's idempotence off, so a send retried after a broker
    restart can write a rate batch twice, and the sink would count it twice. With idempotence the
    broker drops the retried copy (per producer id and sequence number)."""

    def _settings_extra(self):  # type: ignore[no-untyped-def]
        return {**super()._settings_extra(), "acks": "all", "enable_idempotence": True}


class WorkerApp(faust.App):
    """A Faust app with the worker's producer and consumer; `fetch_route` names the topics whose
    fetches go whole to a handler (`streams.fetch_consumer`)."""

    fetch_route: FetchRoute

    def _new_producer(self) -> ProducerT:
        return IdempotentProducer(self.transport, loop=self.loop, beacon=self.beacon)

    def _new_consumer(self) -> ConsumerT:
        return FetchConsumer(self.transport, callback=self.topics.on_message, loop=self.transport.loop,
                             on_partitions_revoked=self._on_partitions_revoked,
                             on_partitions_assigned=self._on_partitions_assigned, beacon=self.beacon)


def create_app(settings: Settings) -> WorkerApp:
    """A Faust app whose group id is `worker_id`; in-memory stores (the state is in the rates topic)."""
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
        topic_allow_declare=False,  # topics are created by streams.topics.ensure_topics
        broker_session_timeout=settings.worker_session_timeout_s,
        broker_heartbeat_interval=min(3.0, settings.worker_session_timeout_s / 3),
        broker_commit_interval=1.0,
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        producer_linger_ms=0,
        producer_max_request_size=4 * 1024 * 1024,
        consumer_max_fetch_size=settings.worker_fetch_max_bytes,
    )
    app.fetch_route = FetchRoute(window_s=settings.worker_batch_within_s, max_messages=settings.worker_batch_max)
    return app
