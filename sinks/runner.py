"""The sink loop: consume rate batches, buffer, flush by size or age, and survive store outages.

When the store is unreachable the loop pauses its partitions (so memory stays bounded by one
buffer) and retries with capped exponential backoff, waiting inside `poll()` so it stays in its
consumer group. It never drops a buffered batch: either it is stored, or the partition is revoked
and the next owner re-reads it from the offsets stored in ClickHouse.
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from prometheus_client import CollectorRegistry

from contracts.rates import decode_batch
from contracts.settings import Settings
from sinks.batch import RateBuffer, stored_offsets
from sinks.metrics import SinkMetrics
from sinks.store import ChdbStore, ServerStore, StoreError, StoreUnavailable

log = logging.getLogger(__name__)


class Sink:
    def __init__(self, settings: Settings, store: ChdbStore | ServerStore, metrics: SinkMetrics) -> None:
        self.settings = settings
        self.store = store
        self.metrics = metrics
        self.buffer = RateBuffer(settings.sink_group, settings.topic_rates)
        self._stop = threading.Event()
        self._consumer = None  # type: ignore[var-annotated]
        self.flushes = 0

    def stop(self) -> None:
        self._stop.set()

    def _make_consumer(self):  # type: ignore[no-untyped-def]
        from kafka import KafkaConsumer
        from kafka.errors import KafkaError

        s = self.settings
        try:
            return KafkaConsumer(
                bootstrap_servers=s.kafka_bootstrap.split(","), group_id=s.sink_group,
                enable_auto_commit=False, auto_offset_reset="earliest", client_id=f"{s.sink_group}",
                max_poll_records=2000, session_timeout_ms=int(s.worker_session_timeout_s * 1000),
                heartbeat_interval_ms=int(s.worker_session_timeout_s * 1000 / 3),
                max_poll_interval_ms=600_000, fetch_max_bytes=64 * 1024 * 1024,
            )
        except KafkaError as err:
            raise SystemExit(f"edu-sink: Kafka at {s.kafka_bootstrap} is unreachable: {err!r}") from None

    def run(self) -> None:
        from kafka import ConsumerRebalanceListener, TopicPartition

        consumer = self._consumer = self._make_consumer()
        sink = self

        class Listener(ConsumerRebalanceListener):
            def on_partitions_revoked(self, revoked):  # type: ignore[no-untyped-def]
                if not revoked:
                    return
                try:
                    sink._flush(commit=False)
                except StoreError as err:
                    log.warning("revoked with an unstored buffer (%s); the next owner re-reads it", err)
                    sink.buffer.clear()

            def on_partitions_assigned(self, assigned):  # type: ignore[no-untyped-def]
                stored = sink._with_retry(lambda: stored_offsets(sink.store, sink.settings.sink_group,
                                                                 sink.settings.topic_rates))
                for tp in assigned:
                    if tp.partition in stored:
                        consumer.seek(tp, stored[tp.partition])

        consumer.subscribe([self.settings.topic_rates], listener=Listener())
        try:
            while not self._stop.is_set():
                polled = consumer.poll(timeout_ms=200, max_records=2000)
                for tp, records in polled.items():
                    for rec in records:
                        self.buffer.add(tp.partition, rec.offset, decode_batch(rec.value))
                self.metrics.backlog.set(self.buffer.rows)
                if self.buffer.rows >= self.settings.sink_batch_rows or (
                    self.buffer.age() >= self.settings.sink_flush_interval_s
                ):
                    self._flush_or_pause(consumer, TopicPartition)
            self._with_retry(lambda: self._flush(commit=True), give_up=self._stop.is_set)
        finally:
            consumer.close(autocommit=False)

    def _flush(self, commit: bool) -> None:
        offsets = dict(self.buffer.next_offsets)
        with self.metrics.insert_seconds.time():
            written = self.buffer.flush(self.store)
        for table, n in written.items():
            self.metrics.rows.labels(table).inc(n)
        if offsets:
            self.metrics.batches.inc()
            self.flushes += 1
        self.metrics.store_up.set(1)
        self.metrics.backlog.set(0)
        if commit and offsets and self._consumer is not None:
            from kafka import OffsetAndMetadata, TopicPartition

            self._consumer.commit({TopicPartition(self.settings.topic_rates, p): OffsetAndMetadata(o, "", -1)
                                   for p, o in offsets.items()})

    def _flush_or_pause(self, consumer, TopicPartition) -> None:  # type: ignore[no-untyped-def]
        try:
            self._flush(commit=True)
            return
        except StoreUnavailable as err:
            log.warning("store unavailable, pausing consumption: %s", err)
        paused = consumer.assignment()
        consumer.pause(*paused)
        try:
            self._with_retry(lambda: self._flush(commit=True), wait=lambda s: consumer.poll(timeout_ms=int(s * 1000)),
                             give_up=self._stop.is_set)
        finally:
            consumer.resume(*[tp for tp in paused if tp in consumer.assignment()])

    def _with_retry(self, fn: Callable[[], object], wait: Callable[[float], object] | None = None,
                    give_up: Callable[[], bool] = lambda: False):  # type: ignore[no-untyped-def]
        """Call fn until it succeeds; between tries wait (in poll, or on the stop event)."""
        delay = 0.1
        while True:
            try:
                return fn()
            except StoreUnavailable as err:
                self.metrics.store_up.set(0)
                self.metrics.retries.inc()
                if give_up():
                    raise
                log.warning("store unavailable, retry in %.1fs: %s", delay, err)
                (wait or self._stop.wait)(delay)
                delay = min(delay * 2, self.settings.sink_retry_max_s)


class SinkThread:
    """A sink running in a daemon thread of this process (local mode: the chDB owner)."""

    def __init__(self, sink: Sink) -> None:
        self.sink = sink
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="edu-sink", daemon=True)

    def _run(self) -> None:
        try:
            self.sink.run()
        except BaseException as err:  # surfaced by .stop() and .check()
            self.error = err
            log.exception("sink thread died")

    def check(self) -> None:
        if self.error is not None:
            raise RuntimeError(f"sink thread died: {self.error!r}") from self.error

    def stop(self, timeout: float = 30.0) -> None:
        self.sink.stop()
        self.thread.join(timeout)
        self.check()


def start_sink_thread(settings: Settings, store: ChdbStore | ServerStore,
                      registry: CollectorRegistry | None = None) -> SinkThread:
    """Run the sink beside whatever else this process does (the cockpit, a test)."""
    metrics = SinkMetrics.create(registry or CollectorRegistry())
    handle = SinkThread(Sink(settings, store, metrics))
    handle.thread.start()
    return handle
