"""The sink's buffer: `add()` rate batches per partition, `flush()` them to the store in one go.

A flush writes the aggregate rows, then the next offsets per partition into `sink_offsets`; the
consumer seeks to those on start, so Kafka's own committed offsets are only a hint.
"""
from __future__ import annotations

import logging
import time
from collections import Counter
from dataclasses import dataclass, field

from contracts.alerts import decode_change
from contracts.rates import RateBatch, decode_batch
from sinks.store import ChdbStore, ServerStore
from sinks.tables import alert_log
from sinks.tables import (clicks_minute, countries_minute, late_events, rejects_minute, resources_minute,
                          sessions_minute, sink_offsets, tiles_10s, uniques_minute)

log = logging.getLogger(__name__)

# RateBatch field -> (table, columns) for the rows stored as they come.
_PLAIN: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("clicks", clicks_minute.TABLE, clicks_minute.COLUMNS),
    ("late", late_events.TABLE, late_events.COLUMNS),
    ("tiles", tiles_10s.TABLE, tiles_10s.COLUMNS),
    ("resources", resources_minute.TABLE, resources_minute.COLUMNS),
    ("visitors", uniques_minute.INPUT, uniques_minute.INPUT_COLUMNS),
    ("sessions", sessions_minute.TABLE, sessions_minute.COLUMNS),
    ("countries", countries_minute.TABLE, countries_minute.COLUMNS),
)


@dataclass
class RateBuffer:
    consumer: str
    topic: str
    clicks: list[tuple] = field(default_factory=list)
    late: list[tuple] = field(default_factory=list)
    tiles: list[tuple] = field(default_factory=list)
    resources: list[tuple] = field(default_factory=list)
    visitors: list[tuple] = field(default_factory=list)
    sessions: list[tuple] = field(default_factory=list)
    countries: list[tuple] = field(default_factory=list)
    rejects: Counter = field(default_factory=Counter)  # (minute, reason) -> events
    next_offsets: dict[int, int] = field(default_factory=dict)
    started: float = field(default_factory=time.monotonic)
    # Tables this buffer's rows are already stored in: a flush that fails half-way (ClickHouse
    # stopped between two inserts) is retried for the remaining tables only, never re-inserting the
    # ones that succeeded. The buffer does not change between a failed flush and its retry.
    done: set[str] = field(default_factory=set)

    @property
    def rows(self) -> int:
        return sum(len(getattr(self, name)) for name, _, _ in _PLAIN) + len(self.rejects)

    def add(self, partition: int, offset: int, batch: RateBatch) -> None:
        if self.done:
            raise RuntimeError("rows added to a buffer whose flush is half done: they would never be stored")
        if not self.next_offsets and not self.rows:
            self.started = time.monotonic()
        for name, _, _ in _PLAIN:
            rows = getattr(batch, name)
            if rows:
                getattr(self, name).extend(rows)
        if batch.rejects:
            # Event time of the batch; 0 (1970) for a partition that has not seen a valid event yet,
            # never the wall clock, which would move retention's event-time "today" during a replay.
            minute = batch.watermark_ms // 60_000 * 60
            for reason, n in batch.rejects.items():
                self.rejects[(minute, reason)] += n
        self.next_offsets[partition] = offset + 1

    def add_raw(self, partition: int, offset: int, raw: bytes) -> None:
        self.add(partition, offset, decode_batch(raw))

    def age(self) -> float:
        return time.monotonic() - self.started if (self.rows or self.next_offsets) else 0.0

    def flush(self, store: ChdbStore | ServerStore) -> dict[str, int]:
        """Write everything buffered; raises on failure and keeps the buffer for a retry."""
        written: dict[str, int] = {}
        # `insert` is each engine's fast path from Python rows: chDB reads them as one Arrow table
        # through Python(); the server gets them as native blocks (compressed) from the driver.
        for name, table, columns in _PLAIN:
            rows = getattr(self, name)
            if rows and table not in self.done:
                written[table] = store.insert(table, columns, rows)
                self.done.add(table)
        if self.rejects and rejects_minute.TABLE not in self.done:
            rows = [(m, reason, n) for (m, reason), n in self.rejects.items()]
            written[rejects_minute.TABLE] = store.insert(rejects_minute.TABLE, rejects_minute.COLUMNS, rows)
            self.done.add(rejects_minute.TABLE)
        # A crash (or a revocation during an outage) after some inserts and before the offsets would
        # re-store those rows on restart: the window docs/exactly-once.md describes.
        store_offsets(store, self.consumer, self.topic, self.next_offsets)
        self.clear()
        return written

    def clear(self) -> None:
        for name, _, _ in _PLAIN:
            getattr(self, name).clear()
        self.rejects.clear()
        self.next_offsets.clear()
        self.done.clear()


def store_offsets(store: ChdbStore | ServerStore, consumer: str, topic: str, next_offsets: dict[int, int]) -> None:
    """Record where a flush left each partition; the sink seeks there on assignment."""
    if next_offsets:
        store.insert(sink_offsets.TABLE, sink_offsets.COLUMNS,
                     [(consumer, topic, p, o) for p, o in next_offsets.items()])


@dataclass
class AlertLogBuffer:
    """The alerts topic's buffer: state changes become `alert_log` rows, offsets as for rates."""

    consumer: str
    topic: str
    changes: list[tuple] = field(default_factory=list)
    next_offsets: dict[int, int] = field(default_factory=dict)
    started: float = field(default_factory=time.monotonic)
    done: set[str] = field(default_factory=set)  # as RateBuffer.done

    @property
    def rows(self) -> int:
        return len(self.changes)

    def add_raw(self, partition: int, offset: int, raw: bytes) -> None:
        if self.done:
            raise RuntimeError("rows added to a buffer whose flush is half done: they would never be stored")
        if not self.next_offsets and not self.changes:
            self.started = time.monotonic()
        change = decode_change(raw)
        if isinstance(change, str):  # a refused record never stops the log; it is counted and skipped
            log.warning("alerts topic p%d o%d refused: %s", partition, offset, change)
        else:
            self.changes.append(alert_log.row(change))
        self.next_offsets[partition] = offset + 1

    def age(self) -> float:
        return time.monotonic() - self.started if (self.changes or self.next_offsets) else 0.0

    def flush(self, store: ChdbStore | ServerStore) -> dict[str, int]:
        written: dict[str, int] = {}
        if self.changes and alert_log.TABLE not in self.done:
            written[alert_log.TABLE] = store.insert(alert_log.TABLE, alert_log.COLUMNS, self.changes)
            self.done.add(alert_log.TABLE)
        store_offsets(store, self.consumer, self.topic, self.next_offsets)
        self.clear()
        return written

    def clear(self) -> None:
        self.changes.clear()
        self.next_offsets.clear()
        self.done.clear()


def stored_offsets(store: ChdbStore | ServerStore, consumer: str, topic: str) -> dict[int, int]:
    """Next offset per partition as recorded by earlier flushes (empty on a fresh store)."""
    sql = sink_offsets.NEXT_OFFSETS.format(db=store.database)
    return {int(p): int(o) for p, o in store.query(sql, {"consumer": consumer, "topic": topic})}
