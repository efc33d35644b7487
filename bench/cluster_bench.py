"""Cluster benchmark (not part of the test suite): the pipeline on the local cluster, and the cockpit's
refresh over Distributed tables and over a year of history.

    python -m bench.cluster_bench refresh [--days 30 365] [--minute-days 7] [--refreshes 30]
    python -m bench.cluster_bench e2e [--rate 20000] [--seconds 600]

`refresh` times the overview refresh on a 2x2 ClickHouse 18.16 cluster and on one node holding the
same data; `e2e` runs the whole local cluster at `--rate` events/s and samples lag and event ->
queryable. What each fills and measures, and the figures: bench/README.md ("Cluster"). The last
printed line holds the figures as name=value pairs.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

from cockpit.filters import Filters
from cockpit.pages.overview import load_map_values, load_overview
from cockpit.queries import Queries
from contracts.geo import PLATFORMS, PROVINCE_CODES
from sinks.migrate import migrate
from sinks.store import ServerStore
from sinks.tables import clicks_day, clicks_hour, clicks_minute

END = 1647225720  # 2022-03-14 10:42 Beijing: the data's "now"
DAY, HOUR = 86400, 3600
SECTION = {"k12": "lessons", "vocational": "vocational_courses", "higher": "mooc", "employment": "jobs"}
SINKS = 2  # the "3 workers, 2 sinks" (EDU_SINK_INSTANCE 0/2 and 1/2)
ROOT = Path(__file__).resolve().parents[1]


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def _keys() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    keys = [(p, c) for p in PLATFORMS for c in PROVINCE_CODES]
    return (np.array([p for p, _ in keys]), np.array([c for _, c in keys]), np.array([SECTION[p] for p, _ in keys]))


def _table(times: np.ndarray, col: str, with_action: bool, rng: np.random.Generator, hi: int) -> pa.Table:
    platforms, provinces, sections = _keys()
    n = len(times) * len(platforms)
    data = {
        col: pa.array(np.repeat(times, len(platforms)).astype("datetime64[s]"), pa.timestamp("s")),
        "platform": np.tile(platforms, len(times)),
        "province": np.tile(provinces, len(times)),
        "section": np.tile(sections, len(times)),
    }
    if with_action:
        data["action"] = np.full(n, "view")
    data["clicks"] = rng.integers(1, hi, n, dtype=np.uint64)
    return pa.table(data)


def fill(store: ServerStore, days: int, minute_days: int, seed: int = 7) -> int:
    """Minute rows for the last `minute_days` (the views fill hours and days from them); older days
    get hour and day rows directly, and one minute row each (the minute table's partitions)."""
    rng = np.random.default_rng(seed)
    first_full = END - minute_days * DAY + 60
    rows = 0
    for d in range(minute_days):
        minutes = np.arange(first_full + d * DAY, min(first_full + (d + 1) * DAY, END + 60), 60, dtype=np.int64)
        rows += store.insert_arrow(clicks_minute.TABLE, _table(minutes, "minute", True, rng, 400))
    day0 = (first_full + 8 * HOUR) // DAY * DAY - 8 * HOUR  # Beijing midnight of the first full minute day
    older = [day0 - i * DAY for i in range(1, days - minute_days + 1)]
    if older:
        for i in range(0, len(older), 30):  # a month of hour rows per insert (~100,000 rows)
            hours = np.array([d + h * HOUR for d in older[i : i + 30] for h in range(24)], dtype=np.int64)
            rows += store.insert_arrow(clicks_hour.TABLE, _table(hours, "hour", False, rng, 400 * 60))
        rows += store.insert_arrow(
            clicks_day.TABLE, _table(np.array(older, dtype=np.int64), "day", False, rng, 400 * 1440)
        )
        sparse = [(d + 12 * HOUR, "k12", "110000", "lessons", "view", 1) for d in older[: max(0, 90 - minute_days)]]
        store.insert(clicks_minute.TABLE, clicks_minute.COLUMNS, sparse)
        rows += len(sparse)
    return rows


def full_refresh(q: Queries) -> None:
    assert load_overview(q, Filters()) is not None
    load_map_values(q, Filters(), "rate")


def time_refresh(store: ServerStore, n: int) -> tuple[float, float]:
    q = Queries(store, ttl_s=0)
    full_refresh(q)
    times = []
    for _ in range(n):
        t = time.perf_counter()
        full_refresh(q)
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times), percentile(times, 95)


def refresh(args: argparse.Namespace) -> int:
    from ops.clickhouse_cluster import CLUSTER, LocalClickHouseCluster
    from ops.clickhouse_server import LocalClickHouseServer
    from ops.local_process import free_port
    from sinks.cluster import INSERT_TARGETS

    out: list[str] = []
    with tempfile.TemporaryDirectory(prefix="cluster-bench-") as tmp:
        cluster = LocalClickHouseCluster(Path(tmp) / "cluster")
        single = LocalClickHouseServer(Path(tmp) / "single", free_port(), free_port())
        try:
            cluster.start()
            single.start()
            for days in args.days:
                db = f"bench{days}"
                dist = ServerStore(*cluster.entry, db, "default", "", True)
                one = ServerStore(single.host, single.tcp_port, db, "default", "", True)
                migrate(dist, CLUSTER)
                dist.insert_targets = INSERT_TARGETS  # minutes through the rollups' Null input, as the sink
                migrate(one)
                t0 = time.perf_counter()
                n = fill(one, days, min(args.minute_days, days))
                fill(dist, days, min(args.minute_days, days))
                print(f"{days} days: filled {n:,} rows into each in {time.perf_counter() - t0:.1f} s", flush=True)
                s50, s95 = time_refresh(one, args.refreshes)
                c50, c95 = time_refresh(dist, args.refreshes)
                print(
                    f"{days} days: overview refresh one node p50 {s50:.1f} ms p95 {s95:.1f} ms; "
                    f"Distributed (2x2) p50 {c50:.1f} ms p95 {c95:.1f} ms",
                    flush=True,
                )
                out.append(
                    f"days{days}_single_p95_ms={s95:.1f} days{days}_dist_p95_ms={c95:.1f} "
                    f"days{days}_single_p50_ms={s50:.1f} days{days}_dist_p50_ms={c50:.1f}"
                )
                dist.close()
                one.close()
        finally:
            single.stop()
            cluster.stop()
    print(" ".join(out) + f" minute_days={args.minute_days} refreshes={args.refreshes}")
    return 0


def e2e(args: argparse.Namespace) -> int:
    from kafka import KafkaProducer

    from contracts.events import Click, Event, encode
    from contracts.settings import Settings
    from contracts.topics import ensure_topics
    from ops.clickhouse_cluster import CLUSTER, LocalClickHouseCluster
    from ops.kafka_cluster import LocalKafkaCluster
    from ops.launch_cluster import cluster_env

    tmp = Path(tempfile.mkdtemp(prefix="cluster-e2e-"))
    kafka = LocalKafkaCluster(tmp / "kafka", extra_config={"message.max.bytes": str(4 * 1024 * 1024)})
    clickhouse = LocalClickHouseCluster(tmp / "clickhouse")
    procs: list[subprocess.Popen[bytes]] = []
    try:
        clickhouse.start()
        kafka.start(timeout=240)
        host, port = clickhouse.entry
        tag = f"b{os.getpid()}"
        s = Settings(
            kafka_bootstrap=kafka.bootstrap_servers,
            topic_replication=3,
            topic_partitions=args.partitions,
            clickhouse_engine="server",
            clickhouse_host=host,
            clickhouse_port=port,
            clickhouse_cluster=CLUSTER,
            clickhouse_database="benchc",
            topic_clicks=f"{tag}.clicks",
            topic_sessions=f"{tag}.sessions",
            topic_rates=f"{tag}.rates",
            topic_session_rates=f"{tag}.srates",
            topic_deadletter=f"{tag}.dead",
            topic_alerts=f"{tag}.alerts",
            worker_id=f"{tag}-w",
            sink_group=f"{tag}-s",
            data_dir=tmp / "data",
            worker_session_timeout_s=6.0,
            worker_metrics_port=0,
            sink_metrics_port=0,
            retention_interval_s=0,
            sink_insert_witness=False,  # replicated tables: block deduplication, as edu-local --cluster
        )
        ensure_topics(s)
        store = ServerStore(host, port, s.clickhouse_database, "default", "", True)
        migrate(store, CLUSTER)
        env = cluster_env(s)
        for i in range(3):
            with open(tmp / f"worker{i}.log", "ab") as log:
                procs.append(
                    subprocess.Popen(
                        [sys.executable, "-m", "streams.cli"],
                        cwd=ROOT,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        env={**env, "EDU_DATA_DIR": str(tmp / f"w{i}")},
                    )
                )
        for i in range(SINKS):
            with open(tmp / f"sink{i}.log", "ab") as log:
                procs.append(
                    subprocess.Popen(
                        [sys.executable, "-m", "sinks.cli", "run"],
                        cwd=ROOT,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        env={**env, **({"EDU_SINK_INSTANCE": f"{i}/{SINKS}"} if SINKS > 1 else {})},
                    )
                )
        deadline = time.monotonic() + 180
        while sum("Ready" in (tmp / f"worker{i}.log").read_text(errors="replace") for i in range(3)) < 3:
            if time.monotonic() > deadline:
                raise SystemExit("workers not ready in 180 s")
            time.sleep(0.5)  # bounded wait for the workers' readiness lines

        def stored() -> int:
            return int(store.query(f"SELECT sum(clicks) FROM {s.clickhouse_database}.clicks_minute")[0][0] or 0)

        marks: list[tuple[float, int]] = []  # (send time, events sent so far)
        prod = KafkaProducer(
            bootstrap_servers=kafka.bootstrap_servers.split(","),
            acks="all",
            linger_ms=5,
            enable_idempotence=True,
            batch_size=256 * 1024,
            max_request_size=4 * 1024 * 1024,
        )
        provinces, platforms = list(PROVINCE_CODES), list(PLATFORMS)
        sent = 0
        done = threading.Event()

        def sender() -> None:
            nonlocal sent
            began = time.monotonic()
            i = 0
            while not done.is_set():
                now = time.monotonic() - began
                if now >= args.seconds:
                    break
                due = int(now * args.rate)
                while sent < due:
                    ms = int(time.time() * 1000)
                    chunk: list[Event] = [
                        Click(
                            id=f"e{i}-{j}",
                            ts=ms,
                            platform=platforms[(i + j) % 4],
                            province=provinces[(i * 7 + j) % 35],
                            country="SG" if provinces[(i * 7 + j) % 35] == "abroad" else None,
                            user=f"u{(i + j) % 50000}",
                            session=f"s{i % 20000}",
                            resource=f"r{j}",
                            section="lessons",
                            action="view",
                        )
                        for j in range(20)
                    ]
                    prod.send(s.topic_clicks, key=chunk[0].session.encode(), value=encode(chunk))
                    sent += 20
                    i += 1
                marks.append((time.time(), sent))
                time.sleep(0.05)  # pacing the sender
            prod.flush(120)

        th = threading.Thread(target=sender, daemon=True)
        th.start()
        samples: list[tuple[float, int, int]] = []  # (t, sent, stored)
        reached: dict[int, float] = {}
        began = time.time()
        while th.is_alive() or stored() < sent:
            st, t = stored(), time.time()
            for ts, n in marks:
                if n not in reached and st >= n:
                    reached[n] = t - ts
            if not samples or t - samples[-1][0] >= 5:
                samples.append((t, sent, st))
                print(f"t={t - began:5.0f}s sent={sent:,} stored={st:,} lag_events={sent - st:,}", flush=True)
            if not th.is_alive() and t - began > args.seconds + 300:
                break
            time.sleep(0.2)  # the watcher's sampling interval
        lat = [v for v in reached.values()]
        lags = [a - b for _, a, b in samples]
        half = lags[len(lags) // 2 :] or lags
        p99 = percentile(lat, 99) if lat else float("nan")
        p50 = percentile(lat, 50) if lat else float("nan")
        print(
            f"rate={args.rate:.0f} seconds={args.seconds} sent={sent} stored={stored()} exact={stored() == sent} "
            f"queryable_p50_s={p50:.2f} queryable_p99_s={p99:.2f} lag_max_events={max(lags)} "
            f"lag_second_half_mean_events={statistics.mean(half):.0f} achieved_rate={sent / args.seconds:.0f}"
        )
        store.close()
        return 0
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(60)
            except subprocess.TimeoutExpired:
                p.kill()
        kafka.stop()
        clickhouse.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("refresh")
    r.add_argument("--days", type=int, nargs="+", default=[30, 365])
    r.add_argument("--minute-days", type=int, default=7)
    r.add_argument("--refreshes", type=int, default=30)
    e = sub.add_parser("e2e")
    e.add_argument("--rate", type=float, default=20000)
    e.add_argument("--seconds", type=int, default=600)
    e.add_argument("--partitions", type=int, default=6)
    args = ap.parse_args(argv)
    return refresh(args) if args.cmd == "refresh" else e2e(args)


if __name__ == "__main__":
    raise SystemExit(main())
