"""Retention: drop whole partitions older than each table's retention, on both engines.

ClickHouse 18.16 has no TTL clause, so expiry is done the way both engines understand: list a
table's active partitions from `system.parts` and `ALTER TABLE .. DROP PARTITION <int>` those whose
last day is expired. A partition is a Beijing day (`toYYYYMMDD`) or month (`toYYYYMM`); with
retention N days, "today" and the N-1 days before it are kept, so a day partition D goes once
D <= today - N, a month once its last day does. 0 days keeps a table forever.

"Today" follows event time by default (the latest day stored), so a replay of March 2022 keeps its
last N days; `clock="wall"` uses the Beijing date. Runs from `edu-sink retention` and hourly in the
sink; on a cluster it drops `ON CLUSTER`, so every shard and replica loses the same days.
"""

from __future__ import annotations

import calendar
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Literal

from contracts.beijing import BEIJING
from sinks.schema import retained
from sinks.store import Store, StoreError, StoreUnavailable

log = logging.getLogger(__name__)

Clock = Literal["event", "wall"]

PARTITIONS = """
SELECT partition, sum(rows) FROM system.parts
WHERE database = %(db)s AND table = %(table)s AND active
GROUP BY partition ORDER BY partition
"""


@dataclass(frozen=True)
class Dropped:
    table: str
    partition: int  # 20220314 (day) or 202203 (month)
    rows: int  # rows in its active parts when dropped (before merges, so partial sums count apart)


def policy(settings: Any) -> dict[str, int]:
    """Retention days per retained table: the table's setting if the settings object has it, else
    the table module's default."""
    return {m.TABLE: int(getattr(settings, m.RETENTION.setting, m.RETENTION.default_days)) for m in retained()}


def _local(table: str, cluster: str | None) -> str:
    return f"{table}_local" if cluster else table


def partitions(store: Store, table: str) -> list[tuple[int, int]]:
    """(partition, rows) of a table's active parts, ascending."""
    rows = store.query(PARTITIONS, {"db": store.database, "table": table})
    return [(int(p), int(n)) for p, n in rows]


def last_day(partition: int, granularity: str) -> date:
    if granularity == "day":
        return date(partition // 10000, partition // 100 % 100, partition % 100)
    year, month = partition // 100, partition % 100
    return date(year, month, calendar.monthrange(year, month)[1])


def expired(partition: int, granularity: str, days: int, today: date) -> bool:
    return days > 0 and last_day(partition, granularity) <= today - timedelta(days=days)


def wall_today(now: float | None = None) -> date:
    return datetime.fromtimestamp(time.time() if now is None else now, BEIJING).date()


def event_today(store: Store, cluster: str | None = None) -> date | None:
    """The latest Beijing day held by any day-partitioned table, or None for an empty store."""
    latest = 0
    for mod in retained():
        if mod.RETENTION.granularity == "day":
            parts = partitions(store, _local(mod.TABLE, cluster))
            if parts:
                latest = max(latest, parts[-1][0])
    return last_day(latest, "day") if latest else None


def today_for(store: Store, clock: Clock, cluster: str | None = None) -> date | None:
    return wall_today() if clock == "wall" else event_today(store, cluster)


def plan(store: Store, days: dict[str, int], today: date, cluster: str | None = None) -> list[Dropped]:
    """The partitions that `enforce` would drop now."""
    out: list[Dropped] = []
    for mod in retained():
        keep = days.get(mod.TABLE, mod.RETENTION.default_days)
        if keep <= 0:
            continue
        for partition, rows in partitions(store, _local(mod.TABLE, cluster)):
            if expired(partition, mod.RETENTION.granularity, keep, today):
                out.append(Dropped(mod.TABLE, partition, rows))
    return out


def drop_sql(database: str, table: str, cluster: str | None = None) -> str:
    """`ALTER .. DROP PARTITION %(p)s`; bind `p` as an int (a string literal fails on 18.16)."""
    on = f" ON CLUSTER {cluster}" if cluster else ""
    return f"ALTER TABLE {database}.{_local(table, cluster)}{on} DROP PARTITION %(p)s"


def enforce(
    store: Store, days: dict[str, int], today: date, dry_run: bool = False, cluster: str | None = None
) -> list[Dropped]:
    """Drop every expired partition of every retained table; return what was (or would be) dropped."""
    todo = plan(store, days, today, cluster)
    for d in todo:
        if not dry_run:
            store.command(drop_sql(store.database, d.table, cluster), {"p": int(d.partition)})
            log.info("retention: dropped %s partition %d (%d rows)", d.table, d.partition, d.rows)
    return todo


def run_once(
    store: Store, settings: Any, clock: Clock | None = None, today: date | None = None, dry_run: bool = False
) -> tuple[date | None, list[Dropped]]:
    """Enforce the settings' policy as of `today` (or the clock's today); nothing to do if None."""
    chosen: Clock = clock if clock else getattr(settings, "retention_clock", "event")
    cluster = getattr(settings, "clickhouse_cluster", None) or None
    today = today or today_for(store, chosen, cluster)
    if today is None:
        return None, []
    return today, enforce(store, policy(settings), today, dry_run=dry_run, cluster=cluster)


class RetentionSchedule:
    """Runs retention every `interval_s` from inside a loop that calls `tick()` often (the sink's).

    Cheap when nothing is due: one clock read. The first run is due at once, so a restart enforces
    retention without waiting an interval; a run that cannot reach the store is retried after
    `retry_s`. Never raises: retention must not stop the sink.
    """

    def __init__(
        self,
        store: Store,
        settings: Any,
        interval_s: float | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        retry_s: float = 60.0,
        on_dropped: Callable[[list[Dropped]], None] | None = None,
    ) -> None:
        self.store = store
        self.settings = settings
        self.interval_s = float(
            interval_s if interval_s is not None else getattr(settings, "retention_interval_s", 3600.0)
        )
        self._monotonic = monotonic
        self.retry_s = retry_s
        self.on_dropped = on_dropped
        self.next_at = monotonic()
        self.runs = 0

    @property
    def enabled(self) -> bool:
        return self.interval_s > 0

    def tick(self) -> list[Dropped] | None:
        """Run if due; return what was dropped, or None if nothing ran (not due, or failed)."""
        now = self._monotonic()
        if not self.enabled or now < self.next_at:
            return None
        try:
            _, dropped = run_once(self.store, self.settings)
        except StoreUnavailable as err:
            log.warning("retention: store unavailable, retry in %.0fs: %s", self.retry_s, err)
            self.next_at = now + min(self.retry_s, self.interval_s)
            return None
        except StoreError:
            log.exception("retention failed; next try in %.0fs", self.interval_s)
            self.next_at = now + self.interval_s
            return None
        self.runs += 1
        self.next_at = now + self.interval_s
        if self.on_dropped is not None:
            self.on_dropped(dropped)
        return dropped
