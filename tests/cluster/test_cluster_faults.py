"""Faults on the local cluster, each while a stream runs: stored = sent exactly, queries answering.

One cluster and one pipeline (3 workers, 2 sinks) serve every test of the session (`conftest.py`);
the ground truth is cumulative, so each test checks everything sent so far.
"""

from __future__ import annotations

import time

import pytest

from tests.cluster.conftest import ClusterPipeline, Probe
from tests.support import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.cluster, pytest.mark.alone]

N, RATE = 9_000, 1_500.0  # six seconds of events per test


def hold(seconds: float, sample) -> list:  # type: ignore[no-untyped-def]
    """Keep a fault in place for `seconds`, sampling a value every 0.5 s (what the test asserts on)."""
    out, end = [], time.monotonic() + seconds
    while time.monotonic() < end:
        out.append(sample())
        time.sleep(0.5)  # the sampling interval of a deliberate outage, not a wait for a condition
    return out


def started(p: ClusterPipeline, seed: int, probe: Probe):  # type: ignore[no-untyped-def]
    before = sum(p.stored().values())
    stream = p.stream(N, RATE, seed)
    # mid-stream: the first of this stream's events are stored
    wait_for(lambda: sum(p.stored().values()) > before, 60, "the stream reaching ClickHouse", describe=p.describe)
    return stream


def finish(p: ClusterPipeline, stream, probe: Probe) -> None:  # type: ignore[no-untyped-def]
    p.join_stream(stream)
    p.wait_all_stored()
    assert probe.answered > 5 and not probe.failures, (probe.answered, probe.failures[:3])


def test_migrations_are_idempotent_on_the_cluster(cluster_pipeline: ClusterPipeline) -> None:
    from sinks.migrate import discover, migrate

    p = cluster_pipeline
    assert migrate(p.store, p.settings.clickhouse_cluster) == []  # the fixture applied them all
    db = p.store.database
    want = {m.VERSION for m in discover()}
    for node in p.clickhouse.nodes:  # every node has every local and Distributed table
        names = {r[0] for r in node.client().execute(f"SELECT name FROM system.tables WHERE database = '{db}'")}
        assert {"clicks_minute", "clicks_minute_local", "clicks_hour_local", "clicks_hour_mv", "sink_offsets"} <= names
        engines = dict(node.client().execute(f"SELECT name, engine FROM system.tables WHERE database = '{db}'"))
        assert engines["clicks_minute_local"] == "ReplicatedSummingMergeTree"
        assert engines["clicks_minute"] == "Distributed"
    assert {int(v) for (v,) in p.store.query(f"SELECT DISTINCT version FROM {db}.schema_migrations")} == want


def test_kill_the_leader_broker_of_a_busy_partition(cluster_pipeline: ClusterPipeline) -> None:
    p = cluster_pipeline
    with Probe(p.store.with_database(p.store.database)) as probe:
        stream = started(p, 1, probe)
        leader = p.kafka.leader_of(p.settings.topic_clicks, 0)
        p.kafka.kill(leader)
        wait_for(lambda: p.kafka.leader_of(p.settings.topic_clicks, 0) != leader, 30, "a new leader elected")
        hold(2, lambda: None)
        p.kafka.restart(leader)
        finish(p, stream, probe)
    # the restarted broker is back in every partition's in-sync replicas (nothing unclean)
    wait_for(
        lambda: all(len(d["isr"]) == 3 for d in p.kafka.describe(p.settings.topic_clicks).values()),
        60,
        "ISR of 3 again",
    )


def test_kill_one_clickhouse_replica(cluster_pipeline: ClusterPipeline) -> None:
    p = cluster_pipeline
    node = p.clickhouse.node(2, 1)  # the replica shard 2's reads and writes go to (load_balancing in_order)
    with Probe(p.store.with_database(p.store.database)) as probe:
        stream = started(p, 2, probe)
        node.kill()
        during = hold(5, lambda: sum(p.stored().values()))  # its twin answers; inserts go on
        assert during[-1] > during[0]
        node.start()
        finish(p, stream, probe)
    counts = p.wait_replicas_equal()
    assert counts["s2r1"] > 0 and counts["s1r1"] > 0


def test_restart_zookeeper(cluster_pipeline: ClusterPipeline) -> None:
    p = cluster_pipeline
    with Probe(p.store.with_database(p.store.database)) as probe:
        stream = started(p, 3, probe)
        p.clickhouse.zookeeper.stop()
        try:
            # each replica's own table: a read through the distributed one may go to a replica behind
            # its twin (19,020 then 18,767 in CI), and a failure here must not leave ZooKeeper down
            held = hold(4, p.replica_counts)
        finally:
            p.clickhouse.zookeeper.start()
        assert held[-1] == held[1], f"inserts went on without ZooKeeper: {held}"  # paused (one in flight)
        finish(p, stream, probe)
    p.wait_replicas_equal()


def test_kill_a_worker(cluster_pipeline: ClusterPipeline) -> None:
    p = cluster_pipeline
    with Probe(p.store.with_database(p.store.database)) as probe:
        stream = started(p, 4, probe)
        p.workers[0].kill()
        hold(2, lambda: None)
        p.workers[0].start(timeout=120)
        finish(p, stream, probe)
    p.wait_replicas_equal()


def test_kill_a_sink(cluster_pipeline: ClusterPipeline) -> None:
    p = cluster_pipeline
    with Probe(p.store.with_database(p.store.database)) as probe:
        stream = started(p, 5, probe)
        p.sinks[0].kill()
        hold(2, lambda: None)
        p.sinks[0].start()
        finish(p, stream, probe)
    p.wait_replicas_equal()
