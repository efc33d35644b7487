"""Exact counts through scale-out, crashes, broker restarts and late data.

Each test runs the real parts: kafka-python producer -> Kafka -> `edu-worker` subprocess(es) ->
rates topic -> two in-process sinks -> the session chDB store AND a ClickHouse server. It then waits
until the pipeline is drained (every source offset covered by the rates topic, every rates offset
stored by both sinks) and compares the stored totals, the per (platform, province) counts and the
per-minute counts with the ground truth computed here from the events sent.

Besides the stores, the rates topic itself is checked: per partition its batches must cover the
source offsets contiguously, without gap (loss) or overlap (double count). That invariant is what
the checkpoint mechanism in `streams/processor.py` promises, and a broken one names the partition
and offsets, which a wrong total alone would not.
"""

from __future__ import annotations

import copy
import threading
import time
import urllib.request
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from contracts.deadletter import decode_record
from contracts.events import Click, encode
from contracts.rates import RateBatch, decode_batch
from contracts.settings import Settings, settings_env
from contracts.topics import ensure_topics
from ops.local_process import free_port
from sinks.batch import stored_offsets
from sinks.migrate import migrate
from sinks.runner import start_sink_thread
from sinks.store import ServerStore
from tests.conftest import make_settings
from tests.support import WorkerProcess, known_clicks, producer, truth_by_platform_province, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.exactness]

DAY_MS = 86_400_000
T0 = 1_647_216_000_000 + 10 * DAY_MS  # 2022-03-24 08:00 Beijing; each test takes its own day


# --------------------------------------------------------------------------------------------------
# Kafka helpers
# --------------------------------------------------------------------------------------------------


class RatesTail:
    """Reads the whole rates topic from the start and keeps every batch, per source partition."""

    def __init__(self, settings: Settings) -> None:
        from kafka import KafkaConsumer, TopicPartition

        self.settings = settings
        self.consumer = KafkaConsumer(
            bootstrap_servers=settings.kafka_bootstrap.split(","),
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            fetch_max_bytes=64 * 1024 * 1024,
            receive_message_max_bytes=65 * 1024 * 1024,
        )
        self.tps = [TopicPartition(settings.topic_rates, p) for p in range(settings.topic_partitions)]
        self.consumer.assign(self.tps)
        self.consumer.seek_to_beginning(*self.tps)
        self.batches: dict[int, list[RateBatch]] = defaultdict(list)

    def poll(self, timeout: float = 30) -> int:
        """Read up to the end offsets as of now (a consistent snapshot); returns the new batches."""
        ends = self.consumer.end_offsets(self.tps)
        new = 0
        deadline = time.monotonic() + timeout
        while any(self.consumer.position(tp) < ends[tp] for tp in self.tps):
            assert time.monotonic() < deadline, f"rates not read to {ends} in {timeout}s"
            for tp, records in self.consumer.poll(timeout_ms=200, max_records=10_000).items():
                for rec in records:
                    self.batches[tp.partition].append(decode_batch(rec.value))
                    new += 1
        return new

    def count(self) -> int:
        return sum(len(b) for b in self.batches.values())

    def last_offsets(self) -> dict[int, int]:
        return {p: b[-1].last_offset for p, b in self.batches.items() if b}

    def events(self) -> int:
        return sum(x.events for b in self.batches.values() for x in b)

    def rejects(self) -> Counter[str]:
        out: Counter[str] = Counter()
        for b in self.batches.values():
            for x in b:
                out.update(x.rejects)
        return out

    def coverage_errors(self, source_ends: dict[int, int]) -> list[str]:
        """Gaps and overlaps: batches of partition p must cover [0, end) exactly once, in order."""
        errors = []
        for p, end in source_ends.items():
            expected_first = 0
            for x in self.batches.get(p, []):
                if x.first_offset != expected_first:
                    kind = "overlap (double count)" if x.first_offset < expected_first else "gap (loss)"
                    errors.append(
                        f"p{p}: batch [{x.first_offset}, {x.last_offset}] after offset {expected_first - 1}: {kind}"
                    )
                expected_first = max(expected_first, x.last_offset + 1)
            if expected_first != end:
                errors.append(f"p{p}: rates cover up to {expected_first - 1}, source ends at {end - 1}")
        return errors

    def close(self) -> None:
        self.consumer.close(autocommit=False)


def wait_topics_visible(settings: Settings, topics: list[str], timeout: float = 30) -> None:
    """Wait until a new client's metadata lists every partition of `topics`.

    Works around a race in the sink (see docs/storage.md): a kafka-python consumer that
    subscribes before the broker's metadata lists a just-created topic gets no partitions, and
    does not ask again for the 5 minutes of metadata_max_age_ms.
    """
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap.split(","), group_id=None, enable_auto_commit=False
    )
    try:
        wait_for(
            lambda: all(len(consumer.partitions_for_topic(t) or ()) == settings.topic_partitions for t in topics),
            timeout,
            f"metadata for {topics}",
        )
    finally:
        consumer.close(autocommit=False)


def end_offsets(bootstrap: str, topic: str, partitions: int) -> dict[int, int]:
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=bootstrap.split(","), group_id=None, enable_auto_commit=False)
    try:
        tps = [TopicPartition(topic, p) for p in range(partitions)]
        return {tp.partition: off for tp, off in consumer.end_offsets(tps).items()}
    finally:
        consumer.close(autocommit=False)


class GroupOffsets:
    """A consumer group's committed offsets (the next offset it will read), through one admin client."""

    def __init__(self, bootstrap: str, group: str, topic: str) -> None:
        from kafka import KafkaAdminClient

        self.admin = KafkaAdminClient(bootstrap_servers=bootstrap.split(","))
        self.group, self.topic = group, topic

    def committed(self) -> dict[int, int]:
        got = self.admin.list_consumer_group_offsets(self.group)
        return {tp.partition: meta.offset for tp, meta in got.items() if tp.topic == self.topic}

    def close(self) -> None:
        self.admin.close()


def sent_not_committed(checkpoint: dict[int, int], committed: dict[int, int]) -> int:
    """Source messages whose rate batch is out but whose offset is not committed: a restart re-reads them."""
    return sum(max(0, last + 1 - committed.get(p, 0)) for p, last in checkpoint.items())


def read_topic(settings: Settings, topic: str, timeout: float = 60) -> list[bytes]:
    """Every message value of `topic`, from the beginning to its end offsets as of now."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap.split(","),
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        receive_message_max_bytes=65 * 1024 * 1024,
    )
    try:
        tps = [TopicPartition(topic, p) for p in range(settings.topic_partitions)]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        ends = consumer.end_offsets(tps)
        values: list[bytes] = []

        def at_end() -> bool:
            for recs in consumer.poll(timeout_ms=200).values():
                values.extend(r.value for r in recs)
            return all(consumer.position(tp) >= ends[tp] for tp in tps)

        wait_for(at_end, timeout, f"{topic} read to its end offsets {ends}", interval=0)
        return values
    finally:
        consumer.close(autocommit=False)


def scrape(port: int) -> dict[str, float]:
    """Samples of a worker's /metrics page as {name{labels}: value} (label values only)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
        text = resp.read().decode()
    out: dict[str, float] = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out[s.name] = out.get(s.name, 0.0) + s.value  # summed over label sets
    return out


class PacedSender(threading.Thread):
    """Sends events as a live stream: messages at a steady rate, in a thread.

    The pacing stands for real traffic arriving over time; it is not a wait for a condition. With
    `hold_at`, the stream stops after that many messages until `release()`, so a test can be sure
    the stream is still going when it kills or restarts something, however fast the pipeline was.
    `messages` is a list of (partition or None, key, value).
    """

    def __init__(
        self,
        bootstrap: str,
        topic: str,
        messages: list[tuple[int | None, bytes | None, bytes]],
        messages_per_s: float,
        hold_at: int | None = None,
    ) -> None:
        super().__init__(name="paced-sender", daemon=True)
        self.bootstrap, self.topic, self.messages, self.rate = bootstrap, topic, messages, messages_per_s
        self.hold_at = hold_at
        self.sent = 0
        self.error: BaseException | None = None
        self._halt = threading.Event()
        self._gate = threading.Event()

    def run(self) -> None:
        try:
            prod = producer(self.bootstrap)
            futures = []
            t0 = time.monotonic()
            for i, (partition, key, value) in enumerate(self.messages):
                if i == self.hold_at:
                    if not self._gate.wait(300):
                        raise TimeoutError("sender held for 300 s: release() never came")
                    t0 = time.monotonic() - i / self.rate
                delay = t0 + i / self.rate - time.monotonic()
                if self._halt.is_set() or (delay > 0 and self._halt.wait(delay)):
                    break
                futures.append(prod.send(self.topic, key=key, value=value, partition=partition))
                self.sent = i + 1
            prod.flush(120)
            for f in futures:
                f.get(timeout=120)  # every message acked (the producer is idempotent: no duplicates)
            prod.close()
        except BaseException as err:  # surfaced by finish()
            self.error = err

    @property
    def held(self) -> bool:
        return self.sent == self.hold_at and not self._gate.is_set()

    @property
    def done(self) -> bool:
        return not self.is_alive()

    def release(self) -> None:
        self._gate.set()

    def finish(self, timeout: float = 180) -> None:
        self.release()
        self.join(timeout)
        assert not self.is_alive(), f"sender still running after {timeout}s ({self.sent} sent)"
        if self.error is not None:
            raise self.error
        assert self.sent == len(self.messages)

    def stop(self) -> None:
        self._halt.set()
        self._gate.set()
        self.join(30)


def client_batches(clicks: list[Click], batch: int = 20) -> list[tuple[int | None, bytes | None, bytes]]:
    return [(None, clicks[i].session.encode(), encode(clicks[i : i + batch])) for i in range(0, len(clicks), batch)]


# --------------------------------------------------------------------------------------------------
# The pipeline under test: sinks into both stores, workers as subprocesses
# --------------------------------------------------------------------------------------------------


@dataclass
class Pipeline:
    settings: Settings
    stores: dict[str, object]
    sinks: dict[str, Any]  # what sinks.runner.start_sink_thread returns: .check(), .stop(), .sink
    tmp: Path
    workers: list[WorkerProcess] = field(default_factory=list)
    _group: GroupOffsets | None = None

    def worker(self, name: str, metrics_port: int = 0) -> WorkerProcess:
        """A worker of the pipeline's group (not started); its /metrics on `metrics_port` if given."""
        s = self.settings.model_copy(update={"worker_metrics_port": metrics_port})
        w = WorkerProcess(s, self.tmp / f"{name}.log", settings_env(s))
        self.workers.append(w)
        return w

    def check_sinks(self) -> None:
        for sink in self.sinks.values():
            sink.check()  # fail at once if a sink thread died

    def total(self, name: str) -> int:
        store = self.stores[name]
        return int(store.query(f"SELECT sum(clicks) FROM {store.database}.clicks_minute")[0][0] or 0)  # type: ignore[attr-defined]

    def drained(self, tail: RatesTail) -> bool:
        """The worker is through the source and every rate batch is stored.

        "Through" means the rates topic covers every source offset, or the worker group committed
        every offset (it commits only what it has processed): the latter also ends the wait when
        output went missing, so the assertions that follow can name the gap instead of timing out.
        """
        self.check_sinks()
        for w in self.workers:
            if w.proc is not None and w.proc.poll() is not None and w.proc.returncode not in (0, -9):
                raise AssertionError(f"worker exited with {w.proc.returncode}:\n{w.log_text()[-3000:]}")
        tail.poll()
        s = self.settings
        source = {
            p: end for p, end in end_offsets(s.kafka_bootstrap, s.topic_clicks, s.topic_partitions).items() if end
        }
        last = tail.last_offsets()
        covered = all(last.get(p, -1) >= end - 1 for p, end in source.items())
        if not covered:
            committed = self.group().committed()
            if not all(committed.get(p, 0) >= end for p, end in source.items()):
                return False
            tail.poll()
        rates = end_offsets(s.kafka_bootstrap, s.topic_rates, s.topic_partitions)
        want = {p: end for p, end in rates.items() if end > 0}
        for name, store in self.stores.items():
            got = stored_offsets(store, self.sinks[name].sink.settings.sink_group, s.topic_rates)  # type: ignore[arg-type]
            if got != want:
                return False
        return True

    def group(self) -> GroupOffsets:
        if self._group is None:
            self._group = GroupOffsets(
                self.settings.kafka_bootstrap, self.settings.worker_id, self.settings.topic_clicks
            )
        return self._group

    def wait_drained(self, tail: RatesTail, timeout: float = 150) -> None:
        wait_for(
            lambda: self.drained(tail),
            timeout,
            "pipeline drained (rates cover the source, sinks stored all)",
            interval=0.3,
            describe=lambda: {n: self.total(n) for n in self.stores},
        )

    def wait_processed(self, n: int, sender: PacedSender, tail: RatesTail, timeout: float = 60) -> None:
        """Wait until the rates topic accounts for at least n events (the worker's progress)."""

        def progress() -> dict[str, object]:
            return {
                "sent_messages": sender.sent,
                "rates_events": tail.events(),
                **{name: self.total(name) for name in self.stores},
            }

        wait_for(
            lambda: self.check_sinks() or (tail.poll() >= 0 and tail.events() >= n),
            timeout,
            f"{n} events in the rates topic",
            describe=progress,
        )

    def rates_ends(self) -> dict[int, int]:
        s = self.settings
        return end_offsets(s.kafka_bootstrap, s.topic_rates, s.topic_partitions)

    def source_ends(self) -> dict[int, int]:
        s = self.settings
        return end_offsets(s.kafka_bootstrap, s.topic_clicks, s.topic_partitions)


def chdb_in_database(store, database: str):  # type: ignore[no-untyped-def]
    """The session chDB store seen under a private database name.

    A process can open one chDB data path once, and the session store is bound to one database;
    a shallow copy shares its session and lock but reads and writes `database`. Never close it.
    """
    view = copy.copy(store)
    view.database = database
    view.command(f"CREATE DATABASE IF NOT EXISTS {database}")
    return view


@contextmanager
def pipeline(
    settings: Settings,
    chdb_session_store,
    clickhouse_server: tuple[str, int],  # type: ignore[no-untyped-def]
    tmp: Path,
) -> Iterator[Pipeline]:
    ensure_topics(settings)
    wait_topics_visible(settings, [settings.topic_clicks, settings.topic_rates])
    chdb = chdb_in_database(chdb_session_store, settings.clickhouse_database)
    server = ServerStore(*clickhouse_server, settings.clickhouse_database, "default", "", True)
    stores = {"chdb": chdb, "server": server}
    for store in stores.values():
        migrate(store)
    sinks = {
        name: start_sink_thread(
            settings.model_copy(update={"sink_group": f"{settings.sink_group}-{name}"}), store, CollectorRegistry()
        )
        for name, store in stores.items()
    }
    pipe = Pipeline(settings, stores, sinks, tmp)
    try:
        yield pipe
    finally:
        for w in pipe.workers:
            w.stop()
        if pipe._group is not None:
            pipe._group.close()
        for sink in sinks.values():
            sink.stop()
        server.close()


# --------------------------------------------------------------------------------------------------
# Ground truth and the comparison with both stores
# --------------------------------------------------------------------------------------------------


def minute_of(ts_ms: int) -> int:
    return ts_ms // 60_000 * 60


def assert_exact(pipe: Pipeline, on_time: list[Click], late: list[Click] | None = None) -> None:
    """Stored totals, per (platform, province) and per minute equal the truth, in both engines."""
    late = late or []
    want_pp = truth_by_platform_province(on_time)
    want_minute = Counter(minute_of(c.ts) for c in on_time)
    want_late = Counter((minute_of(c.ts), c.platform, c.province) for c in late)
    for name, store in pipe.stores.items():
        db = store.database  # type: ignore[attr-defined]
        q = store.query  # type: ignore[attr-defined]
        total = pipe.total(name)
        assert total == len(on_time), f"{name}: {total} clicks stored, {len(on_time)} sent on time"
        got_pp = Counter(
            {
                (pl, pr): int(n)
                for pl, pr, n in q(
                    f"SELECT toString(platform), toString(province), sum(clicks) FROM {db}.clicks_minute "
                    "GROUP BY platform, province"
                )
            }
        )
        assert got_pp == want_pp, f"{name}: per (platform, province) differs: {_diff(got_pp, want_pp)}"
        got_minute = {
            int(m): int(n)
            for m, n in q(f"SELECT toUInt32(minute), sum(clicks) FROM {db}.clicks_minute GROUP BY minute")
        }
        assert got_minute == dict(want_minute), f"{name}: per minute differs: {_diff(got_minute, want_minute)}"
        got_late = Counter(
            {
                (int(m), pl, pr): int(n)
                for m, pl, pr, n in q(
                    f"SELECT toUInt32(minute), toString(platform), toString(province), sum(events) "
                    f"FROM {db}.late_events GROUP BY minute, platform, province"
                )
            }
        )
        assert got_late == want_late, f"{name}: late events differ: {_diff(got_late, want_late)}"


def _diff(got, want) -> dict:  # type: ignore[no-untyped-def]
    """The keys whose counts differ, as {key: (stored, truth)}, at most 10."""
    keys = sorted(set(got) | set(want), key=str)
    return dict([(k, (got.get(k, 0), want.get(k, 0))) for k in keys if got.get(k, 0) != want.get(k, 0)][:10])


def assert_rates_cover_source(pipe: Pipeline, tail: RatesTail, valid_events: int) -> None:
    tail.poll()
    assert tail.coverage_errors(pipe.source_ends()) == []
    assert tail.events() == valid_events


# --------------------------------------------------------------------------------------------------
# a. two workers in one group
# --------------------------------------------------------------------------------------------------


def test_two_workers_share_partitions_and_count_exactly(
    kafka, clickhouse_server, chdb_session_store, tmp_path: Path
) -> None:
    """The second worker joins mid-stream (a rebalance under load); both end with partitions."""
    s = make_settings(kafka)
    clicks = known_clicks(60_000, seed=41, start_ms=T0, span_ms=2 * 3600_000)
    messages = client_batches(clicks)
    ports = [free_port(), free_port()]
    with pipeline(s, chdb_session_store, clickhouse_server, tmp_path) as pipe:
        tail = RatesTail(s)
        # 6,000 events/s; held at 75 % until the second worker is in.
        sender = PacedSender(kafka, s.topic_clicks, messages, messages_per_s=300, hold_at=len(messages) * 3 // 4)
        try:
            w1 = pipe.worker("w1", ports[0]).start()
            sender.start()
            pipe.wait_processed(len(clicks) // 6, sender, tail)
            w2 = pipe.worker("w2", ports[1]).start()
            sender.finish()
            pipe.wait_drained(tail)
            assert_rates_cover_source(pipe, tail, len(clicks))
            assert_exact(pipe, clicks)
            # Both shared the load, and together processed each event once.
            processed = [scrape(p).get("edu_worker_events_processed_total", 0.0) for p in ports]
            assert all(n > 0 for n in processed), processed
            assert sum(processed) == len(clicks), processed
            assert w1.alive() and w2.alive()
        finally:
            sender.stop()
            tail.close()


# --------------------------------------------------------------------------------------------------
# b. a worker SIGKILLed mid-stream and restarted
# --------------------------------------------------------------------------------------------------


def test_worker_killed_mid_stream_and_restarted_counts_exactly(
    kafka, clickhouse_server, chdb_session_store, tmp_path: Path
) -> None:
    """SIGKILL lands while the worker has rate batches out whose source offsets are not committed
    (the case the checkpoint exists for): the restarted worker must re-read and skip exactly those."""
    s = make_settings(kafka)
    clicks = known_clicks(60_000, seed=42, start_ms=T0 + DAY_MS, span_ms=2 * 3600_000)
    messages = client_batches(clicks)
    port = free_port()
    with pipeline(s, chdb_session_store, clickhouse_server, tmp_path) as pipe:
        tail = RatesTail(s)
        group = GroupOffsets(kafka, s.worker_id, s.topic_clicks)
        sender = PacedSender(kafka, s.topic_clicks, messages, messages_per_s=300, hold_at=len(messages) * 3 // 4)
        try:
            worker = pipe.worker("worker", port).start()
            sender.start()
            pipe.wait_processed(len(clicks) // 4, sender, tail)
            replay = 0
            for attempt in range(3):  # a commit may slip in between the check and the kill: try again
                if attempt:
                    sender.release()  # a caught-up worker has nothing uncommitted: let the stream go on
                wait_for(
                    lambda: tail.poll() >= 0 and sent_not_committed(tail.last_offsets(), group.committed()) > 0,
                    30,
                    "a rate batch out whose offsets are not committed",
                    interval=0.02,
                    describe=lambda: (sender.sent, tail.last_offsets(), group.committed()),
                )
                worker.kill()
                assert not sender.done, "the stream ended before the kill"
                tail.poll()
                checkpoint, committed = tail.last_offsets(), group.committed()
                replay = sent_not_committed(checkpoint, committed)
                worker.start()
                if replay > 0:
                    break
            assert replay > 0, f"no kill landed between a send and its commit: {checkpoint} {committed}"
            sender.finish()
            pipe.wait_drained(tail)
            assert_rates_cover_source(pipe, tail, len(clicks))
            assert_exact(pipe, clicks)
            # The restarted worker re-read exactly the sent-but-uncommitted messages and skipped them.
            skipped = scrape(port).get("edu_worker_replayed_messages_skipped_total", 0.0)
            assert skipped == replay, (skipped, replay, checkpoint, committed)
        finally:
            sender.stop()
            group.close()
            tail.close()


# --------------------------------------------------------------------------------------------------
# c. the broker restarted mid-stream
# --------------------------------------------------------------------------------------------------


@pytest.fixture()
def own_kafka(tmp_path: Path) -> Iterator[object]:
    """A broker of this test alone, so it can be restarted without disturbing the session's."""
    from ops.kafka_local import LocalKafka

    broker = LocalKafka(
        free_port(), free_port(), data_dir=tmp_path / "kafka", extra_config={"message.max.bytes": str(4 * 1024 * 1024)}
    )
    broker.fetch()
    broker.start(timeout=90)
    try:
        yield broker
    finally:
        broker.stop()


@pytest.mark.parametrize("how", ["restart", "kill"])
def test_broker_restarted_mid_stream_counts_exactly(
    how: str,
    own_kafka,
    clickhouse_server,  # type: ignore[no-untyped-def]
    chdb_session_store,
    tmp_path: Path,
) -> None:
    broker = own_kafka
    s = make_settings(broker.bootstrap_servers)
    day = {"restart": 2, "kill": 3}[how]
    clicks = known_clicks(40_000, seed=43 + day, start_ms=T0 + day * DAY_MS, span_ms=2 * 3600_000)
    with pipeline(s, chdb_session_store, clickhouse_server, tmp_path) as pipe:
        tail = RatesTail(s)
        messages = client_batches(clicks)
        sender = PacedSender(
            broker.bootstrap_servers, s.topic_clicks, messages, messages_per_s=200, hold_at=len(messages) * 3 // 4
        )
        try:
            worker = pipe.worker("worker").start()
            sender.start()
            pipe.wait_processed(len(clicks) // 4, sender, tail)
            if how == "kill":
                broker.kill()  # SIGKILL: no clean shutdown
                broker.start(timeout=90)
            else:
                broker.restart(timeout=90)
            assert not sender.done, "the stream ended before the broker restart"
            sender.finish()
            pipe.wait_drained(tail, timeout=180)
            assert_rates_cover_source(pipe, tail, len(clicks))
            assert_exact(pipe, clicks)
            assert worker.alive()
        finally:
            sender.stop()
            tail.close()


# --------------------------------------------------------------------------------------------------
# d. late and absurd events
# --------------------------------------------------------------------------------------------------


def late_and_absurd_stream(
    n_per_partition: int, partitions: int, start_ms: int, lateness_ms: int, now_ms: int
) -> tuple[list[list[tuple[int, list[Click]]]], list[Click], list[Click], Counter[str]]:
    """Per partition, messages (partition, events) in send order; and the truth: on time, late, absurd.

    Mostly in-order clicks, with late ones beyond the allowed lateness, late ones within it (which
    must update their minute), far-future and pre-platform timestamps (dead letters), single events
    and client batches mixing all kinds. The truth follows the documented rule, independently of
    how the worker splits the stream into batches: per partition, in offset order, an event is late
    if its time is earlier than (largest valid event time so far) - allowed lateness.
    """
    import random

    rng = random.Random(44)
    base = known_clicks(n_per_partition * partitions, seed=44, start_ms=start_ms, span_ms=3600_000)
    per_partition: list[list[tuple[int, list[Click]]]] = []
    on_time: list[Click] = []
    late: list[Click] = []
    absurd: Counter[str] = Counter()
    for p in range(partitions):
        events: list[Click] = []
        for c in base[p::partitions]:
            events.append(c)
            r = rng.random()
            if r < 0.08:  # beyond the allowed lateness
                events.append(_clone(c, f"{c.id}-late", c.ts - lateness_ms - rng.randrange(1, 20 * 60_000)))
            elif r < 0.16:  # late, but within the allowed lateness (0 included)
                events.append(_clone(c, f"{c.id}-within", c.ts - rng.randrange(0, lateness_ms + 1)))
            elif r < 0.17:
                events.append(_clone(c, f"{c.id}-future", now_ms + 30 * DAY_MS))
            elif r < 0.18:
                events.append(_clone(c, f"{c.id}-past", rng.choice((0, 1_262_304_000_000))))  # 1970, 2010
        messages: list[tuple[int, list[Click]]] = []
        i = 0
        while i < len(events):
            size = rng.choice((1, 1, 5, 20))
            messages.append((p, events[i : i + size]))
            i += size
        per_partition.append(messages)
        wm = 0
        for _, batch in messages:
            for ev in batch:
                if ev.ts > now_ms + 600_000 or ev.ts < 1_577_836_800_000:
                    absurd["time_future" if ev.ts > now_ms else "time_past"] += 1
                    continue
                wm = max(wm, ev.ts)
                (late if ev.ts < wm - lateness_ms else on_time).append(ev)
    return per_partition, on_time, late, absurd


def _clone(c: Click, new_id: str, ts: int) -> Click:
    return Click(**{**{f: getattr(c, f) for f in c.__struct_fields__}, "id": new_id, "ts": ts})


def test_late_events_counted_apart_and_absurd_ones_dead_lettered(
    kafka, clickhouse_server, chdb_session_store, tmp_path: Path
) -> None:
    """Also across a worker restart: the watermark must come back from the checkpoint, or events
    that are late relative to the first half of the stream would be counted as on time."""
    lateness_s = 60
    s = make_settings(kafka, allowed_lateness_s=lateness_s)
    per_partition, on_time, late, absurd = late_and_absurd_stream(
        5_000, s.topic_partitions, T0 + 4 * DAY_MS, lateness_s * 1000, int(time.time() * 1000)
    )
    assert len(late) > 1000 and absurd["time_future"] > 50 and absurd["time_past"] > 50
    # Two halves per partition; the second starts with events late relative to the first.
    halves: list[list[tuple[int | None, bytes | None, bytes]]] = [[], []]
    for messages in per_partition:
        cut = len(messages) // 2
        halves[0] += [(p, None, encode(b[0] if len(b) == 1 else b)) for p, b in messages[:cut]]
        halves[1] += [(p, None, encode(b[0] if len(b) == 1 else b)) for p, b in messages[cut:]]
    first_partition = per_partition[0]
    wm_first_half = max(
        c.ts
        for _, b in first_partition[: len(first_partition) // 2]
        for c in b
        if 1_577_836_800_000 <= c.ts < T0 + 30 * DAY_MS
    )
    halves[1].insert(
        0,
        (
            0,
            None,
            encode(_clone(first_partition[0][1][0], "late-after-restart", wm_first_half - lateness_s * 1000 - 1)),
        ),
    )
    late.append(_clone(first_partition[0][1][0], "late-after-restart", wm_first_half - lateness_s * 1000 - 1))
    sent = len(on_time) + len(late)

    with pipeline(s, chdb_session_store, clickhouse_server, tmp_path) as pipe:
        tail = RatesTail(s)
        try:
            worker = pipe.worker("worker").start()
            for i, half in enumerate(halves):
                if i == 1:
                    worker.kill()
                    worker.start()
                sender = PacedSender(kafka, s.topic_clicks, half, messages_per_s=1e9)  # unpaced
                sender.start()
                sender.finish()
                pipe.wait_drained(tail)
            assert_rates_cover_source(pipe, tail, sent)
            assert_exact(pipe, on_time, late)
            for name, store in pipe.stores.items():
                late_total = int(store.query(f"SELECT sum(events) FROM {store.database}.late_events")[0][0])  # type: ignore[attr-defined]
                assert pipe.total(name) + late_total == sent, name
            assert tail.rejects() == absurd
            dead = [decode_record(v) for v in read_topic(s, s.topic_deadletter)]
            # one letter per refused message, listing its refused events by reason
            refused: Counter[str] = Counter()
            for d in dead:
                refused.update({r: len(idx) for r, idx in d.refused.items()})
            assert refused == absurd
            assert all(d.src_topic == s.topic_clicks for d in dead)
        finally:
            tail.close()


# --------------------------------------------------------------------------------------------------
# e. a backlog whose rate batch is larger than one Kafka message
# --------------------------------------------------------------------------------------------------


def test_backlog_larger_than_one_rates_message_is_counted_exactly(
    kafka, clickhouse_server, chdb_session_store, tmp_path: Path
) -> None:
    """A worker that starts on a backlog (after downtime, or a burst) takes it in one batch, whose rate
    batch (distinct visitors and resources grow with the events) is split to fit Kafka messages."""
    s = make_settings(kafka)
    clicks = known_clicks(40_000, seed=45, start_ms=T0 + 5 * DAY_MS, span_ms=2 * 3600_000)
    # Client batches of 500 events (the limit is 1000), all on partition 0: one take batch.
    backlog = [(0, None, encode(clicks[i : i + 500])) for i in range(0, len(clicks), 500)]
    with pipeline(s, chdb_session_store, clickhouse_server, tmp_path) as pipe:
        tail = RatesTail(s)
        try:
            sender = PacedSender(kafka, s.topic_clicks, backlog, messages_per_s=1e9)  # unpaced
            sender.start()
            sender.finish()
            pipe.worker("worker").start()
            pipe.wait_drained(tail, timeout=120)
            assert_rates_cover_source(pipe, tail, len(clicks))
            assert_exact(pipe, clicks)
        finally:
            tail.close()
