"""The sink kill loop at full size: 200,000 events, 20+ SIGKILLs of `edu-sink` at random instants, on
chDB, on the ClickHouse 18.16 server and on the local 2x2 cluster; stored must equal sent exactly.

    python -m bench.sink_kill [--batches 2000] [--kills 24] [--per-s 8] [--engines chdb,server,cluster]

`cluster`: the sink writes through the Distributed tables of `ops.clickhouse_cluster` (2 shards x 2
replicas, ZooKeeper), with the flush log's witness off: a step a kill left uncertain is inserted
again and the replicas' block deduplication drops the copy (docs/storage.md). Each flush holds 0.1 s
between its steps there, so more kills land inside one.

Starts its own Kafka broker (`bench.harness.broker`, which reuses EDU_KAFKA_BOOTSTRAP if it answers)
and ClickHouse server on free loopback ports (removed at the end). Each batch carries 100 events (90
clicks on time, 10 late). The loop itself is `tests/sinks/kill_loop.py`.
Last line: `kills=… resumed_flushes=… exact=…` summed over the engines.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path
from typing import Any

from bench import harness
from ops.clickhouse_cluster import CLUSTER, LocalClickHouseCluster
from ops.clickhouse_server import LocalClickHouseServer
from ops.local_process import free_port
from sinks.migrate import migrate
from sinks.store import ServerStore
from tests.sinks import kill_loop


def _server_loop(
    args: argparse.Namespace,
    bootstrap: str,
    tag: str,
    work: Path,
    host: str,
    port: int,
    seed: int,
    common: dict[str, Any],
    cluster: str = "",
) -> kill_loop.Result:
    """The loop against a ClickHouse server or, with `cluster`, the cluster's Distributed tables (witness
    off: a retried step is dropped by the replicas; 0.1 s between steps, so more kills land in a flush)."""
    extra: dict[str, Any] = (
        dict(clickhouse_cluster=cluster, sink_insert_witness=False, sink_fault_step_pause_s=0.1) if cluster else {}
    )
    s = harness.bench_settings(
        bootstrap, tag, work, clickhouse_engine="server", clickhouse_host=host, clickhouse_port=port, **extra, **common
    )
    store = ServerStore(host, port, s.clickhouse_database, "default", "", True)
    try:
        if cluster:
            migrate(store, cluster)
        return kill_loop.run(
            s,
            work,
            args.batches,
            args.kills,
            args.per_s,
            seed=seed,
            max_kill_delay_s=args.max_kill_delay,
            server_store=store,
        )
    finally:
        store.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batches", type=int, default=2000, help="rate batches of 100 events (2000 = 200,000 events)")
    ap.add_argument("--kills", type=int, default=24)
    ap.add_argument("--per-s", type=float, default=8.0, help="rate batches produced per second")
    ap.add_argument(
        "--max-kill-delay",
        type=float,
        default=1.0,
        help="kill at a random instant up to this many seconds after the sink stored its first flush",
    )
    ap.add_argument("--engines", default="chdb,server")
    args = ap.parse_args()
    results = []
    with tempfile.TemporaryDirectory(prefix="sink-kill-") as tmp, harness.broker(Path(tmp)) as bootstrap:
        work = Path(tmp)
        server, cluster = None, None
        try:
            for engine in args.engines.split(","):
                # a killed sink's group membership must lapse in seconds, not the harness's 80 s
                common: dict[str, Any] = dict(
                    sink_batch_rows=300, sink_flush_interval_s=0.2, worker_session_timeout_s=6.0
                )
                tag = f"sink-kill-{engine}-{os.getpid()}"  # private even on a reused EDU_KAFKA_BOOTSTRAP
                if engine == "chdb":
                    s = harness.bench_settings(
                        bootstrap, tag, work, clickhouse_engine="chdb", chdb_path=work / "chdb", **common
                    )
                    r = kill_loop.run(
                        s, work, args.batches, args.kills, args.per_s, seed=12, max_kill_delay_s=args.max_kill_delay
                    )
                elif engine == "cluster":
                    cluster = LocalClickHouseCluster(work / "cluster")
                    cluster.start()
                    r = _server_loop(args, bootstrap, tag, work, *cluster.entry, 14, common, cluster=CLUSTER)
                    r.engine = "cluster"
                else:
                    server = LocalClickHouseServer(work / "clickhouse", tcp_port=free_port(), http_port=free_port())
                    server.start(timeout=90)
                    r = _server_loop(args, bootstrap, tag, work, server.host, server.tcp_port, 13, common)
                print(r.line(), *r.mismatches, flush=True)
                results.append(r)
        finally:
            if server is not None:
                server.stop()
            if cluster is not None:
                cluster.stop()
    print(
        f"engines={len(results)} kills={sum(r.kills for r in results)} "
        f"resumed_flushes={sum(r.resumed for r in results)} settled_steps={sum(r.settled for r in results)} "
        f"events_sent={sum(r.events_sent for r in results)} "
        f"clicks_sent={sum(r.clicks_sent for r in results)} clicks_stored={sum(r.clicks_stored for r in results)} "
        f"exact={int(all(r.exact for r in results))}"
    )


if __name__ == "__main__":
    main()
