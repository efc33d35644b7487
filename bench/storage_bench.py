"""Storage benchmark (not part of the test suite): the sink's insert rate into each engine, and the
latency of every named query over 30 days of minute data for all provinces and platforms.

    python -m bench.storage_bench [--days 30] [--insert-rows 1000000] [--repeats 40] [--engines chdb,server]

Starts a private ClickHouse 18.16 server on free loopback ports and opens chDB in a temporary
directory (this process owns it); both are removed at the end. Prints one line per measurement;
the last line holds every figure as name=value.

Insert: worker-shaped rate batches through the sink's buffer and flush (the sink minus Kafka).
Queries: every minute of `--days` days holds every province x platform x section x action key
(54.4 M rows for 30 days), generated in each engine through the materialized views; each named
query runs `--repeats` times after 2 warm-ups, p50/p95 in ms, over the cockpit's windows.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import tempfile
import time
from pathlib import Path
from statistics import median

from contracts.geo import PROVINCE_CODES
from contracts.rates import ClickRow, RateBatch, decode_batch, encode_batch
from ops.clickhouse_server import LocalClickHouseServer
from ops.local_process import free_port
from sinks import queries
from sinks.batch import RateBuffer
from sinks.migrate import migrate
from sinks.store import ChdbStore, ServerStore
from sinks.tables import clicks_minute, late_events, rejects_minute, sink_offsets

START = 1_646_064_000  # 2022-03-01 00:00 Beijing
PAIRS = [("k12", s) for s in ("topic", "lessons", "afterschool", "teacher", "family", "reform")] + [
    ("vocational", "vocational_courses"),
    ("higher", "mooc"),
    ("employment", "jobs"),
]
ACTIONS = ["view", "play", "download", "search"]
KEYS_PER_MINUTE = len(PAIRS) * len(PROVINCE_CODES) * len(ACTIONS)  # 1,260
REASONS = ["json", "schema", "unknown_province", "time_future", "too_large"]

# `%` would clash with the %(name)s placeholders: modulo() instead.
GEN_CLICKS = f"""
INSERT INTO {{db}}.{clicks_minute.TABLE} (minute, platform, province, section, action, clicks)
SELECT toDateTime(%(start)s + intDiv(number, {KEYS_PER_MINUTE}) * 60) AS minute,
       arrayElement(%(platforms)s, intDiv(modulo(number, {KEYS_PER_MINUTE}), 140) + 1) AS platform,
       arrayElement(%(provinces)s, intDiv(modulo(number, 140), 4) + 1) AS province,
       arrayElement(%(sections)s, intDiv(modulo(number, {KEYS_PER_MINUTE}), 140) + 1) AS section,
       arrayElement(%(actions)s, modulo(number, 4) + 1) AS action,
       1 + modulo(intHash32(number + %(start)s), 50) AS clicks
FROM numbers(%(n)s)
"""
GEN_LATE = f"""
INSERT INTO {{db}}.{late_events.TABLE} (minute, platform, province, events)
SELECT toDateTime(%(start)s + intDiv(number, 140) * 60), arrayElement(['k12', 'vocational', 'higher', 'employment'],
       modulo(number, 4) + 1), arrayElement(%(provinces)s, intDiv(modulo(number, 140), 4) + 1), 1
FROM numbers(%(n)s)
"""
GEN_REJECTS = f"""
INSERT INTO {{db}}.{rejects_minute.TABLE} (minute, reason, events)
SELECT toDateTime(%(start)s + intDiv(number, 5) * 60), arrayElement(%(reasons)s, modulo(number, 5) + 1), 1
FROM numbers(%(n)s)
"""


def pct(values: list[float], q: float) -> float:
    """Nearest-rank percentile."""
    s = sorted(values)
    return s[max(0, min(len(s) - 1, int(round(q * len(s) + 0.5)) - 1))]


def rate_messages(rows: int, rows_per_message: int, seed: int = 1) -> list[bytes]:
    rng = random.Random(seed)
    out, offset = [], 0
    while rows > 0:
        n = min(rows, rows_per_message)
        clicks = []
        for _ in range(n):
            platform, section = rng.choice(PAIRS)
            clicks.append(
                ClickRow(
                    START + rng.randrange(1440) * 60,
                    platform,
                    rng.choice(PROVINCE_CODES),
                    section,
                    rng.choice(ACTIONS),
                    rng.randrange(1, 50),
                )
            )
        out.append(
            encode_batch(
                RateBatch(
                    src_topic="clicks",
                    src_partition=0,
                    first_offset=offset,
                    last_offset=offset + 99,
                    watermark_ms=START * 1000,
                    events=n,
                    clicks=clicks,
                )
            )
        )
        offset += 100
        rows -= n
    return out


def bench_insert(store, messages: list[bytes], batch_rows: int) -> tuple[float, float, int]:
    buf = RateBuffer("bench", "rates")
    flush_s, rows = 0.0, 0
    t0 = time.perf_counter()
    for i, raw in enumerate(messages):
        buf.add(0, i, decode_batch(raw))
        if buf.rows >= batch_rows or i == len(messages) - 1:
            n = buf.rows
            t = time.perf_counter()
            buf.flush(store)
            flush_s += time.perf_counter() - t
            rows += n
    total_s = time.perf_counter() - t0
    return rows / flush_s, rows / total_s, rows


def load_days(store, days: int) -> float:
    t0 = time.perf_counter()
    common = {
        "provinces": list(PROVINCE_CODES),
        "platforms": [p for p, _ in PAIRS],
        "sections": [s for _, s in PAIRS],
        "actions": ACTIONS,
        "reasons": REASONS,
    }
    for d in range(days):
        start = START + d * 86400
        store.command(GEN_CLICKS.format(db=store.database), {**common, "start": start, "n": KEYS_PER_MINUTE * 1440})
        store.command(GEN_LATE.format(db=store.database), {**common, "start": start, "n": 140 * 1440})
        store.command(GEN_REJECTS.format(db=store.database), {**common, "start": start, "n": 5 * 1440})
    store.insert(
        sink_offsets.TABLE, sink_offsets.COLUMNS, [("edu-sink", "edu.rates.v1", p, 1000 + p) for p in range(16)]
    )
    return time.perf_counter() - t0


def query_jobs(days: int) -> list[tuple[str, str, dict[str, object]]]:
    """(label, named query, parameters): every named query at least once, at the cockpit's windows."""
    end = START + days * 86400
    today: dict[str, object] = {"start": end - 86400, "end": end}
    hour: dict[str, object] = {"start": end - 3600, "end": end}
    everything: dict[str, object] = {"start": START, "end": end}
    jobs: list[tuple[str, str, dict[str, object]]] = [
        ("applied_migrations", "applied_migrations", {}),
        ("latest_minute", "latest_minute", {}),
        ("per_minute_national", "per_minute_national", hour),
        ("series_hour_by_minute", "series", {**hour, "step": 60}),
        ("series_today_by_5min", "series", {**today, "step": 300}),
        ("series_today_by_5min_province", "series", {**today, "step": 300, "province": "450000"}),
        ("total_between", "total_between", today),
        ("total_between_platform", "total_between", {**today, "platform": "k12"}),
        ("by_platform_province", "by_platform_province", hour),
        ("total_by_platform", "total_by_platform", today),
        ("total_by_province", "total_by_province", today),
        ("total_by_province_platform", "total_by_province", {**today, "platform": "vocational"}),
        ("total_by_section", "total_by_section", today),
        ("province_per_minute", "province_per_minute", {**today, "province": "450000"}),
        ("late_total_between", "late_total_between", today),
        ("next_offsets", "next_offsets", {"consumer": "edu-sink", "topic": "edu.rates.v1"}),
        ("daily_totals", "daily_totals", everything),
        ("daily_totals_province", "daily_totals", {**everything, "province": "450000"}),
        ("daily_by_province", "daily_by_province", everything),
        ("hourly_by_platform", "hourly_by_platform", everything),
        ("series_hours_7d", "series_hours", {"start": end - 7 * 86400, "end": end, "step": 3600}),
        # the cockpit's other panels (their tables hold no bench rows: this times the plan, not a scan)
        ("top_resources", "top_resources", {**hour, "limit": 10}),
        ("uniques_between", "uniques_between", today),
        ("sessions_between", "sessions_between", hour),
        ("countries_between", "countries_between", {**today, "limit": 10}),
        ("tiles_recent", "tiles_recent", {"start": end - 300, "end": end}),
        ("alerts_current", "alerts_current", {"end": end}),
        ("alerts_history", "alerts_history", {**today, "limit": 50}),
        ("rejects_by_reason", "rejects_by_reason", today),
    ]
    assert {n for _, n, _ in jobs} == set(queries.NAMED), "a named query without a benchmark job"
    return jobs


# Not a named query: daily totals per province read from the minute table, to show what the
# hourly rollup saves the report queries.
REF_DAILY_FROM_MINUTES = f"""
SELECT toYYYYMMDD(minute) AS day, toString(province) AS province, sum(clicks)
FROM {{db}}.{clicks_minute.TABLE}
WHERE minute >= toDateTime(%(start)s) AND minute < toDateTime(%(end)s)
GROUP BY day, province ORDER BY day, province
"""


def bench_queries(store, days: int, repeats: int) -> dict[str, tuple[float, float, int]]:
    out = {}
    jobs = []
    for label, name, p in query_jobs(days):
        params = {k: v for k, v in p.items() if k in queries.params_of(name)}
        filters = {k: v for k, v in p.items() if k not in params}
        jobs.append((label, queries.sql(name, store.database, **filters), p))
    everything: dict[str, object] = {"start": START, "end": START + days * 86400}
    jobs.append(("ref_daily_by_province_from_minutes", REF_DAILY_FROM_MINUTES.format(db=store.database), everything))
    for label, text, p in jobs:
        times = []
        for i in range(repeats + 2):
            t = time.perf_counter()
            rows = store.query(text, p or None)
            if i >= 2:
                times.append((time.perf_counter() - t) * 1000)
        out[label] = (median(times), pct(times, 0.95), len(rows))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--insert-rows", type=int, default=1_000_000)
    ap.add_argument("--rows-per-message", type=int, default=1000, help="click rows per rate batch")
    ap.add_argument("--batch-rows", type=int, default=50_000, help="sink_batch_rows")
    ap.add_argument("--repeats", type=int, default=40)
    ap.add_argument("--engines", default="chdb,server")
    args = ap.parse_args()
    engines = args.engines.split(",")
    tmp = Path(tempfile.mkdtemp(prefix="edu-storage-bench-"))
    server = None
    figures: dict[str, float] = {}
    try:
        stores: dict[str, ChdbStore | ServerStore] = {}
        if "chdb" in engines:
            stores["chdb"] = ChdbStore(str(tmp / "chdb"), "bench")
        if "server" in engines:
            server = LocalClickHouseServer(tmp / "clickhouse", tcp_port=free_port(), http_port=free_port())
            server.start(timeout=60)
            stores["server"] = ServerStore(server.host, server.tcp_port, "bench", "default", "", True)
        messages = rate_messages(args.insert_rows, args.rows_per_message)
        for name, base in stores.items():
            ins = base.with_database("bench_insert")
            migrate(ins)
            insert_rate, path_rate, rows = bench_insert(ins, messages, args.batch_rows)
            ins.drop_database()
            figures[f"{name}_insert_rows_per_s"] = insert_rate
            figures[f"{name}_path_rows_per_s"] = path_rate
            print(
                f"{name}: sink insert {insert_rate:,.0f} rows/s (flushes of {args.batch_rows:,}; with decode and "
                f"buffering {path_rate:,.0f} rows/s; {rows:,} rows)",
                flush=True,
            )

            store = base.with_database("bench")
            migrate(store)
            load_s = load_days(store, args.days)
            n = store.query(f"SELECT count() FROM {store.database}.{clicks_minute.TABLE}")[0][0]
            figures[f"{name}_minute_rows"] = n
            print(f"{name}: loaded {args.days} days, {n:,} minute rows in {load_s:.0f} s", flush=True)
            results = bench_queries(store, args.days, args.repeats)
            for q, (p50, p95, nrows) in results.items():
                print(f"{name}: {q:<36} p50 {p50:7.1f} ms  p95 {p95:7.1f} ms  ({nrows} rows)", flush=True)
                figures[f"{name}_{q}_p50_ms"] = p50
                figures[f"{name}_{q}_p95_ms"] = p95
            named_p95 = [p95 for q, (_, p95, _) in results.items() if not q.startswith("ref_")]
            figures[f"{name}_named_max_p95_ms"] = max(named_p95)
            print(f"{name}: slowest named query p95 {max(named_p95):.1f} ms (goal on chDB: < 50 ms)", flush=True)
        for s in stores.values():
            s.close()
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    print(
        " ".join(f"{k}={v:.1f}" if isinstance(v, float) else f"{k}={v}" for k, v in figures.items())
        + f" days={args.days} cores={os.cpu_count()}"
    )


if __name__ == "__main__":
    main()
