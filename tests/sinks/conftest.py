"""Fixtures for the storage tests: a fresh database per test on each engine.

`engine_store` is parametrised over both engines (embedded chDB and the ClickHouse 18.16 server),
so every test that takes it runs twice. chDB allows one data path per process, so the chDB side is
a `with_database` view of the session store; the server side a view of one session connection.
Each test gets its own database, dropped afterwards.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sinks.store import ChdbStore, ServerStore
from tests.conftest import unique

# The server half needs a real clickhouse-server: marked, so `-m "not integration"` runs without one.
ENGINES = ("chdb", pytest.param("server", marks=pytest.mark.integration))


@pytest.fixture(scope="session")
def server_session_store(clickhouse_server: tuple[str, int]) -> Iterator[ServerStore]:
    store = ServerStore(*clickhouse_server, "sinks_test", "default", "", True)
    yield store
    store.close()


def engine(request: pytest.FixtureRequest, name: str) -> ChdbStore | ServerStore:
    base = "chdb_session_store" if name == "chdb" else "server_session_store"
    return request.getfixturevalue(base)


@pytest.fixture(params=ENGINES)
def engine_store(request: pytest.FixtureRequest) -> Iterator[ChdbStore | ServerStore]:
    """An empty, unmigrated database of its own on one engine."""
    store = engine(request, request.param).with_database(unique("s"))
    try:
        yield store
    finally:
        store.drop_database()
