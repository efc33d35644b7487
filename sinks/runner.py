"""The sink loop: consume rate batches, buffer, flush by size or age, and survive store outages.

Memory is bounded by construction: the loop takes polled records into the buffer only while it
holds fewer than `min(sink_batch_rows, sink_max_backlog_rows)` rows; the records of a poll it does
not take are given back (the partition is sought back to the first one), so the buffer never holds
more than that bound plus one rate message. When the store is unreachable the loop pauses every
assigned partition (metric `edu_sink_paused` = 1) and retries the flush with capped exponential
backoff, waiting inside `poll()` so it stays in its consumer group; a record that still arrives
(a partition assigned during the outage) is given back the same way. It never drops a buffered
batch: either it is stored, or the partitions are revoked and the next owner re-reads them from the
offsets stored in ClickHouse (`sink_offsets`).

Retention runs from the same loop on a schedule (`sinks/retention.py`), between flushes.
"""

from __future__ import annotations

import logging
import os
import random
import signal
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from prometheus_client import CollectorRegistry

from contracts.settings import Settings
from sinks.batch import AlertLogBuffer, RateBuffer, stored_offsets
from sinks.health import SinkHealth, report
from sinks.ledger import Interrupted, Ledger
from sinks.metrics import SinkMetrics
from sinks.retention import Dropped, RetentionSchedule
from sinks.store import ChdbStore, ServerStore, StoreError, StoreUnavailable

log = logging.getLogger(__name__)

MAX_POLL_RECORDS = 2000
FETCH_MAX_BYTES = 64 * 1024 * 1024


class SinkConfigError(RuntimeError):
    """A sink that must not run as configured (restarting cannot help): it stops with the reason."""


class Sink:
    def __init__(
        self,
        settings: Settings,
        store: ChdbStore | ServerStore,
        metrics: SinkMetrics,
        topic: str | None = None,
        retention: bool = True,
        buffer: RateBuffer | AlertLogBuffer | None = None,
        ledger: Ledger | None = None,
        health: SinkHealth | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.metrics = metrics
        self.topic = topic or settings.topic_rates
        # One consumer group per topic: members of one group subscribed to different topics make
        # every join a rebalance of all of them. The clicks rates keep the plain group name.
        self.group = (
            settings.sink_group if self.topic == settings.topic_rates else f"{settings.sink_group}.{self.topic}"
        )
        self.buffer = buffer or RateBuffer(self.group, self.topic)
        self.buffer_limit = min(settings.sink_batch_rows, settings.sink_max_backlog_rows)
        self._stop = threading.Event()
        self._consumer = None
        self._config_error: SinkConfigError | None = None
        self.flushes = 0
        self.paused = False
        self.peak_rows = 0
        self.last_stored: dict[int, int] = {}
        shard = settings.sink_shard
        first = shard is None or shard[0] == 0  # retention runs once, not in every instance
        self.retention = (
            RetentionSchedule(store, settings, on_dropped=self._count_dropped) if retention and first else None
        )
        self.ledger = ledger or Ledger(
            store, witness=settings.sink_insert_witness, step_pause_s=settings.sink_fault_step_pause_s
        )
        self.health = health or SinkHealth(f"{self.group}/{self.topic}")
        self.recovery: Interrupted | None = None  # a flush begun before a crash, being re-read
        self._rng = random.Random()
        # Before any sink of this process writes: an unfinished flush's last step becomes uncertain.
        self.ledger.load(self.buffer.consumer, self.topic, stored_offsets(store, self.buffer.consumer, self.topic))

    def stop(self) -> None:
        self._stop.set()

    def describe(self) -> str:
        """One line of state for logs and test failures: where this sink is and what it holds."""
        consumer = self._consumer
        assigned = sorted(tp.partition for tp in consumer.assignment()) if consumer is not None else None
        return (
            f"{self.group}: flushes={self.flushes} buffered={self.buffer.rows} paused={self.paused} "
            f"assigned={assigned} next={dict(sorted(self.buffer.next_offsets.items()))} "
            f"stored={dict(sorted(self.last_stored.items()))} recovery={self.recovery}"
        )

    def _make_consumer(self):
        from kafka import KafkaConsumer
        from kafka.errors import KafkaError

        s = self.settings
        try:
            return KafkaConsumer(
                bootstrap_servers=s.kafka_bootstrap.split(","),
                group_id=self.group,
                # Static membership: a sink restarted after a crash takes its partitions back at once
                # (no rebalance, no wait for the dead member's session to expire), and a second sink
                # of the same group is fenced instead of sharing a flush log with this one.
                group_instance_id=self.group,
                enable_auto_commit=False,
                auto_offset_reset="earliest",
                client_id=self.group,
                max_poll_records=MAX_POLL_RECORDS,
                session_timeout_ms=int(s.worker_session_timeout_s * 1000),
                heartbeat_interval_ms=int(s.worker_session_timeout_s * 1000 / 3),
                max_poll_interval_ms=600_000,
                fetch_max_bytes=FETCH_MAX_BYTES,
                # kafka-python refuses any response frame above this (default 1 MB, less than one
                # fetch of four partitions): it must cover the largest fetch.
                receive_message_max_bytes=FETCH_MAX_BYTES + 1024 * 1024,
            )
        except KafkaError as err:
            raise SystemExit(f"edu-sink: Kafka at {s.kafka_bootstrap} is unreachable: {err!r}") from None

    def _wait_for_topic(self, consumer, topic: str, timeout_s: float = 60.0) -> None:
        """Subscribe only once the topic's partitions are known: a group that joins before the
        topic's metadata reaches this client is assigned nothing and may not rebalance later."""
        deadline = time.monotonic() + timeout_s
        while not consumer.partitions_for_topic(topic) and not self._stop.is_set():
            if time.monotonic() > deadline:
                raise SystemExit(f"edu-sink: topic {topic!r} does not exist on {self.settings.kafka_bootstrap}")
            consumer.poll(timeout_ms=200)  # refreshes metadata; nothing is subscribed yet

    def run(self) -> None:
        from kafka import ConsumerRebalanceListener

        consumer = self._consumer = self._make_consumer()
        sink = self

        class Listener(ConsumerRebalanceListener):
            def on_partitions_revoked(self, revoked):
                if not revoked:
                    return
                if sink.recovery is not None and not sink._recovery_ready():
                    sink.buffer.clear()  # part of a begun flush: the next owner resumes it from the log
                    sink.recovery = None
                    return
                try:
                    sink._flush(commit=False)
                except StoreError as err:
                    log.warning("revoked with an unstored buffer (%s); the next owner re-reads it", err)
                    sink.buffer.clear()
                    sink.metrics.backlog.set(0)

            def on_partitions_assigned(self, assigned):
                try:
                    sink._assigned(consumer, assigned)
                except SinkConfigError as err:  # kafka-python logs and swallows a listener's errors
                    sink._config_error = err

        self._wait_for_topic(consumer, self.topic)
        shard = self.settings.sink_shard
        if shard is None:
            consumer.subscribe([self.topic], listener=Listener())
        else:  # instance I of N: its partitions, statically (no group membership, no rebalance)
            from kafka import TopicPartition

            i, n = shard
            mine = [
                TopicPartition(self.topic, p) for p in sorted(consumer.partitions_for_topic(self.topic)) if p % n == i
            ]
            if mine:
                consumer.assign(mine)
                self._assigned(consumer, mine)
            else:
                log.warning("%s: instance %d of %d has no partition of %s to read", self.group, i, n, self.topic)
                self._stop.wait()
        try:
            while not self._stop.is_set():
                polled = consumer.poll(timeout_ms=200, max_records=MAX_POLL_RECORDS)
                if self._config_error is not None:
                    raise self._config_error
                self._take(consumer, polled.items())
                if self.recovery is not None:
                    if self._recovery_ready():
                        self._flush_or_pause(consumer)
                elif self.buffer.rows >= self.buffer_limit or (
                    self.buffer.age() >= self.settings.sink_flush_interval_s
                ):
                    self._flush_or_pause(consumer)
                if self.retention is not None:
                    self.retention.tick()
            if self.recovery is None:
                self._with_retry(lambda: self._flush(commit=True), give_up=self._stop.is_set)
        finally:
            consumer.close(autocommit=False)

    def _assigned(self, consumer, assigned) -> None:
        """Seek each partition to the offset stored in ClickHouse and find a flush a crash interrupted."""
        stored = self._with_retry(lambda: stored_offsets(self.store, self.buffer.consumer, self.topic))
        foreign = self._with_retry(lambda: self.ledger.foreign_unfinished(self.buffer.consumer, self.topic, stored))
        if foreign:
            raise SinkConfigError(
                f"{self.group}: flushes interrupted under {foreign} are not stored yet, and only a sink with "
                f"that EDU_SINK_INSTANCE (after the '@') can resume them: start it so once, then change the "
                f"instances (this sink: {self.settings.sink_instance or 'no instance'})"
            )
        # Every assigned partition starts where ClickHouse says, or at the beginning if it
        # never stored one: Kafka's committed offsets are only a hint.
        fresh = [tp for tp in assigned if tp.partition not in stored]
        for tp in assigned:
            if tp.partition in stored:
                consumer.seek(tp, stored[tp.partition])
        if fresh:
            consumer.seek_to_beginning(*fresh)
        self.recovery = self._with_retry(lambda: self.ledger.interrupted(self.buffer.consumer, self.topic, stored))
        if self.recovery is not None:
            log.warning(
                "%s: resuming a flush interrupted at step %d (%s): re-reading %s up to %s",
                self.group,
                self.recovery.step,
                self.recovery.key,
                stored,
                self.recovery.ends,
            )
            missing = set(self.recovery.ends) - {tp.partition for tp in assigned}
            if missing:
                log.error(
                    "%s: the interrupted flush covers partitions %s not assigned here; it "
                    "resumes once they are (one sink per group, or instances I/N of one N)",
                    self.group,
                    sorted(missing),
                )
        log.info(
            "%s: assigned partitions %s, reading from %s",
            self.group,
            sorted(tp.partition for tp in assigned),
            stored,
        )
        if self.paused:  # assigned during an outage: stay paused until the flush succeeds
            consumer.pause(*assigned)

    def _take(self, consumer, polled: Iterable) -> None:
        """Buffer polled records up to the limit; seek back to the first record not taken.

        While a flush interrupted by a crash is re-read, exactly its records are taken (up to its end
        offsets, whatever the limit) and every partition is held at that end until it is stored."""
        recovery = self.recovery
        for tp, records in polled:
            end = recovery.ends.get(tp.partition, -1) if recovery is not None else None
            for rec in records:
                full = self.buffer.rows >= self.buffer_limit if end is None else rec.offset >= end
                if self.paused or full:
                    consumer.seek(tp, rec.offset)  # given back: read again after the next flush
                    if self.paused or end is not None:
                        consumer.pause(tp)
                    break
                self.buffer.add_raw(tp.partition, rec.offset, rec.value)
        rows = self.buffer.rows
        if rows > self.peak_rows:
            self.peak_rows = rows
            self.metrics.backlog_peak.set(rows)
        self.metrics.backlog.set(rows)

    def _recovery_ready(self) -> bool:
        r = self.recovery
        return r is not None and all(self.buffer.next_offsets.get(p) == o for p, o in r.ends.items())

    def _flush(self, commit: bool) -> None:
        offsets = dict(self.buffer.next_offsets)
        newest = self.buffer.newest_time()
        resume = self.recovery if self._recovery_ready() else None
        with self.metrics.insert_seconds.time():
            written = self.buffer.flush(self.store, self.ledger, resume)
        if resume is not None:
            log.warning("%s: the interrupted flush is stored (its missing steps only)", self.group)
            self.recovery = None
            if self._consumer is not None and not self.paused:
                self._consumer.resume(*self._consumer.paused())
        for table, n in written.items():
            self.metrics.rows.labels(table).inc(n)
        if offsets:
            self.metrics.batches.inc()
            self.flushes += 1
            self.last_stored.update(offsets)
        self.metrics.store_up.set(1)
        self.metrics.backlog.set(0)
        self.health.flushed(newest)
        self.metrics.last_flush.set_to_current_time()
        if newest is not None and newest > self.metrics.newest_data._value.get():
            self.metrics.newest_data.set(newest)
        if commit and offsets and self._consumer is not None:
            from kafka import OffsetAndMetadata, TopicPartition

            assigned = {tp.partition for tp in self._consumer.assignment()}
            commits = {
                TopicPartition(self.topic, p): OffsetAndMetadata(o, "", -1) for p, o in offsets.items() if p in assigned
            }
            if commits:
                try:
                    self._consumer.commit(commits)
                except Exception as err:  # a hint only: the offsets that count are in ClickHouse
                    log.warning("Kafka offset commit failed (harmless, offsets are stored): %r", err)

    def _flush_or_pause(self, consumer) -> None:
        try:
            self._flush(commit=True)
            return
        except StoreUnavailable as err:
            log.warning("%s: store unavailable (%s), pausing consumption: %s", self.group, err.classified, err)
            self.metrics.store_up.set(0)
            self.metrics.retries.inc()
            self.health.store_down(f"{err.classified}: {str(err)[:300]}")
        self.paused = True
        self.metrics.paused.set(1)
        consumer.pause(*consumer.assignment())

        def wait(seconds: float) -> None:
            # Stay in the group (poll drives heartbeats and rebalances); nothing should arrive
            # while paused, and whatever does (a partition assigned meanwhile) is given back.
            deadline = time.monotonic() + seconds
            while not self._stop.is_set():
                left = deadline - time.monotonic()
                if left <= 0:
                    return
                self._take(consumer, consumer.poll(timeout_ms=int(min(left, 0.5) * 1000)).items())

        try:
            self._with_retry(lambda: self._flush(commit=True), wait=wait, give_up=self._stop.is_set)
        finally:
            self.paused = False
            self.metrics.paused.set(0)
            if self.recovery is None:
                consumer.resume(*consumer.paused())

    def _with_retry(
        self,
        fn: Callable[[], object],
        wait: Callable[[float], object] | None = None,
        give_up: Callable[[], bool] = lambda: False,
    ):
        """Call fn until it succeeds or fails for good; between tries wait (in poll, or on the stop
        event) for a capped exponential delay with jitter (so sinks do not retry in step). Only
        transient errors are retried (`sinks/errors.py`); a permanent one propagates."""
        delay = 0.1
        while True:
            try:
                return fn()
            except StoreUnavailable as err:
                self.metrics.store_up.set(0)
                self.metrics.retries.inc()
                self.health.store_down(f"{err.classified}: {str(err)[:300]}")
                if give_up():
                    raise
                pause = delay * self._rng.uniform(0.5, 1.0)  # "equal jitter": never above the cap
                log.warning("%s: store unavailable (%s), retry in %.1fs: %s", self.group, err.classified, pause, err)
                (wait or self._stop.wait)(pause)
                delay = min(delay * 2, self.settings.sink_retry_max_s)

    def reset(self) -> None:
        """Forget what is buffered before a restart of `run()`: it is read again from the stored
        offsets, and a flush left half done is resumed from the log."""
        self.buffer.clear()
        self.recovery = None
        self.paused = False
        self.metrics.paused.set(0)
        self._stop.clear()

    def _count_dropped(self, dropped: list[Dropped]) -> None:
        for d in dropped:
            self.metrics.retention_dropped.labels(d.table).inc()
        self.metrics.retention_last_run.set_to_current_time()


class SinkThread:
    """A sink running in a daemon thread of this process (local mode: the chDB owner), supervised.

    A permanent storage error stops it for good (restarting cannot fix a schema mismatch); anything
    else unexpected (a Kafka client error, a bug) restarts `run()` after a pause, at most
    `max_restarts` times in a row without a flush in between. When it stops for good, `on_fatal`
    runs (local mode: stop the process, so the cockpit does not go on showing frozen numbers), and
    `check()` raises.
    """

    def __init__(
        self, sink: Sink, on_fatal: Callable[[BaseException], None] | None = None, max_restarts: int = 5
    ) -> None:
        self.sink = sink
        self.error: BaseException | None = None
        self.on_fatal = on_fatal
        self.max_restarts = max_restarts
        self.thread = threading.Thread(target=self._run, name="edu-sink", daemon=True)

    def _run(self) -> None:
        sink, restarts = self.sink, 0
        while True:
            flushes = sink.flushes
            try:
                sink.health.set_state("running")
                sink.run()
                sink.health.set_state("stopped")
                return
            except BaseException as err:
                permanent = isinstance(err, SinkConfigError) or (
                    isinstance(err, StoreError) and not isinstance(err, StoreUnavailable)
                )
                restarts = 0 if sink.flushes > flushes else restarts + 1
                if sink._stop.is_set() or permanent or restarts > self.max_restarts:
                    self._fail(err, permanent)
                    return
                sink.health.restarts += 1
                log.exception("%s: sink died; restart %d of %d", sink.group, restarts, self.max_restarts)
                if sink._stop.wait(min(2.0**restarts, sink.settings.sink_retry_max_s)):
                    return
                sink.reset()

    def _fail(self, err: BaseException, permanent: bool) -> None:
        self.error = err
        what = "permanent storage error" if permanent else "sink failed"
        self.sink.health.failed(f"{what}: {err}")
        self.sink.metrics.running.set(0)
        log.critical("%s: %s, the sink stops: %s", self.sink.group, what, err, exc_info=err)
        if self.on_fatal is not None:
            self.on_fatal(err)

    def check(self) -> None:
        if self.error is not None:
            raise RuntimeError(f"sink thread died: {self.error!r}") from self.error

    def stop(self, timeout: float = 30.0) -> None:
        self.sink.stop()
        self.thread.join(timeout)
        self.check()


class SinkThreads:
    """One sink thread per rates topic (clicks, sessions), stopped and checked together."""

    def __init__(self, threads: list[SinkThread]) -> None:
        self.threads = threads
        self.sink = threads[0].sink  # the clicks sink (runs retention)

    def check(self) -> None:
        for t in self.threads:
            t.check()

    def health(self) -> dict[str, object]:
        """What /healthz reports: see `sinks.health.report`."""
        return report([t.sink.health for t in self.threads])

    def describe(self) -> str:
        return "; ".join(t.sink.describe() for t in self.threads)

    def stop(self, timeout: float = 30.0) -> None:
        for t in self.threads:
            t.sink.stop()
        for t in self.threads:
            t.stop(timeout)


def stop_process(err: BaseException) -> None:
    """`on_fatal` for local mode: end this process the way SIGTERM does (the cockpit shuts down)."""
    log.critical("stopping the process: its sink cannot go on (%s)", err)
    os.kill(os.getpid(), signal.SIGTERM)


def sinks_for(settings: Settings, store: ChdbStore | ServerStore, metrics: SinkMetrics) -> list[Sink]:
    """The sinks a deployment runs: clicks rates (with retention), session rates, the alert log.

    They share one ledger: their inserts into one store go one step at a time (`sinks/ledger.py`)."""
    if isinstance(store, ServerStore):
        server = store

        def count_orphans(removed: list[Any]) -> None:
            for orphan in removed:
                metrics.orphan_parts.labels(orphan.table).inc()

        server.on_orphans_removed = count_orphans
        metrics.orphan_sweep_pending.set_function(lambda: float(server.orphans_suspected))
    ledger = Ledger(
        store,
        witness=settings.sink_insert_witness,
        step_pause_s=settings.sink_fault_step_pause_s,
        instance=settings.sink_instance,
    )
    return [
        Sink(settings, store, metrics, settings.topic_rates, retention=True, ledger=ledger),
        Sink(settings, store, metrics, settings.topic_session_rates, retention=False, ledger=ledger),
        Sink(
            settings,
            store,
            metrics,
            settings.topic_alerts,
            retention=False,
            ledger=ledger,
            buffer=AlertLogBuffer(f"{settings.sink_group}.{settings.topic_alerts}", settings.topic_alerts),
        ),
    ]


def start_sink_thread(
    settings: Settings,
    store: ChdbStore | ServerStore,
    registry: CollectorRegistry | None = None,
    on_fatal: Callable[[BaseException], None] | None = None,
) -> SinkThreads:
    """Run the sinks beside whatever else this process does (the cockpit, a test). `on_fatal` runs
    when a sink stops for good (local mode passes `stop_process`); otherwise watch `check()`."""
    metrics = SinkMetrics.create(registry or CollectorRegistry())
    metrics.running.set(1)
    threads = [SinkThread(sink, on_fatal) for sink in sinks_for(settings, store, metrics)]
    for t in threads:
        t.thread.start()
    return SinkThreads(threads)
