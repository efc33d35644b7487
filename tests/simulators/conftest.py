"""Fixtures for simulator tests. The Kafka fixture starts a real single-node broker on free loopback
ports in a temporary directory (integration tests only); the lead may move it to tests/conftest.py."""
from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from contracts.settings import Settings, load_settings


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def local_kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    from ops.kafka_local import LocalKafka, LocalKafkaError

    kafka = LocalKafka(_free_port(), _free_port(), tmp_path_factory.mktemp("kafka"))
    try:
        kafka.start(timeout=120)
    except LocalKafkaError as err:
        pytest.skip(f"local Kafka unavailable: {err}")
    yield kafka
    kafka.stop()


@pytest.fixture()
def kafka_settings(local_kafka: object, request: pytest.FixtureRequest) -> Settings:
    """Settings pointing at the test broker, with topics unique to the test."""
    name = request.node.name.replace("[", "-").replace("]", "")[:40]
    return load_settings(kafka_bootstrap=local_kafka.bootstrap_servers,  # type: ignore[attr-defined]
                         topic_clicks=f"t.{name}.clicks", topic_sessions=f"t.{name}.sessions", topic_partitions=2)


@pytest.fixture()
def tmp(tmp_path: Path) -> Path:
    return tmp_path
