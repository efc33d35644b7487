"""Tests for ops.kafka_local: a real KRaft broker, started on free loopback ports.

The integration tests fetch the official jars (cached after the first run), start
the broker in a tmp dir and talk to it with the project's real clients:
kafka-python to produce, aiokafka to consume. Every wait is on a condition with a
deadline; nothing sleeps a fixed time.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ops.kafka_local import (
    KAFKA_VERSION,
    LocalKafka,
    LocalKafkaError,
    _new_cluster_id,
    metadata_ready,
)
from ops.local_process import free_port

ROOT = Path(__file__).resolve().parents[2]
N_MESSAGES = 1000


def free_ports(n: int) -> list[int]:
    """n distinct free loopback ports."""
    return [free_port() for _ in range(n)]


def make_broker(data_dir: Path) -> LocalKafka:
    bootstrap, controller = free_ports(2)
    return LocalKafka(bootstrap, controller, data_dir)


def create_topic(bootstrap: str, topic: str, partitions: int) -> None:
    from kafka import KafkaAdminClient
    from kafka.admin import NewTopic

    admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=30000)
    try:
        admin.create_topics([NewTopic(topic, partitions, 1)])
    finally:
        admin.close()


def produce(bootstrap: str, topic: str, values: range) -> None:
    """Produce with kafka-python, acks=all, and check every send was acknowledged."""
    from kafka import KafkaProducer

    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    try:
        futures = [producer.send(topic, key=str(v).encode(), value=str(v).encode()) for v in values]
        producer.flush(timeout=60)
        for fut in futures:
            fut.get(timeout=30)
    finally:
        producer.close(timeout=10)


async def _consume(bootstrap: str, topic: str, group: str, expected: int, timeout: float) -> list[int]:
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    got: list[int] = []
    try:
        deadline = time.monotonic() + timeout
        while len(got) < expected and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=500)
            got += [int(m.value) for msgs in batch.values() for m in msgs]
        # One more poll so that extra (duplicate) messages would be caught too.
        batch = await consumer.getmany(timeout_ms=500)
        got += [int(m.value) for msgs in batch.values() for m in msgs]
        await consumer.commit()
    finally:
        await consumer.stop()
    return got


def consume(bootstrap: str, topic: str, group: str, expected: int, timeout: float = 60) -> list[int]:
    """Consume with aiokafka until ``expected`` messages arrived (or the deadline); commits."""
    return asyncio.run(_consume(bootstrap, topic, group, expected, timeout))


# ------------------------------------------------------------ unit (no JVM)
def test_cli_help() -> None:
    res = subprocess.run(
        [sys.executable, "-m", "ops.kafka_local", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert res.returncode == 0, res.stderr
    for word in ("fetch", "start", "stop", "status", "--detach", "--data-dir"):
        assert word in res.stdout


def test_kafka_sh_help() -> None:
    env = {**os.environ, "PYTHON": sys.executable}
    res = subprocess.run(
        ["bash", str(ROOT / "ops" / "kafka.sh"), "--help"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert res.returncode == 0, res.stderr
    assert KAFKA_VERSION in res.stdout


def test_server_properties_single_node(tmp_path: Path) -> None:
    k = LocalKafka(29092, 29093, tmp_path / "d", tmp_path / "c")
    props = k.server_properties()
    assert props["process.roles"] == "broker,controller"
    assert props["listeners"] == "PLAINTEXT://127.0.0.1:29092,CONTROLLER://127.0.0.1:29093"
    assert props["controller.quorum.voters"] == "1@127.0.0.1:29093"
    assert props["offsets.topic.replication.factor"] == "1"
    assert props["transaction.state.log.replication.factor"] == "1"
    assert props["transaction.state.log.min.isr"] == "1"
    assert props["group.initial.rebalance.delay.ms"] == "0"
    assert props["num.partitions"] == "4"
    assert props["log.dirs"].startswith(str((tmp_path / "d").resolve()))
    text = k.write_config().read_text()
    assert "node.id=1\n" in text


def test_cluster_id_format() -> None:
    ids = {_new_cluster_id() for _ in range(50)}
    assert len(ids) == 50
    assert all(len(i) == 22 and not i.startswith("-") for i in ids)


def test_nothing_listening_is_not_up() -> None:
    (port,) = free_ports(1)
    assert not metadata_ready("127.0.0.1", port, timeout=0.5)
    assert not LocalKafka(port, port + 1).is_up(timeout=0.5)


# ---------------------------------------------------- integration (real JVM)
@pytest.fixture(scope="module")
def own_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalKafka]:
    """A broker this module starts itself (unlike conftest's shared `kafka`), to test LocalKafka."""
    broker = make_broker(tmp_path_factory.mktemp("kafka"))
    broker.start(timeout=120)
    try:
        yield broker
    finally:
        broker.stop()


@pytest.mark.integration
def test_produce_kafka_python_consume_aiokafka_exact(own_broker: LocalKafka) -> None:
    assert own_broker.owned and own_broker.is_up()
    create_topic(own_broker.bootstrap_servers, "roundtrip", 4)
    produce(own_broker.bootstrap_servers, "roundtrip", range(N_MESSAGES))
    got = consume(own_broker.bootstrap_servers, "roundtrip", "g-roundtrip", N_MESSAGES)
    assert len(got) == N_MESSAGES
    assert sorted(got) == list(range(N_MESSAGES))


@pytest.mark.integration
def test_auto_created_topic_gets_default_partitions(own_broker: LocalKafka) -> None:
    from kafka import KafkaConsumer

    produce(own_broker.bootstrap_servers, "auto-created", range(10))
    consumer = KafkaConsumer(bootstrap_servers=own_broker.bootstrap_servers)
    try:
        assert consumer.partitions_for_topic("auto-created") == {0, 1, 2, 3}
    finally:
        consumer.close()


@pytest.mark.integration
def test_second_instance_reuses_running_broker(own_broker: LocalKafka, tmp_path: Path) -> None:
    other = LocalKafka(own_broker.bootstrap_port, own_broker.controller_port, tmp_path / "other")
    other.start(timeout=10)
    assert not other.owned
    other.stop()
    other.kill()
    assert own_broker.is_up() and own_broker.owned
    assert not (tmp_path / "other" / "logs").exists()  # never formatted, never started


@pytest.mark.integration
def test_sigkill_and_restart_keep_committed_data(tmp_path: Path) -> None:
    broker = make_broker(tmp_path / "crash")
    broker.start(timeout=120)
    try:
        bs = broker.bootstrap_servers
        create_topic(bs, "durable", 2)
        produce(bs, "durable", range(300))
        assert sorted(consume(bs, "durable", "g-committed", 300)) == list(range(300))
        first_pid = broker.pid

        broker.kill()
        assert broker.pid is None and not broker.owned
        assert not broker.is_up(timeout=0.5)
        broker.restart(timeout=120)
        assert broker.owned and broker.pid not in (None, first_pid)

        # Acknowledged messages survived the crash, exactly once.
        assert sorted(consume(bs, "durable", "g-fresh", 300)) == list(range(300))
        # The committed group offset survived too: only new messages are delivered.
        produce(bs, "durable", range(300, 350))
        assert sorted(consume(bs, "durable", "g-committed", 50)) == list(range(300, 350))
    finally:
        broker.stop()
    assert not broker.is_up(timeout=0.5)


@pytest.mark.integration
def test_start_failure_reports_log_tail(tmp_path: Path) -> None:
    bootstrap, controller = free_ports(2)
    # Controller port taken: Kafka must fail fast. Bound without listening, so the start's
    # pre-check (which reports a listening squatter without spawning) lets the JVM try.
    blocker = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    blocker.bind(("127.0.0.1", controller))
    try:
        broker = LocalKafka(bootstrap, controller, tmp_path / "fail")
        with pytest.raises(LocalKafkaError, match="tail of"):
            broker.start(timeout=120)
        assert broker.pid is None
    finally:
        blocker.close()


@pytest.mark.integration
def test_cli_detach_status_stop(tmp_path: Path) -> None:
    bootstrap, controller = free_ports(2)
    base = [
        sys.executable,
        "-m",
        "ops.kafka_local",
        "--port",
        str(bootstrap),
        "--controller-port",
        str(controller),
        "--data-dir",
        str(tmp_path / "cli"),
    ]

    def run(cmd: str, *extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*base[:3], cmd, *base[3:], *extra], cwd=ROOT, capture_output=True, text=True, timeout=180, check=False
        )

    started = run("start", "--detach")
    try:
        assert started.returncode == 0, started.stdout + started.stderr
        assert (tmp_path / "cli" / "kafka.pid").is_file()
        status = run("status")
        assert status.returncode == 0 and status.stdout.startswith("up"), status.stdout
    finally:
        stopped = run("stop")
    assert stopped.returncode == 0 and "stopped" in stopped.stdout, stopped.stdout + stopped.stderr
    assert not (tmp_path / "cli" / "kafka.pid").exists()
    assert run("status").returncode == 1
