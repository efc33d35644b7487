"""Fixtures for the cockpit tests, on the session's one embedded chDB store.

chDB lets one OS process open one data path for its whole life, so the cockpit tests use the
session store of tests/conftest.py, in a database of their own (`cockpit_test`), and isolate
themselves by data: each test that reads "now" or totals truncates the tables first.
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from contracts.settings import Settings
from ops.local_process import free_port
from sinks.migrate import migrate
from sinks.store import ChdbStore
from tests.cockpit import data as fx

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"


DATABASE = "cockpit_test"


@pytest.fixture(scope="session")
def store(chdb_session_store: ChdbStore) -> ChdbStore:
    """The session's chDB store seen through another database: same engine session, same lock."""
    view = copy.copy(chdb_session_store)
    view.database = DATABASE
    view.command(f"CREATE DATABASE IF NOT EXISTS {DATABASE}")
    migrate(view)
    return view


@pytest.fixture
def empty_store(store: ChdbStore) -> ChdbStore:
    fx.truncate(store)
    return store


@pytest.fixture
def morning_store(store: ChdbStore) -> ChdbStore:
    """The fixture morning of 14 March 2022, "now" 10:42 Beijing time."""
    fx.load_morning(store)
    return store


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """The product's default pace (2 s refresh). Not faster: a tick that comes before the previous
    refresh's response supersedes it, so on a loaded test machine (one refresh > 0.5 s) a 0.5 s
    refresh never lets a response land and the page stays empty."""
    return Settings(data_dir=tmp_path, cockpit_refresh_ms=2000, cockpit_cache_s=1.0)


@pytest.fixture(autouse=True)
def _fixture_wall_clock() -> None:
    from tests.cockpit import data

    data.restart_wall_clock()


@pytest.fixture(name="free_port")
def free_port_fixture() -> int:
    return free_port()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
