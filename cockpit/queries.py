"""Named, parameterised data loaders with a short cache shared by every viewer.

Callbacks never hold SQL: they call the loaders here. Each loader runs one named query; results are
cached by (name, params) for `cockpit_cache_s`, and concurrent misses of one key wait for a single
query (single flight), so ten wall screens refreshing together cost one query, not ten.

Named queries reuse the table modules' constants; those the storage layer does not define yet
(`TOTAL_BY_PLATFORM`, `TOTAL_BY_PROVINCE`, `TOTAL_BY_SECTION`, `PING`) live here, built on the same
table constants and in the SQL subset both engines (chDB and ClickHouse 18.16) understand; they
belong in `sinks/tables/clicks_minute.py` once its owner takes them.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from cockpit.metrics import CockpitMetrics
from cockpit.timeframe import Windows, windows
from sinks.store import Row, Store
from sinks.tables import clicks_minute, late_events

Clock = Callable[[], float]

# ----------------------------------------------------------------------------------------------
# Named queries (parameters: epoch seconds `start`, `end`, half-open range; `{db}` is formatted).

TOTAL_BY_PLATFORM: Final = f"""
SELECT toString(platform) AS platform_code, sum(clicks) AS total
FROM {{db}}.{clicks_minute.TABLE}
WHERE minute >= toDateTime(%(start)s) AND minute < toDateTime(%(end)s)
GROUP BY platform
"""

TOTAL_BY_PROVINCE: Final = f"""
SELECT toString(province) AS province_code, sum(clicks) AS total
FROM {{db}}.{clicks_minute.TABLE}
WHERE minute >= toDateTime(%(start)s) AND minute < toDateTime(%(end)s)
GROUP BY province
"""

TOTAL_BY_SECTION: Final = f"""
SELECT toString(section) AS section_code, sum(clicks) AS total
FROM {{db}}.{clicks_minute.TABLE}
WHERE minute >= toDateTime(%(start)s) AND minute < toDateTime(%(end)s)
GROUP BY section
"""

PING: Final = "SELECT 1"

NAMED: Final[dict[str, str]] = {
    "latest_minute": clicks_minute.LATEST_MINUTE,
    "per_minute_national": clicks_minute.PER_MINUTE_NATIONAL,
    "total_between": clicks_minute.TOTAL_BETWEEN,
    "total_by_platform": TOTAL_BY_PLATFORM,
    "total_by_province": TOTAL_BY_PROVINCE,
    "total_by_section": TOTAL_BY_SECTION,
    "late_total_between": late_events.TOTAL_BETWEEN,
    "ping": PING,
}


@dataclass
class _Entry:
    at: float
    rows: tuple[Row, ...]


class Queries:
    """Runs named queries against one store through a TTL cache; one instance per app, shared."""

    def __init__(
        self,
        store: Store,
        ttl_s: float,
        clock: Clock = time.monotonic,
        metrics: CockpitMetrics | None = None,
    ) -> None:
        self.store = store
        self.ttl_s = ttl_s
        self._clock = clock
        self._metrics = metrics
        self._cache: dict[tuple[str, tuple[tuple[str, Any], ...]], _Entry] = {}
        self._flights: dict[tuple[str, tuple[tuple[str, Any], ...]], threading.Lock] = {}
        self._lock = threading.Lock()

    # -- the cache ---------------------------------------------------------------------------

    def _fresh(self, entry: _Entry | None, now: float) -> bool:
        return entry is not None and 0 <= now - entry.at < self.ttl_s

    def run(self, name: str, **params: int) -> tuple[Row, ...]:
        """Rows of the named query; from the shared cache when younger than the TTL."""
        key = (name, tuple(sorted(params.items())))
        with self._lock:
            entry = self._cache.get(key)
            if self._fresh(entry, self._clock()):
                self._count(name, "hit")
                return entry.rows  # type: ignore[union-attr]
            flight = self._flights.setdefault(key, threading.Lock())
        with flight:  # one query per key at a time; latecomers find it cached
            with self._lock:
                entry = self._cache.get(key)
                if self._fresh(entry, self._clock()):
                    self._count(name, "hit")
                    return entry.rows  # type: ignore[union-attr]
            rows = self._query(name, params)
            with self._lock:
                now = self._clock()
                self._cache[key] = _Entry(now, rows)
                self._prune(now)
            return rows

    def _query(self, name: str, params: Mapping[str, int]) -> tuple[Row, ...]:
        sql = NAMED[name].format(db=self.store.database)
        started = time.perf_counter()
        try:
            rows = tuple(self.store.query(sql, dict(params) or None))
        except Exception:
            self._count(name, "error")
            raise
        if self._metrics is not None:
            self._metrics.query_seconds.labels(name).observe(time.perf_counter() - started)
        self._count(name, "miss")
        return rows

    def _prune(self, now: float) -> None:
        """Drop expired entries so keys that moved on (a new minute) do not pile up."""
        for key in [k for k, e in self._cache.items() if not self._fresh(e, now)]:
            del self._cache[key]
            self._flights.pop(key, None)

    def _count(self, name: str, outcome: str) -> None:
        if self._metrics is not None:
            self._metrics.queries.labels(name, outcome).inc()

    # -- loaders -----------------------------------------------------------------------------

    def latest_minute(self) -> int | None:
        """The cockpit's "now": the latest event minute stored, or None while the store is empty."""
        rows = self.run("latest_minute")
        if not rows or not rows[0][1]:
            return None
        return int(rows[0][0])

    def per_minute_national(self, start: int, end: int) -> list[tuple[int, int]]:
        return [(int(ts), int(n)) for ts, n in self.run("per_minute_national", start=start, end=end)]

    def total_between(self, start: int, end: int) -> int:
        rows = self.run("total_between", start=start, end=end)
        return int(rows[0][0] or 0) if rows else 0

    def total_by_platform(self, start: int, end: int) -> dict[str, int]:
        return {str(p): int(n) for p, n in self.run("total_by_platform", start=start, end=end)}

    def total_by_province(self, start: int, end: int) -> dict[str, int]:
        return {str(p): int(n) for p, n in self.run("total_by_province", start=start, end=end)}

    def total_by_section(self, start: int, end: int) -> dict[str, int]:
        return {str(p): int(n) for p, n in self.run("total_by_section", start=start, end=end)}

    def late_total_between(self, start: int, end: int) -> int:
        rows = self.run("late_total_between", start=start, end=end)
        return int(rows[0][0] or 0) if rows else 0

    def ping(self) -> bool:
        """Uncached reachability check for /healthz."""
        return self._query("ping", {}) == ((1,),)


# ----------------------------------------------------------------------------------------------
# The overview snapshot: what one refresh of the page shows, all from the loaders above.


@dataclass(frozen=True)
class Overview:
    win: Windows
    series: list[tuple[int, int]]  # (minute, events) over the last hour, as stored
    today_total: int
    late_today: int
    hour_total: int
    rate_minute: int  # the minute whose count is shown as the current rate
    rate: int  # events in `rate_minute`
    peak_minute: int
    peak: int
    by_platform: dict[str, int]  # today
    by_province: dict[str, int]  # today
    by_section: dict[str, int]  # today


def rate_point(series: list[tuple[int, int]], now: int) -> tuple[int, int]:
    """(minute, events) of the last full minute: the one before `now`, which may still be filling.

    With only the latest minute stored there is no earlier one; that minute is shown then. A minute
    missing from a non-empty series stored no events: its rate is 0, not a guess.
    """
    counts = dict(series)
    if any(ts < now for ts in counts):
        return now - 60, counts.get(now - 60, 0)
    return now, counts.get(now, 0)


def peak_point(series: list[tuple[int, int]]) -> tuple[int, int]:
    """(minute, events) of the busiest minute; the earliest one on ties."""
    return max(series, key=lambda p: (p[1], -p[0])) if series else (0, 0)


def load_overview(q: Queries) -> Overview | None:
    """One refresh's data, or None while the store holds no clicks (the page then says so)."""
    now = q.latest_minute()
    if now is None:
        return None
    w = windows(now)
    series = q.per_minute_national(w.hour_start, w.hour_end)
    rate_minute, rate = rate_point(series, w.now)
    peak_minute, peak = peak_point(series)
    return Overview(
        win=w,
        series=series,
        today_total=q.total_between(w.day_start, w.day_end),
        late_today=q.late_total_between(w.day_start, w.day_end),
        hour_total=q.total_between(w.hour_start, w.hour_end),
        rate_minute=rate_minute,
        rate=rate,
        peak_minute=peak_minute,
        peak=peak,
        by_platform=q.total_by_platform(w.day_start, w.day_end),
        by_province=q.total_by_province(w.day_start, w.day_end),
        by_section=q.total_by_section(w.day_start, w.day_end),
    )
