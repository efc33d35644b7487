"""Exactly-once flushes on any MergeTree engine: a write-ahead log of insert steps, settled by parts.

Each step is one insert into one partition of one table. Before it, `sink_flushes` logs the flush,
the step and each target table's highest block number; after a crash the step happened if and only
if that number grew (parts are numbered in insert order), and an uncertain step is settled before
anything else writes to its tables. With `witness=False` (replicated tables) an uncertain step is
inserted again and block deduplication drops the copy. See docs/exactly-once.md.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sinks.store import ChdbStore, ServerStore, check_identifier
from sinks.tables import BLOCK_TAG, sink_flushes

log = logging.getLogger(__name__)

Rows = list[tuple[Any, ...]]


@dataclass(frozen=True)
class View:
    """A materialized view's target, fed by the step's insert; `rollup` computes what the view would."""

    table: str
    columns: tuple[str, ...]
    rollup: Callable[[Rows], Rows]


@dataclass(frozen=True)
class Step:
    table: str
    columns: tuple[str, ...]
    rows: Rows
    key: str  # "table/partition": checked when a flush is rebuilt after a crash
    partition: int | None = None  # the partition's value (YYYYMMDD or YYYYMM), for ATTACH PARTITION
    views: tuple[View, ...] = ()
    witnessed: bool = True  # False: storing it twice is harmless (uniq states, identical replaced rows)
    tagged: bool = False  # the table ends with BLOCK_TAG: each row gets the step's tag (`Ledger.block_tag`)

    @property
    def tables(self) -> tuple[str, ...]:
        return (self.table, *(v.table for v in self.views))


@dataclass
class Flush:
    consumer: str
    topic: str
    ends: dict[int, int]  # next offset per rates partition once stored
    steps: list[Step]
    done: dict[int, frozenset[str]] = field(default_factory=dict)  # step -> tables it is stored in

    def complete(self, i: int) -> bool:
        return set(self.steps[i].tables) <= self.done.get(i, frozenset())


@dataclass(frozen=True)
class Interrupted:
    """What the log says of a flush that did not reach `sink_offsets`: where it ends, and how far it got."""

    ends: dict[int, int]
    step: int
    key: str
    stored: frozenset[str] | None  # tables of `step` that hold it (None: all of them)

    def apply(self, flush: Flush) -> None:
        """Mark a rebuilt flush's steps as the log says; a different rebuild is a bug, said loudly."""
        if flush.ends != self.ends or self.step >= len(flush.steps) or flush.steps[self.step].key != self.key:
            got = flush.steps[self.step].key if self.step < len(flush.steps) else None
            raise RuntimeError(
                f"flush rebuilt differently after a restart: ends {flush.ends} vs {self.ends}, "
                f"step {self.step} is {got!r}, the log says {self.key!r}"
            )
        for i in range(self.step):
            flush.done[i] = frozenset(flush.steps[i].tables)
        flush.done[self.step] = frozenset(flush.steps[self.step].tables if self.stored is None else self.stored)


@dataclass
class _Uncertain:
    consumer: str
    topic: str
    ends: dict[int, int]
    step: int
    key: str
    before: dict[str, int]
    flush: Flush | None  # the in-memory flush to update once settled (None: loaded from the log)


def _ends_json(ends: dict[int, int]) -> str:
    return json.dumps({str(p): o for p, o in sorted(ends.items())})


class Ledger:
    """The write path of every sink on one store in this process (one per store, shared by its sinks)."""

    def __init__(
        self, store: ChdbStore | ServerStore, witness: bool = True, step_pause_s: float = 0.0, instance: str = ""
    ) -> None:
        self.store = store
        # One writer per log key (the table keeps a key's newest row): sharded sinks log as `group@I/N`.
        self.instance = instance
        self.witness = witness
        self.step_pause_s = step_pause_s  # fault injection (settings.sink_fault_step_pause_s)
        self.lock = threading.RLock()
        self._uncertain: list[_Uncertain] = []
        self._seq = 0

    # -- the log ------------------------------------------------------------------------------------

    def _next_seq(self) -> int:
        if not self._seq:
            rows = self.store.query(f"SELECT max(seq) FROM {self.store.database}.{sink_flushes.TABLE}")
            self._seq = max(int(rows[0][0] or 0) if rows else 0, time.time_ns() // 1000)
        self._seq += 1
        return self._seq

    def _log(
        self, consumer: str, topic: str, ends: dict[int, int], step: int, key: str, state: int, detail: object
    ) -> None:
        self.store.insert(
            sink_flushes.TABLE,
            sink_flushes.COLUMNS,
            [
                (
                    self.log_key(consumer),
                    topic,
                    self._next_seq(),
                    _ends_json(ends),
                    step,
                    key,
                    state,
                    json.dumps(detail, sort_keys=True),
                    int(time.time()),
                )
            ],
        )

    def log_key(self, consumer: str) -> str:
        return f"{consumer}@{self.instance}" if self.instance else consumer

    def _latest(
        self, consumer: str, topic: str, *, key: str | None = None
    ) -> tuple[dict[int, int], int, str, int, Any] | None:
        rows = self.store.query(
            sink_flushes.LATEST.format(db=self.store.database),
            {"consumer": key or self.log_key(consumer), "topic": topic},
        )
        if not rows or not rows[0][5]:
            return None
        ends, step, key, state, detail, _ = rows[0]
        return (
            {int(p): int(o) for p, o in json.loads(ends).items()},
            int(step),
            str(key),
            int(state),
            json.loads(detail),
        )

    def _max_blocks(self, tables: tuple[str, ...] | list[str]) -> dict[str, int]:
        """The highest block number of each table's parts (0 for a table without any)."""
        rows = self.store.query(sink_flushes.MAX_BLOCK, {"db": self.store.database, "tables": tuple(tables)})
        got = {str(t): int(b or 0) for t, b in rows}
        return {t: got.get(t, 0) for t in tables}

    # -- settling uncertain steps -------------------------------------------------------------------

    def _settle(self, u: _Uncertain) -> frozenset[str]:
        if self.witness:
            now = self._max_blocks(sorted(u.before))
            stored = frozenset(t for t, b in u.before.items() if now[t] > b)
        else:
            stored = frozenset()  # insert again: the replicated engine drops an identical block
        self._log(u.consumer, u.topic, u.ends, u.step, u.key, sink_flushes.SETTLED, sorted(stored))
        self._uncertain.remove(u)
        if u.flush is not None:
            u.flush.done[u.step] = u.flush.done.get(u.step, frozenset()) | stored
        log.info(
            "settled step %d (%s) of %s/%s ending at %s: stored in %s",
            u.step,
            u.key,
            u.consumer,
            u.topic,
            u.ends,
            sorted(stored) or "nothing",
        )
        return stored

    def _settle_touching(self, tables: tuple[str, ...]) -> None:
        for u in [u for u in self._uncertain if set(u.before) & set(tables)]:
            self._settle(u)

    def load(self, consumer: str, topic: str, committed: dict[int, int]) -> None:
        """At start, before any sink of this process writes: hold the log's last step of an
        unfinished flush as uncertain, to be settled before its tables are written again."""
        with self.lock:
            latest = self._latest(consumer, topic)
            if latest is None:
                return
            ends, step, key, state, detail = latest
            if state == sink_flushes.PENDING and not _committed(ends, committed):
                self._uncertain.append(
                    _Uncertain(consumer, topic, ends, step, key, {str(t): int(b) for t, b in detail.items()}, None)
                )

    def interrupted(self, consumer: str, topic: str, committed: dict[int, int]) -> Interrupted | None:
        """The flush of this sink group and topic that the log began and `sink_offsets` does not
        show stored, settled; None if every flush logged was stored."""
        with self.lock:
            for u in [u for u in self._uncertain if (u.consumer, u.topic) == (consumer, topic)]:
                self._settle(u)
            latest = self._latest(consumer, topic)
            if latest is None:
                return None
            ends, step, key, state, detail = latest
            if _committed(ends, committed):
                return None
            # A pending step that is not uncertain completed in this process (a failure would have
            # left it uncertain, and a crash is settled at load).
            stored = frozenset(detail) if state == sink_flushes.SETTLED else None
            return Interrupted(ends, step, key, stored)

    def foreign_unfinished(self, consumer: str, topic: str, committed: dict[int, int]) -> list[str]:
        """Log keys of this group and topic, other than this sink's and its peers' (same N), holding a
        flush not stored: left by a sink run with another `sink_instance`. Only that key can resume it,
        so a sink must not start on these partitions while one exists."""
        n = self.instance.partition("/")[2]
        rows = self.store.query(sink_flushes.KEYS.format(db=self.store.database), {"topic": topic})
        keys = [str(r[0]) for r in rows]
        found = []
        for key in keys:
            base, at, inst = key.partition("@")
            if base != consumer or key == self.log_key(consumer) or (at and n and inst.partition("/")[2] == n):
                continue
            latest = self._latest(consumer, topic, key=key)
            if latest is not None and not _committed(latest[0], committed):
                found.append(key)
        return found

    # -- writing ------------------------------------------------------------------------------------

    def write(self, flush: Flush) -> dict[str, int]:
        """Run the flush's steps not yet stored, in order; raises on failure (call again to go on)."""
        written: dict[str, int] = {}
        for i, step in enumerate(flush.steps):
            if flush.complete(i):
                continue
            with self.lock:
                self._settle_touching(step.tables)
                have = flush.done.get(i, frozenset())
                missing = tuple(t for t in step.tables if t not in have)
                if not missing:
                    continue
                before: dict[str, int] = {}
                if step.witnessed:
                    before = self._max_blocks(step.tables) if self.witness else {t: 0 for t in step.tables}
                    self._log(flush.consumer, flush.topic, flush.ends, i, step.key, sink_flushes.PENDING, before)
                try:
                    self._insert(step, missing, self.block_tag(flush, i))
                except BaseException:
                    if step.witnessed:
                        self._uncertain.append(
                            _Uncertain(flush.consumer, flush.topic, flush.ends, i, step.key, before, flush)
                        )
                    raise
                flush.done[i] = frozenset(step.tables)
                written[step.table] = written.get(step.table, 0) + len(step.rows)
            if self.step_pause_s and i + 1 < len(flush.steps):
                time.sleep(self.step_pause_s)  # widens the crash window for kill tests; 0 in service
        return written

    def block_tag(self, flush: Flush, i: int) -> int:
        """The step's BLOCK_TAG: the same for a retry or a rebuild after a crash (the same log key,
        ends and step), different for any other step, so replicated deduplication drops exactly the
        copies of one step."""
        who = f"{self.log_key(flush.consumer)}|{flush.topic}|{_ends_json(flush.ends)}|{i}|{flush.steps[i].key}"
        return int.from_bytes(hashlib.blake2b(who.encode(), digest_size=8).digest(), "little") >> 1  # Arrow: int64

    def _insert(self, step: Step, missing: tuple[str, ...], tag: int) -> None:
        store = self.store
        columns, rows = step.columns, step.rows
        if step.tagged:
            columns, rows = (*columns, BLOCK_TAG), [(*r, tag) for r in rows]
        if set(missing) == set(step.tables):
            store.insert(step.table, columns, rows)  # the views fire as usual (and carry the tag)
            return
        if step.table in missing:
            self._attach(step.table, step.partition, step.key, columns, rows)  # without firing its views
        for view in step.views:
            if view.table in missing:
                store.insert(view.table, view.columns, view.rollup(step.rows))

    def _attach(self, table: str, partition: int | None, key: str, columns: tuple[str, ...], rows: Rows) -> None:
        """Store rows in a table without its materialized views: insert them into a bare copy of the
        table, then attach that partition (ATTACH PARTITION FROM copies parts and fires no view)."""
        if partition is None:
            raise RuntimeError(f"{key}: a table with views must be partitioned to be repaired")
        db, table = self.store.database, check_identifier(table)
        scratch = f"{table}_repair"
        self.store.command(f"DROP TABLE IF EXISTS {db}.{scratch}")
        self.store.command(f"CREATE TABLE {db}.{scratch} AS {db}.{table}")
        try:
            self.store.insert(scratch, columns, rows)
            self.store.command(f"ALTER TABLE {db}.{table} ATTACH PARTITION {int(partition)} FROM {db}.{scratch}")
        finally:
            self.store.command(f"DROP TABLE IF EXISTS {db}.{scratch}")


def _committed(ends: dict[int, int], committed: dict[int, int]) -> bool:
    return all(committed.get(p, 0) >= o for p, o in ends.items())
