"""Named, parameterised data loaders with a short cache shared by every viewer.

Callbacks never hold SQL: they call the loaders here, and the loaders hold none either. Each loader
runs one of the storage layer's named queries (`sinks.queries`, owned by the table modules that
justify their layout) through `sinks.queries.run`, the one place a query's SQL, parameters and
optional `platform` / `province` filters are put together (filter values are checked against the
contract before they reach SQL). Results are cached by (name, params) for `cockpit_cache_s`, and
concurrent misses of one key wait for a single query (single flight), so ten wall screens
refreshing together cost one query, not ten.

Live measures read `clicks_minute`; the daily report reads the hourly rollup `clicks_hour`
(`daily_totals`, `daily_by_province`), which outlives the minute table's retention and is ~50
times smaller over weeks.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from cockpit.metrics import CockpitMetrics
from contracts.calendar import SchoolCalendar
from sinks import queries as sink_queries
from sinks import rollups
from sinks.store import Row, Store

Clock = Callable[[], float]
TopResource = tuple[str, str, str, int, int, int, str]  # platform, id, section, views, plays, downloads, title

# The storage layer's named queries the cockpit reads; their parameters are `sinks.queries.params_of`
# and those in `sinks.queries.FILTERABLE` also take the platform / province filters.
USED: Final = (
    "latest_minute",
    "series",
    "series_hours",
    "total_between",
    "total_by_platform",
    "total_by_province",
    "total_by_section",
    "by_platform_province",
    "late_total_between",
    "daily_totals",
    "daily_by_province",
    "top_resources",
    "uniques_between",
    "sessions_between",
    "countries_between",
    "tiles_recent",
    "alerts_current",
    "alerts_history",
    "resource_titles",
    # the rollups a range's whole hours and days are read from (sinks/rollups.py)
    "series_days",
    "total_between_hours",
    "total_between_days",
    "total_by_platform_hours",
    "total_by_platform_days",
    "total_by_province_hours",
    "total_by_province_days",
    "total_by_section_hours",
    "total_by_section_days",
)
PING: Final = "ping"  # the reachability probe of /healthz: no table, never cached


def check_filters(platform: str | None, province: str | None) -> None:
    """Reject filter values outside the contract before they reach an Enum comparison."""
    sink_queries.check_filters(platform, province)


@dataclass
class _Entry:
    at: float
    rows: tuple[Row, ...]


@dataclass
class _Memo:
    at: float
    value: Any


Key = tuple[str, tuple[tuple[str, Any], ...]]


class Queries:
    """Runs named queries against one store through a TTL cache; one instance per app, shared."""

    def __init__(
        self,
        store: Store,
        ttl_s: float,
        clock: Clock = time.monotonic,
        metrics: CockpitMetrics | None = None,
        calendar: SchoolCalendar = SchoolCalendar(),
    ) -> None:
        self.store = store
        self.ttl_s = ttl_s
        self.calendar = calendar  # which days the seasonal baselines compare with (cockpit.seasonal)
        self._clock = clock
        self._metrics = metrics
        self._cache: dict[Key, _Entry] = {}
        self._flights: dict[Key, threading.Lock] = {}
        self._memo: dict[tuple[Any, ...], _Memo] = {}
        self._lock = threading.Lock()
        self.db_seconds = 0.0  # time spent in the store (misses): what the benchmark compares

    # -- the cache ---------------------------------------------------------------------------

    def _fresh(self, entry: _Entry | _Memo | None, now: float) -> bool:
        return entry is not None and 0 <= now - entry.at < self.ttl_s

    def run(self, name: str, **params: Any) -> tuple[Row, ...]:
        """Rows of the named query; from the shared cache when younger than the TTL.

        `platform=None` / `province=None` mean "no filter" and are dropped from the key.
        """
        if name not in USED:  # the metrics' query label stays within USED
            raise KeyError(f"the cockpit does not use the named query {name!r}")
        params = {k: v for k, v in params.items() if v is not None}
        check_filters(params.get("platform"), params.get("province"))
        filters = {"platform", "province"} & set(params) - set(sink_queries.params_of(name))
        if filters and name not in sink_queries.FILTERABLE:
            raise TypeError(f"named query {name!r} takes no platform/province filter")  # never ignored silently
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

    def _query(self, name: str, params: Mapping[str, Any]) -> tuple[Row, ...]:
        started = time.perf_counter()
        try:
            rows = tuple(self.store.query("SELECT 1") if name == PING else sink_queries.run(self.store, name, **params))
        except Exception:
            self._count(name, "error")
            raise
        elapsed = time.perf_counter() - started
        with self._lock:
            self.db_seconds += elapsed
        if self._metrics is not None:
            self._metrics.query_seconds.labels(name).observe(elapsed)
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

    def series(
        self, start: int, end: int, step: int = 60, *, platform: str | None = None, province: str | None = None
    ) -> list[tuple[int, int]]:
        """(bucket start, events) for buckets holding stored rows; empty buckets are absent.

        Whole days and hours of the range read the daily and hourly rollups, only the ragged edges the
        minute table (`sinks.rollups`): a 7-day line is ~170 rows, not ~10,000."""
        return rollups.series(self.run, start, end, step, platform=platform, province=province)

    def per_minute_national(self, start: int, end: int, *, platform: str | None = None) -> list[tuple[int, int]]:
        return self.series(start, end, 60, platform=platform)

    def total_between(self, start: int, end: int, *, platform: str | None = None, province: str | None = None) -> int:
        return rollups.total(self.run, start, end, platform=platform, province=province)

    def _by(self, name: str, start: int, end: int, platform: str | None, province: str | None) -> dict[str, int]:
        return rollups.total_by(
            self.run, name.removeprefix("total_by_"), start, end, platform=platform, province=province
        )

    def total_by_platform(
        self, start: int, end: int, *, platform: str | None = None, province: str | None = None
    ) -> dict[str, int]:
        return self._by("total_by_platform", start, end, platform, province)

    def total_by_province(
        self, start: int, end: int, *, platform: str | None = None, province: str | None = None
    ) -> dict[str, int]:
        return self._by("total_by_province", start, end, platform, province)

    def total_by_section(
        self, start: int, end: int, *, platform: str | None = None, province: str | None = None
    ) -> dict[str, int]:
        return self._by("total_by_section", start, end, platform, province)

    def daily_totals(
        self, start: int, end: int, *, platform: str | None = None, province: str | None = None
    ) -> list[tuple[int, int]]:
        """(YYYYMMDD Beijing day, events) for days with stored rows, in order, from the hourly rollup:
        [start, end) must be whole hours (the report's are whole days)."""
        rows = self.run("daily_totals", start=start, end=end, platform=platform, province=province)
        return [(int(day), int(n)) for day, n in rows]

    def province_minutes(self, start: int, end: int) -> list[tuple[int, str, int]]:
        """(minute, division, events) over [start, end), all platforms summed (the surge board's
        sparklines: one query for every division)."""
        out: dict[tuple[int, str], int] = {}
        for ts, _platform, code, n in self.run("by_platform_province", start=start, end=end):
            out[(int(ts), str(code))] = out.get((int(ts), str(code)), 0) + int(n)
        return [(ts, code, n) for (ts, code), n in sorted(out.items())]

    def daily_by_province(self, start: int, end: int, *, platform: str | None = None) -> dict[str, int]:
        """Events per province over whole Beijing hours in [start, end), summed over the days of the
        hourly rollup (the report's growth table)."""
        out: dict[str, int] = {}
        for _day, code, n in self.run("daily_by_province", start=start, end=end, platform=platform):
            out[str(code)] = out.get(str(code), 0) + int(n)
        return out

    def late_total_between(
        self, start: int, end: int, *, platform: str | None = None, province: str | None = None
    ) -> int:
        rows = self.run("late_total_between", start=start, end=end, platform=platform, province=province)
        return int(rows[0][0] or 0) if rows else 0

    # -- the storage layer's named queries (no platform/province filter) ---------------------

    def uniques_between(self, start: int, end: int) -> tuple[int, int]:
        """(unique users, unique sessions) with any event in [start, end), all platforms."""
        rows = self.run("uniques_between", start=start, end=end)
        if not rows:
            return 0, 0
        users, sessions = rows[0]
        return int(users or 0), int(sessions or 0)

    def sessions_between(self, start: int, end: int) -> dict[str, float]:
        """Sessions started, ended, heartbeats, the six duration buckets and the duration sum."""
        from sinks.tables.sessions_minute import COUNTS

        rows = self.run("sessions_between", start=start, end=end)
        values = rows[0] if rows else (0,) * (len(COUNTS) + 1)
        out: dict[str, float] = {c: int(v or 0) for c, v in zip(COUNTS, values, strict=False)}
        out["duration_s"] = float(values[len(COUNTS)] or 0.0)
        return out

    def top_resources(self, start: int, end: int, limit: int = 10) -> list[TopResource]:
        """(platform, resource id, section, views, plays, downloads, title), most viewed first; the title
        from the `resources` catalogue table, the id where the catalogue does not know it."""
        rows = self.run("top_resources", start=start, end=end, limit=limit)
        titles = self.resource_titles(tuple(str(r[1]) for r in rows))
        return [
            (str(p), str(r), str(s), int(v), int(pl), int(d), titles.get(str(r), str(r))) for p, r, s, v, pl, d in rows
        ]

    def resource_titles(self, ids: tuple[str, ...]) -> dict[str, str]:
        """Catalogue titles of these resource ids (those the catalogue knows)."""
        if not ids:
            return {}
        return {str(r): str(title) for r, title in self.run("resource_titles", ids=tuple(sorted(set(ids))))}

    def countries_between(self, start: int, end: int, limit: int = 10) -> list[tuple[str, int]]:
        """(ISO 3166-1 country, events of users abroad), most first."""
        rows = self.run("countries_between", start=start, end=end, limit=limit)
        return [(str(c), int(n)) for c, n in rows]

    def tiles_recent(self, start: int, end: int) -> list[tuple[int, str, int]]:
        """(10 s bucket start, platform, clicks) in [start, end), in time order."""
        rows = self.run("tiles_recent", start=start, end=end)
        return [(int(ts), str(p), int(n)) for ts, p, n in rows]

    def alerts_current(self, end: int) -> tuple[Row, ...]:
        """Each alert's latest state change before `end` (raw rows; `alert_log.AlertNow` parses them)."""
        return self.run("alerts_current", end=end)

    def alerts_history(self, start: int, end: int, limit: int = 200) -> tuple[Row, ...]:
        """State changes, acknowledgements and silences in [start, end), newest first (raw rows)."""
        return self.run("alerts_history", start=start, end=end, limit=limit)

    def memo(self, key: tuple[Any, ...], compute: Callable[[], Any], keep: int = 8) -> Any:
        """`compute()` once per `key` and cache TTL (the latest `keep` keys kept): for values derived
        from several queries, e.g. the surge ratios of one event-time minute, which every viewer's
        map, board and rotation ask for. Not once per key for good: "now" is the latest minute
        stored, and other partitions' rows of the minutes before it may still be on their way (a
        fast replay runs partitions minutes apart). Kept for good, a window first computed
        half-filled stayed on the map for as long as a rehearsal held its last moment."""
        with self._lock:
            hit = self._memo.get(key)
            if hit is not None and self._fresh(hit, self._clock()):
                return hit.value
        value = compute()
        with self._lock:
            self._memo.pop(key, None)  # newest last: the oldest keys go first
            self._memo[key] = _Memo(self._clock(), value)
            while len(self._memo) > keep:
                del self._memo[next(iter(self._memo))]
        return value

    def ping(self) -> bool:
        """Uncached reachability check for /healthz."""
        return self._query(PING, {}) == ((1,),)
