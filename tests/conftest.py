"""Shared fixtures: real services started once per session, stopped at the end.

- `kafka`: a single-node KRaft broker from the official jars (ops.kafka_local).
- `clickhouse_server`: Debian's clickhouse-server on its own loopback ports and temp dir.
- `chdb_store`: one embedded chDB store for the whole session: a process can open only one chDB
  data path in its life, so tests isolate by database name or by data, never by a second path.
Each test that needs topics gets its own names (`pipeline_settings`), so tests do not see each
other's messages.
"""

from __future__ import annotations

import itertools
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from contracts.settings import Settings

_counter = itertools.count()

# A test that takes one of these fixtures needs a real service (or a browser): it is marked so, whatever
# its module says, so `-m "not integration and not browser"` runs on a machine without them.
SERVICE_FIXTURES = {"kafka", "clickhouse_server", "server_session_store"}
BROWSER_FIXTURES = {"dash_duo", "dash_br", "dash_thread_server", "dash_process_server"}


def schedule_rank(item: pytest.Item) -> int:
    """Journeys first: with two test workers (ops/test.sh) one of them runs a journey (minutes of wall
    time) while the other works through the rest, unit tests before the tests that start services.
    The local cluster (9 server processes) last, so its start-up loads as few other tests as
    possible (ops/test.sh runs it, and the rehearsal journey, in a second run with nothing beside:
    so no two workers ever start a cluster)."""
    if item.get_closest_marker("journey") is not None:
        return 0
    if item.get_closest_marker("cluster") is not None:
        return 3
    return 2 if any(item.get_closest_marker(m) for m in ("integration", "browser", "exactness")) else 1


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        names = set(getattr(item, "fixturenames", ()))
        if names & SERVICE_FIXTURES and item.get_closest_marker("integration") is None:
            item.add_marker(pytest.mark.integration)
        if names & BROWSER_FIXTURES and item.get_closest_marker("browser") is None:
            item.add_marker(pytest.mark.browser)
    items.sort(key=schedule_rank)  # stable: the collection order within each rank


@pytest.fixture(scope="session")
def services_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("services")


@pytest.fixture(scope="session")
def kafka(services_dir: Path) -> Iterator[str]:
    """Bootstrap address of a running broker (reused if EDU_TEST_KAFKA names one that answers)."""
    from ops.kafka_local import LocalKafka, metadata_ready
    from ops.local_process import free_port

    reuse = os.environ.get("EDU_TEST_KAFKA")
    if reuse:
        host, _, port = reuse.rpartition(":")
        if not metadata_ready(host, int(port)):
            raise RuntimeError(f"EDU_TEST_KAFKA={reuse} does not answer")
        yield reuse
        return
    broker = LocalKafka(
        free_port(),
        free_port(),
        data_dir=services_dir / "kafka",
        extra_config={"message.max.bytes": str(4 * 1024 * 1024)},
    )
    broker.fetch()
    broker.start(timeout=90)
    try:
        yield broker.bootstrap_servers
    finally:
        broker.stop()


@pytest.fixture(scope="session")
def clickhouse_server(services_dir: Path) -> Iterator[tuple[str, int]]:
    """(host, native port) of a ClickHouse server started for this session."""
    from ops.clickhouse_server import LocalClickHouseServer
    from ops.local_process import free_port

    if shutil.which("clickhouse-server") is None and shutil.which("clickhouse") is None:
        pytest.fail("clickhouse-server is not installed (apt-get install clickhouse-server); .ci/run installs it")
    server = LocalClickHouseServer(services_dir / "clickhouse", tcp_port=free_port(), http_port=free_port())
    server.start(timeout=90)
    try:
        yield server.host, server.tcp_port
    finally:
        server.stop()


@pytest.fixture(scope="session")
def chdb_path(services_dir: Path) -> Path:
    return services_dir / "chdb"


@pytest.fixture(scope="session")
def chdb_session_store(chdb_path: Path):
    from sinks.store import ChdbStore

    store = ChdbStore(str(chdb_path), "edu_test")
    yield store
    store.close()


def private_database(store, name: str):
    """The session store under a fresh database `name` (shares the engine: one chDB path per process),
    migrated to head."""
    import copy

    from sinks.migrate import migrate

    own = copy.copy(store)
    own.database = name
    own.command(f"DROP DATABASE IF EXISTS {name}")
    own.command(f"CREATE DATABASE {name}")
    migrate(own)
    return own


def unique(prefix: str) -> str:
    return f"{prefix}{os.getpid()}x{next(_counter)}"


def make_settings(bootstrap: str, **overrides: object) -> Settings:
    """Settings with topics, groups and database private to one test."""
    tag = unique("t")
    base: dict[str, object] = dict(
        kafka_bootstrap=bootstrap,
        topic_clicks=f"{tag}.clicks",
        topic_sessions=f"{tag}.sessions",
        topic_rates=f"{tag}.rates",
        topic_session_rates=f"{tag}.session-rates",
        topic_deadletter=f"{tag}.dead",
        topic_alerts=f"{tag}.alerts",
        topic_partitions=4,
        worker_id=f"{tag}-worker",
        sink_group=f"{tag}-sink",
        clickhouse_database=f"db_{tag}",
        worker_session_timeout_s=6.0,
        worker_batch_within_s=0.2,
        worker_metrics_port=0,
        sink_metrics_port=0,
        sink_flush_interval_s=0.3,
    )
    base.update(overrides)
    return Settings(**base)  # type: ignore[arg-type]
