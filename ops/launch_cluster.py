"""`edu-local --cluster`: the pipeline on a local cluster (3 KRaft brokers, 2x2 ClickHouse 18.16 +
ZooKeeper), started from the same launchers the cluster tests use.

Runs 3 workers, 2 sinks, the alert service, the cockpit (over the Distributed tables) and a live
simulator; the services get the cluster through their EDU_* settings only. Ctrl-C stops everything
it started; a dead service stops the rest with its log tail.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from contracts.settings import Settings, settings_env
from ops.launch import Child, _http_ok, _wait


def cluster_env(settings: Settings) -> dict[str, str]:
    return settings_env(settings)


def _spawn(name: str, args: list[str], logs: Path, env: dict[str, str]) -> Child:
    log = logs / f"{name}.log"
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", *args], stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
    return Child(name, proc, log)


def run_cluster(settings: Settings, rate: float, simulate: bool, workers: int = 3, sinks: int = 2) -> int:
    from contracts.topics import ensure_topics
    from ops.clickhouse_cluster import CLUSTER, LocalClickHouseCluster
    from ops.kafka_cluster import LocalKafkaCluster
    from sinks.migrate import migrate
    from sinks.store import ServerStore

    base = settings.data_dir / "cluster"
    logs = base / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    kafka = LocalKafkaCluster(base / "kafka", extra_config={"message.max.bytes": str(4 * 1024 * 1024)})
    clickhouse = LocalClickHouseCluster(base / "clickhouse")
    children: list[Child] = []
    t0 = time.monotonic()
    try:
        print("==> ZooKeeper and 2 shards x 2 replicas of clickhouse-server", flush=True)
        clickhouse.start()
        print("==> 3 Kafka brokers (KRaft, RF 3, min.insync 2)", flush=True)
        kafka.start(timeout=180)
        host, port = clickhouse.entry
        s = settings.model_copy(
            update={
                "kafka_bootstrap": kafka.bootstrap_servers,
                "topic_replication": 3,
                "clickhouse_engine": "server",
                "clickhouse_host": host,
                "clickhouse_port": port,
                "clickhouse_cluster": CLUSTER,
            }
        )
        ensure_topics(s)
        store = ServerStore(host, port, s.clickhouse_database, s.clickhouse_user, s.clickhouse_password, True)
        print(f"==> migrations on {CLUSTER}: applied {migrate(store, CLUSTER) or 'none pending'}", flush=True)
        store.close()
        env = cluster_env(s)
        for i in range(workers):
            children.append(
                _spawn(
                    f"worker{i}",
                    ["streams.cli"],
                    logs,
                    {**env, "EDU_DATA_DIR": str(base / f"worker{i}"), "EDU_WORKER_METRICS_PORT": "0"},
                )
            )
        for i in range(sinks):
            children.append(_spawn(f"sink{i}", ["sinks.cli", "run"], logs, {**env, "EDU_SINK_METRICS_PORT": "0"}))
        children.append(_spawn("alerts", ["alerts.cli"], logs, env))
        children.append(_spawn("cockpit", ["cockpit.cli", "--no-migrate"], logs, env))
        url = f"http://{s.cockpit_host}:{s.cockpit_port}/"
        _wait(lambda: _http_ok(url + "healthz"), 180, "the cockpit", children, stop)
        if simulate:
            children.append(_spawn("simulator", ["simulators.cli", "run", "--live", "--rate", str(rate)], logs, env))
        if stop.is_set():
            return 130
        print(
            f"\n  Cockpit: {url}   (cluster ready in {time.monotonic() - t0:.1f}s; Kafka {kafka.bootstrap_servers}; "
            f"ClickHouse {host}:{port}; logs in {logs}; Ctrl-C stops)\n",
            flush=True,
        )
        while not stop.is_set():
            for c in children:
                if c.proc.poll() is not None:
                    print(f"!! {c.name} exited with {c.proc.returncode}:\n{c.tail()}", file=sys.stderr)
                    return 1
            stop.wait(1.0)
        return 0
    except RuntimeError as err:
        print(f"!! {err}", file=sys.stderr)
        return 1
    finally:
        print("==> stopping", flush=True)
        for c in reversed(children):
            if c.proc.poll() is None:
                c.proc.send_signal(signal.SIGTERM)
        for c in reversed(children):
            try:
                c.proc.wait(30)
            except subprocess.TimeoutExpired:
                c.proc.kill()
        kafka.stop()
        clickhouse.stop()
