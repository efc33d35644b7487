"""The sink loop without services: a fake consumer and a fake store that can be "down".

What is checked: the buffer never takes more than its limit plus one message (the rest of a poll is
given back by seeking), an outage pauses every partition (also one assigned meanwhile) and loses
nothing, and the rate batches' rows, late rows, rejects and offsets reach the store exactly once.
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any, NamedTuple

import pytest
from prometheus_client import CollectorRegistry

from contracts.rates import ClickRow, LateRow, RateBatch, encode_batch
from contracts.settings import Settings
from sinks.batch import RateBuffer
from sinks.metrics import SinkMetrics
from sinks.runner import Sink
from sinks.store import StoreUnavailable
from sinks.tables import clicks_minute, late_events, rejects_minute, sink_offsets

TOPIC = "rates"
MINUTE = 1647216000


class TP(NamedTuple):
    topic: str
    partition: int


class Rec(NamedTuple):
    offset: int
    value: bytes


def batch(p: int, offset: int, rows: int, clicks: int = 1) -> bytes:
    return encode_batch(
        RateBatch(
            src_topic="clicks",
            src_partition=p,
            first_offset=offset,
            last_offset=offset,
            watermark_ms=MINUTE * 1000,
            events=rows * clicks,
            clicks=[ClickRow(MINUTE, "k12", "450000", "lessons", "view", clicks)] * rows,
            late=[LateRow(MINUTE, "k12", "450000", 1)],
            rejects={"json": 2},
        )
    )


class FakeConsumer:
    """Just enough of KafkaConsumer: per-partition logs, positions, pause/resume, seek."""

    def __init__(self, logs: dict[int, list[bytes]], assigned: list[int]) -> None:
        self.logs = logs
        self.pos = {p: 0 for p in logs}
        self.assigned = {TP(TOPIC, p) for p in assigned}
        self._paused: set[TP] = set()
        self.listener: Any = None
        self.commits: list[dict[Any, Any]] = []
        self.polls_while_paused = 0

    def partitions_for_topic(self, topic: str) -> set[int]:
        return set(self.logs)

    def subscribe(self, topics: list[str], listener: Any) -> None:
        self.listener = listener

    def poll(self, timeout_ms: int = 0, max_records: int = 2000) -> dict[TP, list[Rec]]:
        if self.listener is not None:
            self.listener.on_partitions_assigned(sorted(self.assigned))
            self.listener = None
        if self._paused:
            self.polls_while_paused += 1
        out: dict[TP, list[Rec]] = {}
        for tp in sorted(self.assigned - self._paused):
            p = tp.partition
            recs = [
                Rec(o, self.logs[p][o]) for o in range(self.pos[p], min(len(self.logs[p]), self.pos[p] + max_records))
            ]
            if recs:
                out[tp] = recs
                self.pos[p] = recs[-1].offset + 1
        return out

    def seek(self, tp: TP, offset: int) -> None:
        self.pos[tp.partition] = offset

    def seek_to_beginning(self, *tps: TP) -> None:
        for tp in tps:
            self.pos[tp.partition] = 0

    def pause(self, *tps: TP) -> None:
        self._paused |= set(tps)

    def resume(self, *tps: TP) -> None:
        self._paused -= set(tps)

    def paused(self) -> set[TP]:
        return set(self._paused)

    def assignment(self) -> set[TP]:
        return set(self.assigned)

    def commit(self, offsets: dict[Any, Any]) -> None:
        self.commits.append(offsets)

    def close(self, autocommit: bool = False) -> None:
        pass


class FakeStore:
    """Records inserts; `down` makes every call raise StoreUnavailable; `on_fail` runs on each failure."""

    database = "fake"
    engine = "fake"

    def __init__(self) -> None:
        self.rows: dict[str, list[tuple[Any, ...]]] = {}
        self.down = False
        self.failures = 0
        self.on_fail: Any = None

    def _check(self) -> None:
        if self.down:
            self.failures += 1
            if self.on_fail:
                self.on_fail(self)
            raise StoreUnavailable("server is down")

    def insert(self, table: str, columns: Any, rows: Any) -> int:
        self._check()
        self.rows.setdefault(table, []).extend(tuple(r) for r in rows)
        return len(rows)

    def insert_arrow(self, table: str, arrow: Any) -> int:
        cols = [arrow.column(c).to_pylist() for c in arrow.column_names]
        return self.insert(table, arrow.column_names, list(zip(*cols, strict=False)))

    def query(self, sql: str, params: Any = None) -> list[tuple[Any, ...]]:
        self._check()
        if sink_offsets.TABLE in sql:
            best: dict[int, int] = {}
            for c, t, p, o in self.rows.get(sink_offsets.TABLE, []):
                if (c, t) == (params["consumer"], params["topic"]):
                    best[p] = max(best.get(p, 0), o)
            return list(best.items())
        return []

    def command(self, sql: str, params: Any = None) -> None:
        self._check()

    def clicks(self) -> int:
        return sum(r[5] for r in self.rows.get(clicks_minute.TABLE, []))


def make_sink(store: FakeStore, consumer: FakeConsumer | None = None, **overrides: Any) -> Sink:
    base: dict[str, Any] = dict(
        topic_rates=TOPIC,
        sink_group="g",
        sink_batch_rows=100,
        sink_flush_interval_s=0.05,
        sink_retry_max_s=0.2,
        sink_metrics_port=0,
    )
    settings = Settings(**{**base, **overrides})
    sink = Sink(settings, store, SinkMetrics.create(CollectorRegistry()))  # type: ignore[arg-type]
    if consumer is not None:
        sink._consumer = consumer
        sink._make_consumer = lambda: consumer  # type: ignore[method-assign]
    return sink


def test_the_buffer_takes_up_to_its_limit_and_gives_the_rest_of_a_poll_back() -> None:
    consumer = FakeConsumer({0: [batch(0, o, rows=30) for o in range(10)]}, assigned=[0])
    sink = make_sink(FakeStore(), consumer)
    sink._take(consumer, consumer.poll().items())
    # 30 clicks + 1 late + 1 reject-key rows per message (rejects of one minute fold into one key):
    # 3 messages make 93 rows < 100, the 4th makes 124; the other 6 are given back.
    assert sink.buffer.rows == 4 * 31 + 1
    assert consumer.pos[0] == 4 and sink.buffer.next_offsets == {0: 4}
    assert sink.metrics.backlog_peak._value.get() == sink.buffer.rows  # type: ignore[attr-defined]


def test_limit_is_the_smaller_of_batch_rows_and_max_backlog() -> None:
    assert make_sink(FakeStore(), sink_max_backlog_rows=40).buffer_limit == 40
    assert make_sink(FakeStore()).buffer_limit == 100


def test_an_outage_pauses_every_partition_and_loses_nothing() -> None:
    logs = {0: [batch(0, o, rows=50) for o in range(6)], 1: [batch(1, o, rows=50) for o in range(6)]}
    consumer = FakeConsumer(logs, assigned=[0])
    store = FakeStore()
    sink = make_sink(store, consumer)
    sink._take(consumer, consumer.poll().items())
    buffered = sink.buffer.rows

    seen: list[tuple[bool, set[TP], int]] = []

    def failing(s: FakeStore) -> None:
        seen.append((sink.paused, consumer.paused(), sink.buffer.rows))
        if s.failures == 2:
            consumer.assigned.add(TP(TOPIC, 1))  # a rebalance hands over partition 1 mid-outage
        if s.failures == 4:
            s.down = False  # the server is back

    store.down, store.on_fail = True, failing
    sink._flush_or_pause(consumer)
    assert store.failures == 4
    assert not seen[0][0] and all(paused for paused, _, _ in seen[1:])  # paused after the 1st failure
    assert all(rows == buffered for _, _, rows in seen)  # nothing taken while down
    assert seen[-1][1] == {TP(TOPIC, 0), TP(TOPIC, 1)}  # the new partition was paused too
    assert consumer.pos[1] == 0  # ... and whatever it delivered was given back
    assert consumer.paused() == set() and not sink.paused
    assert sink.metrics.paused._value.get() == 0  # type: ignore[attr-defined]
    assert sink.metrics.retries._value.get() == 4  # type: ignore[attr-defined]
    assert buffered == 2 * 51 + 1 and store.clicks() == 2 * 50  # the two messages taken, stored once


def test_run_stores_every_batch_once_through_an_outage() -> None:
    logs = {p: [batch(p, o, rows=7, clicks=p + 1) for o in range(40)] for p in range(3)}
    consumer = FakeConsumer(logs, assigned=[0, 1, 2])
    store = FakeStore()
    sink = make_sink(store, consumer)
    done = threading.Event()
    errors: list[BaseException] = []

    def outage(s: FakeStore) -> None:
        if s.failures >= 3:
            s.down = False

    def watch(s: FakeStore) -> None:
        if s.clicks() >= 40 * 7 * (1 + 2 + 3):
            done.set()

    store.on_fail = outage
    original = store.insert

    def insert(table: str, columns: Any, rows: Any) -> int:
        if table == clicks_minute.TABLE and not store.failures and store.clicks() > 0:
            store.down = True  # the store goes down after the first flush
        n = original(table, columns, rows)
        watch(store)
        return n

    store.insert = insert  # type: ignore[method-assign]

    def run() -> None:
        try:
            sink.run()
        except BaseException as err:  # surfaced below
            errors.append(err)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    assert done.wait(30), f"stored {store.clicks()}"
    sink.stop()
    t.join(30)
    assert not errors and store.failures >= 3
    per_partition = Counter(r[5] for r in store.rows[clicks_minute.TABLE])
    assert {k: v // 7 for k, v in per_partition.items()} == {1: 40, 2: 40, 3: 40}
    assert sum(r[3] for r in store.rows[late_events.TABLE]) == 120
    assert sum(r[2] for r in store.rows[rejects_minute.TABLE]) == 240
    assert {(p, o) for _, _, p, o in store.rows[sink_offsets.TABLE]} >= {(0, 40), (1, 40), (2, 40)}


def test_rejects_are_filed_under_the_batch_watermark_minute() -> None:
    buf = RateBuffer("g", TOPIC)
    b = RateBatch(
        src_topic="c",
        src_partition=0,
        first_offset=0,
        last_offset=0,
        watermark_ms=MINUTE * 1000 + 59_999,
        events=0,
        rejects={"json": 2, "schema": 1},
    )
    buf.add(0, 0, b)
    buf.add(
        0,
        1,
        RateBatch(
            src_topic="c", src_partition=0, first_offset=1, last_offset=1, watermark_ms=0, events=0, rejects={"json": 5}
        ),
    )
    assert buf.rejects == Counter({(MINUTE, "json"): 2, (MINUTE, "schema"): 1, (0, "json"): 5})
    assert buf.rows == 3 and buf.next_offsets == {0: 2}


def test_a_flush_that_fails_half_way_is_retried_for_the_remaining_tables_only() -> None:
    """ClickHouse stopped between two inserts of one flush: the retry must not insert the first
    table's rows again (it did, and the fault test stored 13 % too many clicks)."""

    class StopsAfterFirstInsert(FakeStore):
        def insert(self, table: str, columns: Any, rows: Any) -> int:
            if table == late_events.TABLE and not self.failures:
                self.down = True  # the server goes away after clicks_minute was stored
            return super().insert(table, columns, rows)

    store = StopsAfterFirstInsert()
    buf = RateBuffer("g", TOPIC)
    buf.add_raw(0, 0, batch(0, 0, rows=10, clicks=3))
    with pytest.raises(StoreUnavailable):
        buf.flush(store)
    assert store.clicks() == 30 and buf.flight is not None
    assert {buf.flight.steps[i].table for i in buf.flight.done} == {clicks_minute.TABLE}
    with pytest.raises(RuntimeError, match="half done"):
        buf.add_raw(0, 1, batch(0, 1, rows=1))  # nothing may join a half-stored buffer
    store.down = False
    buf.flush(store)
    assert store.clicks() == 30, "clicks inserted twice by the retry"
    assert len(store.rows[late_events.TABLE]) == 1
    assert buf.flight is None and not buf.rows


def test_a_permanent_storage_error_stops_the_sink_loudly_and_calls_on_fatal() -> None:
    from sinks.runner import SinkThread
    from sinks.store import StoreError, engine_error

    consumer = FakeConsumer({0: [batch(0, o, rows=3) for o in range(5)]}, assigned=[0])

    class SchemaMismatch(FakeStore):
        def insert(self, table: str, columns: Any, rows: Any) -> int:
            if table == clicks_minute.TABLE:
                raise engine_error("Code: 16. DB::Exception: No such column clickz in table. (NO_SUCH_COLUMN_IN_TABLE)")
            return super().insert(table, columns, rows)

    sink = make_sink(SchemaMismatch(), consumer)
    fatal: list[BaseException] = []
    thread = SinkThread(sink, on_fatal=fatal.append)
    thread.thread.start()
    thread.thread.join(30)
    assert not thread.thread.is_alive()
    assert len(fatal) == 1 and type(fatal[0]) is StoreError and "NO_SUCH_COLUMN_IN_TABLE" in str(fatal[0])
    assert sink.health.state == "failed" and "permanent storage error" in str(sink.health.error)
    assert sink.metrics.running._value.get() == 0  # type: ignore[attr-defined]
    with pytest.raises(RuntimeError, match="sink thread died"):
        thread.check()


def test_an_unexpected_failure_restarts_the_sink_and_nothing_is_lost() -> None:
    from sinks.runner import SinkThread

    consumer = FakeConsumer({0: [batch(0, o, rows=3) for o in range(20)]}, assigned=[0])
    store = FakeStore()
    sink = make_sink(store, consumer)
    sink.settings = sink.settings.model_copy(update={"sink_retry_max_s": 0.05})
    polls = {"n": 0}
    original_poll = consumer.poll

    def flaky_poll(timeout_ms: int = 0, max_records: int = 2000) -> Any:
        polls["n"] += 1
        if polls["n"] == 2:
            raise ConnectionError("Kafka client blew up")  # not a storage error: restart the loop
        return original_poll(timeout_ms, max_records)

    consumer.poll = flaky_poll  # type: ignore[method-assign]
    rewind = consumer.listener

    def make() -> FakeConsumer:
        consumer.listener = rewind or consumer.listener
        return consumer

    sink._make_consumer = make  # type: ignore[method-assign]
    thread = SinkThread(sink)
    thread.thread.start()
    deadline = threading.Event()
    for _ in range(300):
        if store.clicks() >= 20 * 3 and sink.health.restarts == 1:
            break
        deadline.wait(0.05)  # polling a condition, bounded
    thread.stop(10)
    assert sink.health.restarts == 1
    assert store.clicks() == 20 * 3  # once each: the restart re-read from the stored offsets


def test_retry_waits_grow_with_jitter_up_to_the_cap() -> None:
    from sinks.store import engine_error

    store = FakeStore()
    sink = make_sink(store)
    waits: list[float] = []
    calls = {"n": 0}

    def fn() -> str:
        calls["n"] += 1
        if calls["n"] <= 8:
            raise engine_error(
                "Code: 243. DB::Exception: Cannot reserve 1.00 MiB, not enough space. (NOT_ENOUGH_SPACE)"
            )
        return "stored"

    assert sink._with_retry(fn, wait=waits.append) == "stored"
    assert len(waits) == 8 and max(waits) <= sink.settings.sink_retry_max_s
    assert waits[0] < 0.2 and waits[-1] > waits[0]
    assert len(set(waits)) == len(waits)  # jittered: no two sinks retry in step
    assert sink.health.store_up is False and sink.health.state == "paused"
    assert str(sink.health.error).startswith("transient NOT_ENOUGH_SPACE (code 243)")
    assert sink.metrics.store_up._value.get() == 0  # type: ignore[attr-defined]
