"""Three Apache Kafka brokers in KRaft mode on loopback: every node is broker and controller.

Built on `ops.kafka_local.LocalKafka` (same jars, log4j config, readiness probe, kill/stop), with a
shared cluster id and a three-voter controller quorum. Topics default to replication factor 3 with
`min.insync.replicas=2` and unclean leader election off, so a broker killed with SIGKILL loses no
acknowledged write (producers send with acks=all) and a restarted one rejoins as a follower.

    with LocalKafkaCluster(Path("/tmp/kc")) as kc:
        kc.bootstrap_servers  # '127.0.0.1:p1,127.0.0.1:p2,127.0.0.1:p3'
        kc.kill(kc.leader_of(topic, 0)); kc.restart(node_id)
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ops.kafka_local import DEFAULT_JVM_OPTS, LocalKafka, _new_cluster_id
from ops.local_process import free_port

JVM_OPTS = tuple(o if not o.startswith("-Xmx") else "-Xmx384m" for o in DEFAULT_JVM_OPTS)


class ClusterBroker(LocalKafka):
    """One node of the cluster: broker + controller, one of three quorum voters.

    Launched with ``launch()`` and awaited with ``wait_until_ready()``: a lone voter cannot
    become ready, it needs a quorum.
    """

    replication = (3, 2)
    tuning = {
        "unclean.leader.election.enable": "false",
        # A killed broker's partitions move to a follower within ~3 s.
        "broker.heartbeat.interval.ms": "500",
        "replica.lag.time.max.ms": "5000",
    }

    def __init__(
        self,
        node_id: int,
        voters: str,
        cluster_id: str,
        bootstrap_port: int,
        controller_port: int,
        data_dir: Path,
        extra_config: Mapping[str, str] | None = None,
        own_session: bool = False,
    ) -> None:
        super().__init__(
            bootstrap_port,
            controller_port,
            data_dir,
            jvm_opts=JVM_OPTS,
            extra_config=extra_config,
            own_session=own_session,
        )
        self.node_id = node_id
        self.voters = voters
        self.cluster_id = cluster_id  # shared: a random one per node would make three clusters


class LocalKafkaCluster:
    """Three KRaft nodes under `base_dir` on free loopback ports; stops only what it started."""

    def __init__(
        self,
        base_dir: Path,
        nodes: int = 3,
        extra_config: Mapping[str, str] | None = None,
        *,
        own_session: bool = False,
    ) -> None:
        """`own_session`: the brokers leave our process group, so a terminal's Ctrl-C reaches the
        launcher only and the brokers stop last (its clients stop first); tests keep them in the
        group so a CI teardown reaches them."""
        self.base_dir = Path(base_dir).resolve()
        ports = [(free_port(), free_port()) for _ in range(nodes)]
        voters = ",".join(f"{i}@127.0.0.1:{c}" for i, (_, c) in enumerate(ports, start=1))
        cluster_id = _new_cluster_id()
        self.brokers = {
            i: ClusterBroker(i, voters, cluster_id, b, c, self.base_dir / f"kafka-{i}", extra_config, own_session)
            for i, (b, c) in enumerate(ports, start=1)
        }

    @property
    def bootstrap_servers(self) -> str:
        return ",".join(b.bootstrap_servers for b in self.brokers.values())

    def start(self, timeout: float = 120.0) -> LocalKafkaCluster:
        for b in self.brokers.values():
            b.launch()
        for b in self.brokers.values():
            b.wait_until_ready(timeout)
        return self

    def kill(self, node_id: int) -> None:
        """SIGKILL one node (a crash: no clean shutdown, no leadership hand-over)."""
        self.brokers[node_id].kill()

    def restart(self, node_id: int, timeout: float = 120.0) -> None:
        b = self.brokers[node_id]
        b.launch()
        b.wait_until_ready(timeout)

    def leader_of(self, topic: str, partition: int, timeout: float = 30.0) -> int:
        """Node id of the partition's current leader (from a fresh metadata request)."""
        return int(self.describe(topic, timeout)[partition]["leader"])

    def describe(self, topic: str, timeout: float = 30.0) -> dict[int, dict[str, Any]]:
        """partition -> {'leader': id, 'replicas': [...], 'isr': [...]} from the admin API.

        Retried until `timeout`: right after a kill the client may still pick the dead node."""
        from kafka.errors import KafkaError

        deadline = time.monotonic() + timeout
        while True:
            try:
                return self._describe(topic, max(1.0, deadline - time.monotonic()))
            except KafkaError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.3)  # between bounded retries of a metadata request

    def _describe(self, topic: str, timeout: float) -> dict[int, dict[str, Any]]:
        from kafka import KafkaAdminClient

        live = [b.bootstrap_servers for b in self.brokers.values() if b.pid is not None]
        admin = KafkaAdminClient(bootstrap_servers=live, request_timeout_ms=int(timeout * 1000))
        try:
            (meta,) = admin.describe_topics([topic])
        finally:
            admin.close()
        return {
            p["partition"]: {"leader": p["leader"], "replicas": p["replicas"], "isr": p["isr"]}
            for p in meta["partitions"]
        }

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM every node at once, then wait: stopped one by one, the last would wait for a
        controller quorum that is gone before its controlled shutdown gives up."""
        import signal

        running = [b for b in self.brokers.values() if b.owned and b._proc is not None]
        for b in running:
            if b._proc is not None and b._proc.poll() is None:
                b._proc.send_signal(signal.SIGTERM)
        for b in running:
            b.stop(timeout)

    def __enter__(self) -> LocalKafkaCluster:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
