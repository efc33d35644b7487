"""Named, parameterised data loaders with a short cache shared by every viewer.

Callbacks never hold SQL: they call the loaders here. Each loader runs one named query; results are
cached by (name, params) for `cockpit_cache_s`, and concurrent misses of one key wait for a single
query (single flight), so ten wall screens refreshing together cost one query, not ten.

Named queries are templates over the storage layer's tables (`clicks_minute`, `late_events`; their
names and columns come from `sinks.tables`), in the SQL subset both engines (chDB and ClickHouse
18.16) understand. `{where}` takes the optional filters, each a bound parameter, never pasted text:
`platform` (a code of `contracts.geo.PLATFORMS`) and `province` (a GB/T 2260 code or 'abroad').
Enum columns compared with a string that is not a member make ClickHouse raise, so the filter
values are checked against the contract before they reach SQL (`check_filters`).
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from cockpit.metrics import CockpitMetrics
from contracts.geo import PLATFORMS, PROVINCE_CODES
from sinks import queries as sink_queries
from sinks.store import Row, Store
from sinks.tables import clicks_minute, late_events

Clock = Callable[[], float]

_CM = f"{{db}}.{clicks_minute.TABLE}"
_RANGE = "minute >= toDateTime(%(start)s) AND minute < toDateTime(%(end)s)"

# Parameters: epoch seconds `start`, `end` (half-open range); `step` (seconds, a divisor of an hour
# or a multiple of it: buckets align with Beijing hours because UTC+8 is a whole number of hours).
NAMED: Final[dict[str, str]] = {
    "latest_minute": clicks_minute.LATEST_MINUTE,
    "series": f"""
SELECT intDiv(toUInt32(minute), %(step)s) * %(step)s AS ts, sum(clicks) AS clicks
FROM {_CM} WHERE {_RANGE}{{where}}
GROUP BY ts ORDER BY ts""",
    "total_between": f"SELECT sum(clicks) FROM {_CM} WHERE {_RANGE}{{where}}",
    "total_by_platform": f"""
SELECT toString(platform) AS code, sum(clicks) AS total
FROM {_CM} WHERE {_RANGE}{{where}} GROUP BY platform""",
    "total_by_province": f"""
SELECT toString(province) AS code, sum(clicks) AS total
FROM {_CM} WHERE {_RANGE}{{where}} GROUP BY province""",
    "total_by_section": f"""
SELECT toString(section) AS code, sum(clicks) AS total
FROM {_CM} WHERE {_RANGE}{{where}} GROUP BY section""",
    # Beijing calendar days: the column's time zone is Asia/Shanghai, so toYYYYMMDD is a Beijing day.
    "daily_totals": f"""
SELECT toYYYYMMDD(minute) AS day, sum(clicks) AS total
FROM {_CM} WHERE {_RANGE}{{where}} GROUP BY day ORDER BY day""",
    "late_total_between": f"""
SELECT sum(events) FROM {{db}}.{late_events.TABLE} WHERE {_RANGE}{{where}}""",
    "ping": "SELECT 1",
}
# Which named queries take the range parameters, and which also take `step`.
RANGED: Final = frozenset(NAMED) - {"latest_minute", "ping"}
STEPPED: Final = frozenset({"series"})
# The storage layer's own named queries the cockpit reads (`sinks.queries.NAMED`, owned by the table
# modules): unique users and sessions, session counts, top resources, countries, the 10 s tiles and
# the alert log. They take no platform/province filter; their parameters are `sinks.queries.params_of`.
SINK_NAMED: Final = ("uniques_between", "sessions_between", "top_resources", "countries_between",
                     "tiles_recent", "alerts_current", "alerts_history")
NAMED.update({name: sink_queries.NAMED[name] for name in SINK_NAMED})
UNFILTERED: Final = frozenset(SINK_NAMED) | {"latest_minute", "ping"}


def check_filters(platform: str | None, province: str | None) -> None:
    """Reject filter values outside the contract before they reach an Enum comparison."""
    if platform is not None and platform not in PLATFORMS:
        raise ValueError(f"unknown platform {platform!r}")
    if province is not None and province not in PROVINCE_CODES:
        raise ValueError(f"unknown province {province!r}")


def _where(filters: Mapping[str, Any]) -> str:
    return "".join(f" AND {col} = %({col})s" for col in ("platform", "province") if col in filters)


@dataclass
class _Entry:
    at: float
    rows: tuple[Row, ...]


Key = tuple[str, tuple[tuple[str, Any], ...]]


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
        self._cache: dict[Key, _Entry] = {}
        self._flights: dict[Key, threading.Lock] = {}
        self._lock = threading.Lock()
        self.db_seconds = 0.0  # time spent in the store (misses): what the benchmark compares

    # -- the cache ---------------------------------------------------------------------------

    def _fresh(self, entry: _Entry | None, now: float) -> bool:
        return entry is not None and 0 <= now - entry.at < self.ttl_s

    def run(self, name: str, **params: Any) -> tuple[Row, ...]:
        """Rows of the named query; from the shared cache when younger than the TTL.

        `platform=None` / `province=None` mean "no filter" and are dropped from the key.
        """
        params = {k: v for k, v in params.items() if v is not None}
        check_filters(params.get("platform"), params.get("province"))
        if name in UNFILTERED and ({"platform", "province"} & set(params)):
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
        sql = NAMED[name].format(db=self.store.database, where=_where(params))
        started = time.perf_counter()
        try:
            rows = tuple(self.store.query(sql, dict(params) or None))
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

    def series(self, start: int, end: int, step: int = 60, *, platform: str | None = None,
               province: str | None = None) -> list[tuple[int, int]]:
        """(bucket start, events) for buckets holding stored rows; empty buckets are absent."""
        rows = self.run("series", start=start, end=end, step=step, platform=platform, province=province)
        return [(int(ts), int(n)) for ts, n in rows]

    def per_minute_national(self, start: int, end: int, *, platform: str | None = None) -> list[tuple[int, int]]:
        return self.series(start, end, 60, platform=platform)

    def total_between(self, start: int, end: int, *, platform: str | None = None,
                      province: str | None = None) -> int:
        rows = self.run("total_between", start=start, end=end, platform=platform, province=province)
        return int(rows[0][0] or 0) if rows else 0

    def _by(self, name: str, start: int, end: int, platform: str | None, province: str | None) -> dict[str, int]:
        rows = self.run(name, start=start, end=end, platform=platform, province=province)
        return {str(code): int(n) for code, n in rows}

    def total_by_platform(self, start: int, end: int, *, platform: str | None = None,
                          province: str | None = None) -> dict[str, int]:
        return self._by("total_by_platform", start, end, platform, province)

    def total_by_province(self, start: int, end: int, *, platform: str | None = None,
                          province: str | None = None) -> dict[str, int]:
        return self._by("total_by_province", start, end, platform, province)

    def total_by_section(self, start: int, end: int, *, platform: str | None = None,
                         province: str | None = None) -> dict[str, int]:
        return self._by("total_by_section", start, end, platform, province)

    def daily_totals(self, start: int, end: int, *, platform: str | None = None,
                     province: str | None = None) -> list[tuple[int, int]]:
        """(YYYYMMDD Beijing day, events) for days with stored rows, in order."""
        rows = self.run("daily_totals", start=start, end=end, platform=platform, province=province)
        return [(int(day), int(n)) for day, n in rows]

    def late_total_between(self, start: int, end: int, *, platform: str | None = None,
                           province: str | None = None) -> int:
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

    def top_resources(self, start: int, end: int, limit: int = 10) -> list[tuple[str, str, str, int, int, int]]:
        """(platform, resource id, section, views, plays, downloads), most viewed first."""
        rows = self.run("top_resources", start=start, end=end, limit=limit)
        return [(str(p), str(r), str(s), int(v), int(pl), int(d)) for p, r, s, v, pl, d in rows]

    def countries_between(self, start: int, end: int, limit: int = 10) -> list[tuple[str, int]]:
        """(ISO 3166-1 country, events of users abroad), most first."""
        rows = self.run("countries_between", start=start, end=end, limit=limit)
        return [(str(c), int(n)) for c, n in rows]

    def tiles_recent(self, start: int, end: int) -> list[tuple[int, str, int]]:
        """(10 s bucket start, platform, clicks) in [start, end), in time order."""
        rows = self.run("tiles_recent", start=start, end=end)
        return [(int(ts), str(p), int(n)) for ts, p, n in rows]

    def alerts_current(self, end: int) -> tuple[Row, ...]:
        """Each alert's latest state change before `end` (raw rows; `snapshots.AlertNow` parses them)."""
        return self.run("alerts_current", end=end)

    def alerts_history(self, start: int, end: int, limit: int = 200) -> tuple[Row, ...]:
        """State changes, acknowledgements and silences in [start, end), newest first (raw rows)."""
        return self.run("alerts_history", start=start, end=end, limit=limit)

    def ping(self) -> bool:
        """Uncached reachability check for /healthz."""
        return self._query("ping", {}) == ((1,),)
