"""The sink's buffer: `add()` rate batches per partition, `flush()` them to the store in one go.

A flush is cut into steps, one insert per table and Beijing day (so one part each, see
`sinks/ledger.py`), built in a fixed order from the batches sorted by (partition, offset): the same
source offsets always give the same steps with the same rows in the same order, so a flush rebuilt
after a crash matches the one the log began. After the steps, the next offset per partition goes
into `sink_offsets`; the consumer seeks to those on start (Kafka's committed offsets are a hint).
"""

from __future__ import annotations

import logging
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any

from contracts.alerts import decode_change
from contracts.rates import RateBatch, decode_batch
from sinks.ledger import Flush, Interrupted, Ledger, Step, View
from sinks.schema import TAGGED
from sinks.store import ChdbStore, ServerStore
from sinks.tables import (
    alert_log,
    clicks_day,
    clicks_hour,
    clicks_minute,
    countries_minute,
    late_events,
    rejects_minute,
    resources_minute,
    sessions_minute,
    sink_offsets,
    tiles_10s,
    uniques_minute,
)

log = logging.getLogger(__name__)

# RateBatch field -> (table, columns) for the rows stored as they come, each row read by the column
# names (tests/sinks/test_batch_contract.py: a row's fields are exactly its table's columns).
_PLAIN: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("clicks", clicks_minute.TABLE, clicks_minute.COLUMNS),
    ("late", late_events.TABLE, late_events.COLUMNS),
    ("tiles", tiles_10s.TABLE, tiles_10s.COLUMNS),
    ("resources", resources_minute.TABLE, resources_minute.COLUMNS),
    ("visitors", uniques_minute.INPUT, uniques_minute.INPUT_COLUMNS),
    ("sessions", sessions_minute.TABLE, sessions_minute.COLUMNS),
    ("countries", countries_minute.TABLE, countries_minute.COLUMNS),
)
BEIJING_S = 8 * 3600  # Asia/Shanghai: UTC+8, no daylight saving since 1991


_DAYS: dict[int, int] = {}


def beijing_day(ts: int) -> int:
    """YYYYMMDD of an epoch second in Beijing: the partition value of the day-partitioned tables."""
    n = (int(ts) + BEIJING_S) // 86_400
    day = _DAYS.get(n)
    if day is None:
        day = _DAYS[n] = int(time.strftime("%Y%m%d", time.gmtime(n * 86_400)))
    return day


# Where `clicks_minute` rows (as `steps` builds them, in COLUMNS order) hold what the rollups read.
_MINUTE, _PLATFORM, _PROVINCE, _SECTION, _CLICKS = map(
    clicks_minute.COLUMNS.index, ("minute", "platform", "province", "section", "clicks")
)


def _rollup_hours(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """What `clicks_hour_mv` makes of clicks_minute rows (Beijing hours are whole UTC hours)."""
    sums: dict[tuple[Any, ...], int] = {}
    for r in rows:
        minute = r[_MINUTE]
        key = (minute - minute % 3600, r[_PLATFORM], r[_PROVINCE], r[_SECTION])
        sums[key] = sums.get(key, 0) + r[_CLICKS]
    return [(*k, n) for k, n in sums.items()]


def _rollup_days(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """What `clicks_day_mv` makes of clicks_minute rows (Beijing days: UTC+8 midnights)."""
    sums: dict[tuple[Any, ...], int] = {}
    for r in rows:
        minute = r[_MINUTE]
        key = (minute - (minute + BEIJING_S) % 86_400, r[_PLATFORM], r[_PROVINCE], r[_SECTION])
        sums[key] = sums.get(key, 0) + r[_CLICKS]
    return [(*k, n) for k, n in sums.items()]


# Every materialized view on a table the sink writes: a step is stored when its table and each of
# these targets hold it (tests/sinks/test_batch_contract.py checks this list against schema.VIEWS).
_VIEWS: dict[str, tuple[View, ...]] = {
    clicks_minute.TABLE: (
        View(clicks_hour.TABLE, clicks_hour.COLUMNS, _rollup_hours),
        View(clicks_day.TABLE, clicks_day.COLUMNS, _rollup_days),
    ),
}
# Storing these twice changes nothing: the view folds visitors into uniq states.
_UNWITNESSED = frozenset({uniques_minute.INPUT})


# Rows per step at most: below the engines' insert block size (1,048,576 on both), so one INSERT
# stays one block and one part however large a batch setting is.
STEP_ROWS = 500_000


def day_steps(table: str, columns: tuple[str, ...], rows: list[tuple[Any, ...]]) -> list[Step]:
    """One step per Beijing day of the rows' first (time) column (and per STEP_ROWS rows of it),
    days ascending, rows in order."""
    by_day: dict[int, list[tuple[Any, ...]]] = defaultdict(list)
    for r in rows:
        by_day[beijing_day(r[0])].append(r)
    steps = []
    for d in sorted(by_day):
        day = by_day[d]
        for k in range(0, len(day), STEP_ROWS):
            key = f"{table}/{d}" if len(day) <= STEP_ROWS else f"{table}/{d}/{k // STEP_ROWS}"
            steps.append(
                Step(
                    table,
                    columns,
                    day[k : k + STEP_ROWS],
                    key,
                    d,
                    _VIEWS.get(table, ()),
                    witnessed=table not in _UNWITNESSED,
                    tagged=table in TAGGED,
                )
            )
    return steps


@dataclass
class RateBuffer:
    consumer: str
    topic: str
    batches: list[tuple[int, int, RateBatch]] = field(default_factory=list)  # (partition, offset, batch)
    next_offsets: dict[int, int] = field(default_factory=dict)
    started: float = field(default_factory=time.monotonic)
    rows: int = 0
    # The flush under way: a flush that fails half-way (ClickHouse stopped between two inserts) is
    # retried for the remaining steps only; the buffer does not change until it is stored.
    flight: Flush | None = None
    _reject_keys: set[tuple[int, str]] = field(default_factory=set)  # rejects fold into one row per key

    def add(self, partition: int, offset: int, batch: RateBatch) -> None:
        if self.flight is not None:
            raise RuntimeError("rows added to a buffer whose flush is half done: they would never be stored")
        if not self.next_offsets and not self.rows:
            self.started = time.monotonic()
        self.batches.append((partition, offset, batch))
        self.rows += sum(len(getattr(batch, name)) for name, _, _ in _PLAIN)
        if batch.rejects:
            minute = (batch.rejects_at_ms or batch.watermark_ms) // 60_000 * 60
            fresh = {(minute, reason) for reason in batch.rejects} - self._reject_keys
            self._reject_keys |= fresh
            self.rows += len(fresh)
        self.next_offsets[partition] = offset + 1

    def add_raw(self, partition: int, offset: int, raw: bytes) -> None:
        self.add(partition, offset, decode_batch(raw))

    def age(self) -> float:
        return time.monotonic() - self.started if (self.rows or self.next_offsets) else 0.0

    @property
    def rejects(self) -> Counter[tuple[int, str]]:
        """(minute, reason) -> events, at the minute the worker filed them (`rejects_at_ms`: the watermark,
        or the broker time of the first refused record where no valid event came yet); the watermark for
        batches of rates v1, which lack that field."""
        out: Counter[tuple[int, str]] = Counter()
        for _, _, batch in sorted(self.batches, key=lambda b: b[:2]):
            minute = (batch.rejects_at_ms or batch.watermark_ms) // 60_000 * 60
            for reason, n in sorted(batch.rejects.items()):
                out[(minute, reason)] += n
        return out

    def newest_time(self) -> int | None:
        """Event time of the newest click, session or tile bucket buffered (for health)."""
        times = [r.minute for _, _, b in self.batches for rows in (b.clicks, b.sessions) for r in rows[-1:]]
        times += [r.ts for _, _, b in self.batches for r in b.tiles[-1:]]
        return max(times) if times else None

    def steps(self) -> list[Step]:
        ordered = [b for _, _, b in sorted(self.batches, key=lambda b: b[:2])]
        steps: list[Step] = []
        for name, table, columns in _PLAIN:
            get = attrgetter(*columns)  # each row read by its fields' names, in the table's column order
            rows: list[tuple[Any, ...]] = []
            for b in ordered:
                rows += map(get, getattr(b, name))
            steps += day_steps(table, columns, rows)
        rejects = [(m, reason, n) for (m, reason), n in self.rejects.items()]
        steps += day_steps(rejects_minute.TABLE, rejects_minute.COLUMNS, rejects)
        return steps

    def flush(
        self, store: ChdbStore | ServerStore, ledger: Ledger | None = None, resume: Interrupted | None = None
    ) -> dict[str, int]:
        """Write everything buffered; raises on failure and keeps the buffer for a retry. `resume`:
        this buffer is a flush the log began before a crash; store only what it did not."""
        if self.flight is None:
            flight = Flush(self.consumer, self.topic, dict(self.next_offsets), self.steps())
            if resume is not None:
                resume.apply(flight)
            self.flight = flight
        written = (ledger or Ledger(store)).write(self.flight)
        store_offsets(store, self.consumer, self.topic, self.next_offsets)
        self.clear()
        return written

    def clear(self) -> None:
        self.batches.clear()
        self.next_offsets.clear()
        self._reject_keys.clear()
        self.rows = 0
        self.flight = None


def store_offsets(store: ChdbStore | ServerStore, consumer: str, topic: str, next_offsets: dict[int, int]) -> None:
    """Record where a flush left each partition; the sink seeks there on assignment."""
    if next_offsets:
        store.insert(
            sink_offsets.TABLE, sink_offsets.COLUMNS, [(consumer, topic, p, o) for p, o in sorted(next_offsets.items())]
        )


@dataclass
class AlertLogBuffer:
    """The alerts topic's buffer: state changes become `alert_log` rows, offsets as for rates.

    One unwitnessed step: alert_log is a ReplacingMergeTree of identical rows, read with DISTINCT,
    so a change stored twice is still one change."""

    consumer: str
    topic: str
    changes: list[tuple[int, int, tuple[Any, ...]]] = field(default_factory=list)
    next_offsets: dict[int, int] = field(default_factory=dict)
    started: float = field(default_factory=time.monotonic)
    flight: Flush | None = None

    @property
    def rows(self) -> int:
        return len(self.changes)

    def add_raw(self, partition: int, offset: int, raw: bytes) -> None:
        if self.flight is not None:
            raise RuntimeError("rows added to a buffer whose flush is half done: they would never be stored")
        if not self.next_offsets and not self.changes:
            self.started = time.monotonic()
        change = decode_change(raw)
        if isinstance(change, str):  # a refused record never stops the log; it is counted and skipped
            log.warning("alerts topic p%d o%d refused: %s", partition, offset, change)
        else:
            self.changes.append((partition, offset, alert_log.row(change)))
        self.next_offsets[partition] = offset + 1

    def age(self) -> float:
        return time.monotonic() - self.started if (self.changes or self.next_offsets) else 0.0

    def newest_time(self) -> int | None:
        return max((int(r[0]) for _, _, r in self.changes), default=None)

    def steps(self) -> list[Step]:
        rows = [r for _, _, r in sorted(self.changes, key=lambda c: c[:2])]
        return [Step(alert_log.TABLE, alert_log.COLUMNS, rows, alert_log.TABLE, witnessed=False)] if rows else []

    def flush(
        self, store: ChdbStore | ServerStore, ledger: Ledger | None = None, resume: Interrupted | None = None
    ) -> dict[str, int]:
        if self.flight is None:
            flight = Flush(self.consumer, self.topic, dict(self.next_offsets), self.steps())
            if resume is not None:
                resume.apply(flight)
            self.flight = flight
        written = (ledger or Ledger(store)).write(self.flight)
        store_offsets(store, self.consumer, self.topic, self.next_offsets)
        self.clear()
        return written

    def clear(self) -> None:
        self.changes.clear()
        self.next_offsets.clear()
        self.flight = None


def stored_offsets(store: ChdbStore | ServerStore, consumer: str, topic: str) -> dict[int, int]:
    """Next offset per partition as recorded by earlier flushes (empty on a fresh store)."""
    sql = sink_offsets.NEXT_OFFSETS.format(db=store.database)
    return {int(p): int(o) for p, o in store.query(sql, {"consumer": consumer, "topic": topic})}
