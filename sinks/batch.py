"""The sink's buffer: `add()` rate batches per partition, `flush()` them to the store in one go.

A flush writes the aggregate rows, then the next offsets per partition into `sink_offsets`; the
consumer seeks to those on start, so Kafka's own committed offsets are only a hint.
"""
from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field

from contracts.rates import RateBatch
from sinks.store import ChdbStore, ServerStore
from sinks.tables import clicks_minute, late_events, rejects_minute, sink_offsets


@dataclass
class RateBuffer:
    consumer: str
    topic: str
    clicks: list[tuple] = field(default_factory=list)
    late: list[tuple] = field(default_factory=list)
    rejects: Counter = field(default_factory=Counter)  # (minute, reason) -> events
    next_offsets: dict[int, int] = field(default_factory=dict)
    started: float = field(default_factory=time.monotonic)

    @property
    def rows(self) -> int:
        return len(self.clicks) + len(self.late) + len(self.rejects)

    def add(self, partition: int, offset: int, batch: RateBatch) -> None:
        if not self.next_offsets and not self.rows:
            self.started = time.monotonic()
        self.clicks.extend(batch.clicks)
        self.late.extend(batch.late)
        if batch.rejects:
            # Event time of the batch; 0 (1970) for a partition that has not seen a valid event yet,
            # never the wall clock, which would move retention's event-time "today" during a replay.
            minute = batch.watermark_ms // 60_000 * 60
            for reason, n in batch.rejects.items():
                self.rejects[(minute, reason)] += n
        self.next_offsets[partition] = offset + 1

    def age(self) -> float:
        return time.monotonic() - self.started if (self.rows or self.next_offsets) else 0.0

    def flush(self, store: ChdbStore | ServerStore) -> dict[str, int]:
        """Write everything buffered; raises on failure and keeps the buffer for a retry."""
        written: dict[str, int] = {}
        # `insert` is each engine's fast path from Python rows: chDB reads them as one Arrow table
        # through Python(); the server gets them as native blocks (compressed) from the driver.
        if self.clicks:
            written[clicks_minute.TABLE] = store.insert(clicks_minute.TABLE, clicks_minute.COLUMNS, self.clicks)
        if self.late:
            written[late_events.TABLE] = store.insert(late_events.TABLE, late_events.COLUMNS, self.late)
        if self.rejects:
            rows = [(m, reason, n) for (m, reason), n in self.rejects.items()]
            written[rejects_minute.TABLE] = store.insert(rejects_minute.TABLE, rejects_minute.COLUMNS, rows)
        # A crash here (rows stored, offsets not) would re-store this buffer on restart: the one
        # window docs/exactly-once.md describes; it is as short as one small insert.
        if self.next_offsets:
            store.insert(sink_offsets.TABLE, sink_offsets.COLUMNS,
                         [(self.consumer, self.topic, p, o) for p, o in self.next_offsets.items()])
        self.clear()
        return written

    def clear(self) -> None:
        self.clicks.clear()
        self.late.clear()
        self.rejects.clear()
        self.next_offsets.clear()


def stored_offsets(store: ChdbStore | ServerStore, consumer: str, topic: str) -> dict[int, int]:
    """Next offset per partition as recorded by earlier flushes (empty on a fresh store)."""
    sql = sink_offsets.NEXT_OFFSETS.format(db=store.database)
    return {int(p): int(o) for p, o in store.query(sql, {"consumer": consumer, "topic": topic})}
