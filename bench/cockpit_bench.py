"""Cockpit benchmark (not part of the test suite): overview refresh cost on 30 days of minute data.

    python -m bench.cockpit_bench [--days 30] [--refreshes 40] [--viewers 10]

On its own embedded chDB store: one full overview refresh with the cache off (p50/p95), ten
concurrent viewers' database time against one viewer's, and the daily report and map surge queries.
Goals (issue 7): p95 < 150 ms; ten viewers < 2x one viewer's database time. Details and figures:
bench/README.md ("Cockpit benchmark"). The last line holds the headline figures as name=value pairs.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

from cockpit.filters import Filters
from cockpit.pages import report
from cockpit.pages.overview import load_map_values, load_overview
from cockpit.pages.report import load_report
from cockpit.queries import Queries
from cockpit.surge import load_surge, load_surge_basis
from contracts.geo import PLATFORMS, PROVINCE_CODES
from sinks.migrate import migrate
from sinks.store import ChdbStore
from sinks.tables import clicks_minute

END = 1647225720  # 2022-03-14 10:42 Beijing: the data's "now"
SECTION = {"k12": "lessons", "vocational": "vocational_courses", "higher": "mooc", "employment": "jobs"}


def fill(store: ChdbStore, days: int, seed: int = 7) -> int:
    """`days` days of minute rows ending at END, one Arrow insert per day (bounded memory)."""
    rng = np.random.default_rng(seed)
    keys = [(p, c) for p in PLATFORMS for c in PROVINCE_CODES]
    platforms = np.array([p for p, _ in keys])
    provinces = np.array([c for _, c in keys])
    sections = np.array([SECTION[p] for p, _ in keys])
    start = END - days * 86400 + 60
    total = 0
    for d in range(days):
        minutes = np.arange(start + d * 86400, min(start + (d + 1) * 86400, END + 60), 60, dtype=np.int64)
        n = len(minutes) * len(keys)
        table = pa.table(
            {
                "minute": pa.array(np.repeat(minutes, len(keys)).astype("datetime64[s]"), pa.timestamp("s")),
                "platform": np.tile(platforms, len(minutes)),
                "province": np.tile(provinces, len(minutes)),
                "section": np.tile(sections, len(minutes)),
                "action": np.full(n, "view"),
                "clicks": rng.integers(1, 400, n, dtype=np.uint64),
            }
        )
        total += store.insert_arrow(clicks_minute.TABLE, table)
    return total


def full_refresh(q: Queries) -> None:
    """Everything one overview tick queries: KPIs, line, breakdowns, the map and its surge rings
    (the surge ratios are computed once per event-time minute: `surge.load_surge`)."""
    assert load_overview(q, Filters()) is not None
    load_map_values(q, Filters(), "rate")
    now = q.latest_minute()
    assert now is not None
    load_surge(q, now)


def report_refresh(q: Queries) -> None:
    """The report page's tick with its default periods."""
    now = q.latest_minute()
    assert now is not None
    period, base = report.periods(None, None, None, None, now)
    assert load_report(q, period, base) is not None


def surge_map(q: Queries) -> None:
    """The surge ratios computed afresh (what the first tick of each event-time minute pays)."""
    now = q.latest_minute()
    assert now is not None
    load_surge_basis(q, now)


def timed(fn, q: Queries, n: int) -> tuple[float, float]:
    """(p50, p95) in ms of `n` calls after one warm-up."""
    fn(q)
    times = []
    for _ in range(n):
        started = time.perf_counter()
        fn(q)
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), percentile(times, 95)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--refreshes", type=int, default=40)
    ap.add_argument("--viewers", type=int, default=10)
    args = ap.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="cockpit-bench-") as tmp:
        store = ChdbStore(str(Path(tmp) / "chdb"), "bench")
        try:
            migrate(store)
            t0 = time.perf_counter()
            rows = fill(store, args.days)
            print(f"filled {rows:,} rows ({args.days} days) in {time.perf_counter() - t0:.1f} s")
            stored = store.query(f"SELECT count() FROM bench.{clicks_minute.TABLE}")[0][0]
            print(f"rows stored (before merges): {stored:,}")

            # 1. one full refresh, cache off
            q = Queries(store, ttl_s=0)
            full_refresh(q)  # warm-up (file cache, first compile)
            times = []
            for _ in range(args.refreshes):
                started = time.perf_counter()
                full_refresh(q)
                times.append((time.perf_counter() - started) * 1000)
            p50, p95 = statistics.median(times), percentile(times, 95)
            print(f"overview refresh, cache off: p50 {p50:.1f} ms, p95 {p95:.1f} ms over {args.refreshes}")

            # 2. one viewer vs ten concurrent viewers through one shared cache
            one = Queries(store, ttl_s=1.5)
            full_refresh(one)
            many = Queries(store, ttl_s=1.5)
            barrier = threading.Barrier(args.viewers)

            def viewer() -> None:
                barrier.wait()
                full_refresh(many)

            threads = [threading.Thread(target=viewer) for _ in range(args.viewers)]
            started = time.perf_counter()
            for th in threads:
                th.start()
            for th in threads:
                th.join()
            wall_ms = (time.perf_counter() - started) * 1000
            ratio = many.db_seconds / one.db_seconds
            print(
                f"db time: one viewer {one.db_seconds * 1000:.1f} ms, {args.viewers} viewers "
                f"{many.db_seconds * 1000:.1f} ms (x{ratio:.2f}); {args.viewers} viewers' wall {wall_ms:.1f} ms"
            )
            # 3. the report (hourly rollup) and the surge measure, cache off
            rep50, rep95 = timed(report_refresh, q, args.refreshes)
            sur50, sur95 = timed(surge_map, q, args.refreshes)
            print(
                f"daily report, cache off: p50 {rep50:.1f} ms, p95 {rep95:.1f} ms; "
                f"surge map: p50 {sur50:.1f} ms, p95 {sur95:.1f} ms"
            )
            print(
                f"rows={rows} days={args.days} refresh_p50_ms={p50:.1f} refresh_p95_ms={p95:.1f} "
                f"report_p95_ms={rep95:.1f} surge_map_p95_ms={sur95:.1f} "
                f"one_viewer_db_ms={one.db_seconds * 1000:.1f} ten_viewers_db_ms={many.db_seconds * 1000:.1f} "
                f"viewers={args.viewers} db_ratio={ratio:.2f} p95_goal_met={p95 < 150} ratio_goal_met={ratio < 2}"
            )
        finally:
            store.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
