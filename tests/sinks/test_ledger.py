"""The flush log on both engines: a step cut off at each point is settled exactly by a new process.

A "new process" is a new `Ledger` (nothing in memory) over the same store; the cut is made by a
store wrapper that fails an insert before it reaches the engine, or after (the answer lost), or
stores only the table or only its view (what a crash between the two parts of one insert leaves).
After recovery every table holds each row exactly once, also the rollup `clicks_hour`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from contracts.rates import ClickRow, LateRow, RateBatch
from sinks.batch import RateBuffer, stored_offsets
from sinks.ledger import Ledger
from sinks.migrate import migrate
from sinks.store import StoreUnavailable
from sinks.tables import clicks_hour

DAY = 1_647_216_000  # 2022-03-14 08:00 Beijing
MINUTES = (DAY, DAY + 86_400 + 120, DAY + 2 * 86_400 + 300)  # three Beijing days, one month


class Cut(Exception):
    """Stands for the crash: nothing after it runs in this 'process'."""


class CuttingStore:
    """A real store whose `insert` into `table` is replaced by `at_insert(store, table, columns, rows)`."""

    def __init__(self, store: Any, table: str, at_insert: Callable[[Any, str, Any, Any], None]) -> None:
        self._store, self.table, self.at_insert = store, table, at_insert
        self.database, self.engine = store.database, store.engine

    def insert(self, table: str, columns: Any, rows: Any) -> int:
        if table == self.table:
            self.at_insert(self._store, table, columns, rows)
        return self._store.insert(table, columns, rows)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


def buffer() -> RateBuffer:
    buf = RateBuffer("g", "rates")
    for p in range(2):
        for o in range(3):
            m = MINUTES[(p + o) % 3]
            buf.add(
                p,
                o,
                RateBatch(
                    src_topic="clicks",
                    src_partition=p,
                    first_offset=o,
                    last_offset=o,
                    watermark_ms=m * 1000,
                    events=7,
                    rejects={"json": 1},
                    clicks=[
                        ClickRow(m, "k12", "110000", "lessons", "view", 3),
                        ClickRow(m, "higher", "abroad", "mooc", "play", 4),
                    ],
                    late=[LateRow(m, "k12", "110000", 2)],
                ),
            )
    return buf


def totals(store: Any) -> tuple[int, int, int, int]:
    db = store.database
    one = lambda sql: int(store.query(sql.format(db=db))[0][0] or 0)
    return (
        one("SELECT sum(clicks) FROM {db}.clicks_minute"),
        one("SELECT sum(clicks) FROM {db}.clicks_hour"),
        one("SELECT sum(events) FROM {db}.late_events"),
        one("SELECT sum(events) FROM {db}.rejects_minute"),
    )


EXPECTED = (6 * 7, 6 * 7, 6 * 2, 6)


def lost_answer(store: Any, table: str, columns: Any, rows: Any) -> None:
    store.insert(table, columns, rows)
    raise StoreUnavailable("connection reset after the insert was committed")


def refused(store: Any, table: str, columns: Any, rows: Any) -> None:
    raise StoreUnavailable("connection refused")


def crash_after_table_only(store: Any, table: str, columns: Any, rows: Any) -> None:
    buf = buffer()
    step = next(s for s in buf.steps() if s.table == table and s.rows == [tuple(r[: len(s.columns)]) for r in rows])
    Ledger(store)._attach(table, step.partition, step.key, columns, rows)  # the table's part without the view's
    raise Cut()


def crash_after_view_only(store: Any, table: str, columns: Any, rows: Any) -> None:
    store.insert(clicks_hour.TABLE, clicks_hour.COLUMNS, clicks_minute_rollup(rows))
    raise Cut()


def clicks_minute_rollup(rows: Any) -> Any:
    from sinks.batch import _rollup_hours

    return _rollup_hours([tuple(r) for r in rows])


CASES = {
    "answer-lost": ("late_events", lost_answer),
    "refused": ("rejects_minute", refused),
    "table-not-view": ("clicks_minute", crash_after_table_only),
    "view-not-table": ("clicks_minute", crash_after_view_only),
    "answer-lost-with-view": ("clicks_minute", lost_answer),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_step_cut_off_is_stored_once_after_a_restart(engine_store: Any, case: str) -> None:
    migrate(engine_store)
    table, cut = CASES[case]
    # The first process: steps before the cut are stored, the cut step is in doubt, then it "dies".
    cutting = CuttingStore(engine_store, table, cut)
    first = buffer()
    with pytest.raises((Cut, StoreUnavailable)):
        first.flush(cutting, Ledger(cutting))  # type: ignore[arg-type]
    assert stored_offsets(engine_store, "g", "rates") == {}, "offsets stored before every step was"

    # The next process: loads the log, re-reads the same offsets, stores only what is missing.
    ledger = Ledger(engine_store)
    ledger.load("g", "rates", {})
    resume = ledger.interrupted("g", "rates", {})
    assert resume is not None and resume.ends == {0: 3, 1: 3}
    again = buffer()
    again.flush(engine_store, ledger, resume)
    assert totals(engine_store) == EXPECTED
    assert stored_offsets(engine_store, "g", "rates") == {0: 3, 1: 3}
    assert Ledger(engine_store).interrupted("g", "rates", {0: 3, 1: 3}) is None


def test_steps_are_one_insert_per_table_and_day_in_a_fixed_order() -> None:
    a, b = buffer(), RateBuffer("g", "rates")
    for p, o, batch in reversed(a.batches):  # the same batches, buffered in another order
        b.add(p, o, batch)
    keys = [s.key for s in a.steps()]
    assert keys == [s.key for s in b.steps()]
    assert [s.rows for s in a.steps()] == [s.rows for s in b.steps()]
    assert keys[:3] == ["clicks_minute/20220314", "clicks_minute/20220315", "clicks_minute/20220316"]
    assert len(set(keys)) == len(keys)


def test_a_day_larger_than_a_step_is_cut_into_steps_of_at_most_step_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    from sinks import batch as batch_module

    monkeypatch.setattr(batch_module, "STEP_ROWS", 4)
    rows = [(DAY + i, "k12", "110000", 1) for i in range(10)]
    steps = batch_module.day_steps("late_events", ("minute", "platform", "province", "events"), rows)
    assert [len(s.rows) for s in steps] == [4, 4, 2]
    assert [s.key for s in steps] == ["late_events/20220314/0", "late_events/20220314/1", "late_events/20220314/2"]
    assert [r for s in steps for r in s.rows] == rows


def test_a_restarted_sink_rereads_exactly_the_cut_flush_and_goes_on(engine_store: Any) -> None:
    """Runner level: the sink died inside a flush; the next one takes exactly that flush's offsets
    (not the newer messages already there), stores its missing steps only, then carries on."""
    import threading

    from tests.sinks.test_runner import FakeConsumer, batch, make_sink

    migrate(engine_store)
    logs = {p: [batch(p, o, rows=4, clicks=p + 1) for o in range(15)] for p in range(2)}
    first = make_sink(
        engine_store,
        FakeConsumer({p: log[:10] for p, log in logs.items()}, assigned=[0, 1]),  # type: ignore[arg-type]
        sink_batch_rows=10_000,
    )
    first.store = first.ledger.store = CuttingStore(engine_store, "late_events", lost_answer)  # type: ignore[assignment]
    first._take(first._consumer, first._consumer.poll().items())
    with pytest.raises(StoreUnavailable):
        first._flush(commit=False)  # clicks stored, late_events stored but unanswered: then the crash

    consumer = FakeConsumer(logs, assigned=[0, 1])  # five more messages per partition arrived since
    sink = make_sink(engine_store, consumer, sink_batch_rows=10_000)  # type: ignore[arg-type]
    takes: list[dict[int, int]] = []
    original = sink._take

    def take(c: Any, polled: Any) -> None:
        original(c, polled)
        takes.append(dict(sink.buffer.next_offsets))

    sink._take = take  # type: ignore[method-assign]
    t = threading.Thread(target=sink.run, daemon=True)
    t.start()
    want = 15 * 4 * (1 + 2)
    for _ in range(300):
        if totals(engine_store)[0] >= want and stored_offsets(engine_store, "g", "rates") == {0: 15, 1: 15}:
            break
        threading.Event().wait(0.05)  # polling a condition, bounded
    sink.stop()
    t.join(30)
    assert takes[0] == {0: 10, 1: 10}, "the re-read went past the cut flush's end"
    db = engine_store.database
    assert totals(engine_store)[:2] == (want, want)
    assert int(engine_store.query(f"SELECT sum(events) FROM {db}.late_events")[0][0]) == 30
    assert stored_offsets(engine_store, "g", "rates") == {0: 15, 1: 15}


def test_a_flush_interrupted_under_one_sink_instance_is_resumed_by_that_instance_only(engine_store: Any) -> None:
    """Sinks sharing a group (EDU_SINK_INSTANCE=I/N) keep one flush log each: a peer (same N) is not
    disturbed by another's unfinished flush; a sink started with another N, or without instances,
    refuses to start while it exists; the instance itself resumes it."""
    migrate(engine_store)
    cutting = CuttingStore(engine_store, "late_events", lost_answer)
    with pytest.raises((Cut, StoreUnavailable)):
        buffer().flush(cutting, Ledger(cutting, instance="0/2"))  # type: ignore[arg-type]

    def foreign(instance: str) -> list[str]:
        stored = stored_offsets(engine_store, "g", "rates")
        return Ledger(engine_store, instance=instance).foreign_unfinished("g", "rates", stored)

    assert foreign("1/2") == []  # a peer: its own partitions, its own log
    assert foreign("0/2") == []  # itself
    assert foreign("") == ["g@0/2"]
    assert foreign("0/3") == ["g@0/2"]
    assert Ledger(engine_store).interrupted("g", "rates", {}) is None  # not the plain key's flush
    owner = Ledger(engine_store, instance="0/2")
    owner.load("g", "rates", {})
    resume = owner.interrupted("g", "rates", {})
    assert resume is not None and resume.ends == {0: 3, 1: 3}
    buffer().flush(engine_store, owner, resume)
    assert totals(engine_store) == EXPECTED
    assert foreign("") == []  # stored: nothing left to resume, any configuration may start
