"""Replicated deduplication tells flushes apart: equal blocks of different flushes are both stored,
a retried step is stored once (sinks/tables/__init__.py, BLOCK_TAG; migration 8).

Before the tag, ClickHouse 18.16 compared whole blocks, so a second flush that formed the same block
as a recent one (one reject of one reason in one minute; one click of a province in one minute) was
dropped: 3 of 80 rejects were stored under the kill loop on this cluster.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from contracts.rates import ClickRow, RateBatch
from ops.clickhouse_cluster import CLUSTER, LocalClickHouseCluster
from sinks.batch import RateBuffer
from sinks.cluster import INSERT_TARGETS, migration_statements, run_cluster_statement
from sinks.ledger import Ledger
from sinks.migrate import discover, migrate
from sinks.migrations import m0008_block_tags
from sinks.store import ServerStore
from tests.conftest import unique

pytestmark = [pytest.mark.integration, pytest.mark.cluster, pytest.mark.alone]

MINUTE = 1_647_223_200  # 2022-03-14 10:00 Beijing


@pytest.fixture
def cluster_store(local_cluster: tuple[Any, LocalClickHouseCluster]) -> Iterator[ServerStore]:
    """A fresh database on the cluster, migrated, written as a sink writes it (the Null inputs)."""
    _, clickhouse = local_cluster
    host, port = clickhouse.entry
    store = ServerStore(host, port, unique("tags"), "default", "", True)
    store.insert_targets = INSERT_TARGETS
    store.cluster = CLUSTER
    migrate(store, CLUSTER)
    try:
        yield store
    finally:
        store.command(f"DROP DATABASE IF EXISTS {store.database} ON CLUSTER {CLUSTER}")
        store.close()


def _flush(store: ServerStore, ledger: Ledger, offset: int) -> None:
    """One flush of one rate batch: one click of Beijing k12 and one `json` reject in MINUTE."""
    buf = RateBuffer("edu-sink", "rates")
    buf.add(0, offset, _batch(offset))
    buf.flush(store, ledger)


def _batch(offset: int) -> RateBatch:
    return RateBatch(
        src_topic="clicks",
        src_partition=0,
        first_offset=offset,
        last_offset=offset,
        watermark_ms=MINUTE * 1000,
        events=2,
        rejects={"json": 1},
        rejects_at_ms=MINUTE * 1000,
        clicks=[ClickRow(MINUTE, "k12", "110000", "lessons", "view", 1)],
    )


def _sums(store: ServerStore) -> tuple[int, ...]:
    db = store.database
    return tuple(
        int(store.query(f"SELECT sum({col}) FROM {db}.{table}")[0][0] or 0)
        for table, col in (
            ("clicks_minute", "clicks"),
            ("clicks_hour", "clicks"),
            ("clicks_day", "clicks"),
            ("rejects_minute", "events"),
        )
    )


def test_equal_blocks_of_different_flushes_are_all_stored_and_a_retried_step_once(cluster_store: ServerStore) -> None:
    ledger = Ledger(cluster_store, witness=False)
    for offset in range(5):  # five flushes, each the same rows: five equal blocks but for the tag
        _flush(cluster_store, ledger, offset)
    assert _sums(cluster_store) == (5, 5, 5, 5)
    # A step the sink was unsure of is inserted again, as after a crash: the same tag, so every
    # replicated table (and each view's target) drops the copy.
    _flush(cluster_store, ledger, 4)
    assert _sums(cluster_store) == (5, 5, 5, 5)


def test_migration_8_runs_again_harmlessly(cluster_store: ServerStore) -> None:
    """18.16 has no ADD COLUMN IF NOT EXISTS: a re-run (a crash before the version was recorded)
    skips the columns that exist and creates the views again; the rollups still follow."""
    for sql in migration_statements(m0008_block_tags, cluster_store.database, CLUSTER, mods=discover()):
        run_cluster_statement(cluster_store, CLUSTER, sql)
    _flush(cluster_store, Ledger(cluster_store, witness=False), 0)
    assert _sums(cluster_store) == (1, 1, 1, 1)
    tags = cluster_store.query(
        "SELECT count() FROM system.columns WHERE database = %(db)s AND name = 'block_tag'",
        {"db": cluster_store.database},
    )
    # nine tables, local and Distributed; the minutes' input pair; the fan and the two rollup views
    assert tags[0][0] == 9 * 2 + 2 + 3
