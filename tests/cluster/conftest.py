"""One local cluster per test session, shared by every cluster test: 3 KRaft brokers (RF 3,
min.insync 2) and 2 shards x 2 replicas of clickhouse-server 18.16 with ZooKeeper, plus one running
pipeline (3 worker processes, 2 sink processes) on private topics and database, fed by `Stream`.

Tests inject one fault each while a stream runs, then wait until every sent event is stored; the
pipeline's ground truth is cumulative, so each test checks stored = sent over everything so far.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from contracts.events import encode
from contracts.settings import Settings, settings_env
from contracts.topics import ensure_topics
from ops.clickhouse_cluster import CLUSTER, LocalClickHouseCluster
from ops.kafka_cluster import LocalKafkaCluster
from sinks import queries as named
from sinks.migrate import migrate
from sinks.store import ServerStore, StoreError
from tests.conftest import make_settings
from tests.support import ROOT, WorkerProcess, known_clicks, producer, wait_for

SINKS = 2  # the "3 workers, 2 sinks"
T0 = 1_647_216_000_000  # 2022-03-14 08:00 Beijing


class SinkProcess:
    """`edu-sink run` as a subprocess, so a test can SIGKILL it."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.env, self.log_path = env, log_path
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> SinkProcess:
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "sinks.cli", "run"], cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT
            )
        return self

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(30)

    def stop(self) -> None:
        if self.alive():
            assert self.proc is not None
            self.proc.terminate()
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(30)

    def log_tail(self) -> str:
        return self.log_path.read_text(errors="replace")[-2000:]


@dataclass
class Probe:
    """The cockpit's overview queries, run over the Distributed tables every 0.3 s while a test runs.

    A probe that fails is tried once more (a query in flight on a node that was just killed fails
    like any dropped connection); `failures` counts probes that failed twice."""

    store: ServerStore
    answered: int = 0
    failures: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)

    def once(self) -> None:
        end = T0 // 1000 + 86400
        for name, params in (
            ("latest_minute", {}),
            ("total_between", {"start": T0 // 1000, "end": end}),
            ("total_by_province", {"start": T0 // 1000, "end": end}),
            ("series", {"start": T0 // 1000, "end": end, "step": 3600}),
        ):
            named.run(self.store, name, **params)

    def run(self) -> None:
        while not self._stop.wait(0.3):
            try:
                self.once()
            except StoreError:
                try:
                    self.once()
                except StoreError as err:
                    self.failures.append(str(err)[:300])
                    continue
            self.answered += 1

    def __enter__(self) -> Probe:
        self._thread = threading.Thread(target=self.run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(30)


@dataclass
class ClusterPipeline:
    settings: Settings
    kafka: LocalKafkaCluster
    clickhouse: LocalClickHouseCluster
    store: ServerStore
    workers: list[WorkerProcess]
    sinks: list[SinkProcess]
    sent: Counter[tuple[str, str]] = field(default_factory=Counter)
    batches: int = 0

    def stream(self, n: int, rate: float, seed: int) -> threading.Thread:
        """Send n clicks (in client batches of 20) at `rate` events/s from a thread; every send acked."""
        # an hour apart per stream: a later stream never falls behind the watermark (late, not counted)
        clicks = known_clicks(n, seed=seed, start_ms=T0 + seed * 3_600_000, span_ms=600_000)
        self.sent.update((c.platform, c.province) for c in clicks)
        errors: list[BaseException] = []

        def send() -> None:
            try:
                prod = producer(self.settings.kafka_bootstrap)
                futures, began = [], time.monotonic()
                for i in range(0, n, 20):
                    chunk = clicks[i : i + 20]
                    futures.append(
                        prod.send(self.settings.topic_clicks, key=chunk[0].session.encode(), value=encode(chunk))
                    )
                    ahead = i / rate - (time.monotonic() - began)
                    if ahead > 0:
                        time.sleep(ahead)  # pacing the sender, not waiting for a condition
                prod.flush(120)
                for f in futures:
                    f.get(timeout=120)
                prod.close()
            except BaseException as err:  # surfaced by join_stream
                errors.append(err)

        thread = threading.Thread(target=send, daemon=True)
        thread.errors = errors  # type: ignore[attr-defined]
        thread.start()
        return thread

    def join_stream(self, thread: threading.Thread, timeout: float = 180) -> None:
        thread.join(timeout)
        assert not thread.is_alive(), "the stream did not finish sending"
        assert not thread.errors, thread.errors  # type: ignore[attr-defined]

    def stored(self) -> Counter[tuple[str, str]]:
        rows = self.store.query(
            f"SELECT toString(platform), toString(province), sum(clicks) FROM "
            f"{self.store.database}.clicks_minute GROUP BY platform, province"
        )
        return Counter({(a, b): int(n) for a, b, n in rows})

    def describe(self) -> str:
        st = self.stored()
        return (
            f"stored {sum(st.values())} of {sum(self.sent.values())}; workers alive "
            f"{[w.alive() for w in self.workers]}; sinks alive {[s.alive() for s in self.sinks]}\n"
            + "\n".join(s.log_tail()[-600:] for s in self.sinks)
        )

    def wait_all_stored(self, timeout: float = 150) -> None:
        total = sum(self.sent.values())
        # A replica restarted a moment ago may still be fetching parts (each table on its own), and
        # reads may go to it: a stale read is short, never long, so wait for the totals, then compare.
        wait_for(
            lambda: sum(self.stored().values()) >= total and self.rollup_total() >= total,
            timeout,
            f"{total} clicks stored (minutes and hourly rollup)",
            interval=0.5,
            describe=self.describe,
        )
        assert self.stored() == self.sent  # exactly: nothing lost, nothing twice, per platform x province
        assert self.rollup_total() == total  # the rollup (a view on each shard's local table) agrees

    def rollup_total(self) -> int:
        return int(self.store.query(f"SELECT sum(clicks) FROM {self.store.database}.clicks_hour")[0][0] or 0)

    def replica_counts(self, table: str = "clicks_minute") -> dict[str, int]:
        db = self.store.database
        return {
            n.replica_name: int(n.client().execute(f"SELECT sum(clicks) FROM {db}.{table}_local")[0][0] or 0)
            for n in self.clickhouse.nodes
        }

    def wait_replicas_equal(self, timeout: float = 60) -> dict[str, int]:
        def equal() -> dict[str, int] | None:
            c = self.replica_counts()
            ok = c["s1r1"] == c["s1r2"] and c["s2r1"] == c["s2r2"] and c["s1r1"] + c["s2r1"] == sum(self.sent.values())
            return c if ok else None

        return wait_for(
            equal,
            timeout,
            "both replicas of each shard hold the same counts",
            interval=0.5,
            describe=self.replica_counts,
        )


@pytest.fixture(scope="package")  # stopped when the cluster tests end, not at the end of the suite
def local_cluster(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[LocalKafkaCluster, LocalClickHouseCluster]]:
    base = tmp_path_factory.mktemp("cluster")
    kafka = LocalKafkaCluster(base / "kafka", extra_config={"message.max.bytes": str(4 * 1024 * 1024)})
    clickhouse = LocalClickHouseCluster(base / "clickhouse")
    try:
        clickhouse.start()
        kafka.start(timeout=150)
        yield kafka, clickhouse
    finally:
        kafka.stop()
        clickhouse.stop()


@pytest.fixture(scope="package")
def cluster_pipeline(local_cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClusterPipeline]:  # type: ignore[no-untyped-def]
    kafka, clickhouse = local_cluster
    tmp = tmp_path_factory.mktemp("pipeline")
    host, port = clickhouse.entry
    s = make_settings(
        kafka.bootstrap_servers,
        topic_replication=3,
        clickhouse_engine="server",
        clickhouse_host=host,
        clickhouse_port=port,
        clickhouse_cluster=CLUSTER,
        data_dir=tmp / "data",
        retention_interval_s=0,
        sink_insert_witness=False,  # replicated tables: an uncertain step is inserted again, block dedup drops it
    )
    ensure_topics(s)
    store = ServerStore(host, port, s.clickhouse_database, "default", "", True)
    migrate(store, CLUSTER)
    env = settings_env(s)
    workers = [WorkerProcess(s, tmp / f"worker{i}.log", {**env, "EDU_DATA_DIR": str(tmp / f"w{i}")}) for i in range(3)]
    # Two sink instances, each with its own Kafka partitions and flush log (EDU_SINK_INSTANCE i/2). The
    # one over-count seen with them (27,251 for 27,000 through a ZooKeeper restart) was a part whose
    # commit ZooKeeper lost (319); the sink now sweeps such parts away (sinks/orphans.py).
    sinks = [SinkProcess({**env, "EDU_SINK_INSTANCE": f"{i}/{SINKS}"}, tmp / f"sink{i}.log") for i in range(SINKS)]
    pipeline = ClusterPipeline(s, kafka, clickhouse, store, workers, sinks)
    try:
        for w in workers:
            w.start(timeout=120)
        for sink in sinks:
            sink.start()
        yield pipeline
    finally:
        for w in workers:
            w.stop()
        for sink in sinks:
            sink.stop()
        store.close()
