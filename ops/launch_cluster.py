"""`edu-local --cluster`: the pipeline on a local cluster (3 KRaft brokers, 2x2 ClickHouse 18.16 +
ZooKeeper), started from the same launchers the cluster tests use.

Runs 3 workers, 2 sinks (instances 0/2 and 1/2), the alert service, the cockpit (over the
Distributed tables) and a live simulator; the services get the cluster through their EDU_* settings only. Ctrl-C stops everything
it started; a dead service stops the rest with its log tail.
"""

from __future__ import annotations

import sys
import time

from contracts.settings import Settings, settings_env
from ops.supervise import Child, http_ok, spawn_service, stop_children, stop_on_signals, wait_until, watch


def cluster_env(settings: Settings) -> dict[str, str]:
    return settings_env(settings)


def run_cluster(settings: Settings, rate: float, simulate: bool, workers: int = 3, sinks: int = 2) -> int:
    from contracts.topics import ensure_topics
    from ops.clickhouse_cluster import CLUSTER, LocalClickHouseCluster
    from ops.kafka_cluster import LocalKafkaCluster
    from sinks.migrate import migrate
    from sinks.store import ServerStore

    base = settings.data_dir / "cluster"
    logs = base / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    stop = stop_on_signals()
    kafka = LocalKafkaCluster(
        base / "kafka", own_session=True, extra_config={"message.max.bytes": str(4 * 1024 * 1024)}
    )
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
                # replicated tables: a crashed step is inserted again and block deduplication drops it
                "sink_insert_witness": False,
            }
        )
        ensure_topics(s)
        store = ServerStore(host, port, s.clickhouse_database, s.clickhouse_user, s.clickhouse_password, True)
        print(f"==> migrations on {CLUSTER}: applied {migrate(store, CLUSTER) or 'none pending'}", flush=True)
        store.close()
        env = cluster_env(s)
        for i in range(workers):
            children.append(
                spawn_service(
                    f"worker{i}",
                    ["streams.cli"],
                    logs,
                    {**env, "EDU_DATA_DIR": str(base / f"worker{i}"), "EDU_WORKER_METRICS_PORT": "0"},
                )
            )
        for i in range(sinks):
            children.append(
                spawn_service(
                    f"sink{i}",
                    ["sinks.cli", "run"],
                    logs,
                    {
                        **env,
                        "EDU_SINK_METRICS_PORT": "0",
                        **({"EDU_SINK_INSTANCE": f"{i}/{sinks}"} if sinks > 1 else {}),
                    },
                )
            )
        children.append(spawn_service("alerts", ["alerts.cli"], logs, env))
        children.append(spawn_service("cockpit", ["cockpit.cli", "--no-migrate"], logs, env))
        url = f"http://{s.cockpit_host}:{s.cockpit_port}/"
        wait_until(lambda: http_ok(url + "healthz"), 180, "the cockpit", children, stop)
        if simulate:
            children.append(
                spawn_service("simulator", ["simulators.cli", "run", "--live", "--rate", str(rate)], logs, env)
            )
        if stop.is_set():
            return 130
        print(
            f"\n  Cockpit: {url}   (cluster ready in {time.monotonic() - t0:.1f}s; Kafka {kafka.bootstrap_servers}; "
            f"ClickHouse {host}:{port}; logs in {logs}; Ctrl-C stops)\n",
            flush=True,
        )
        return watch(children, stop)
    except RuntimeError as err:
        print(f"!! {err}", file=sys.stderr)
        return 1
    finally:
        print("==> stopping", flush=True)
        stop_children(children)
        kafka.stop()
        clickhouse.stop()
