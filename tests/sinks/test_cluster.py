"""The cluster variant is generated from the single-node definitions: its text shape, per table."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from sinks import schema
from sinks.cluster import cluster_ddl
from sinks.migrate import discover, migrate

ROOT = Path(__file__).resolve().parents[2]


def test_every_table_gets_a_replicated_local_table_and_a_distributed_one() -> None:
    ddl = cluster_ddl("edu", "edu_cluster")
    assert ddl[0] == "CREATE DATABASE IF NOT EXISTS edu ON CLUSTER edu_cluster"
    text = "\n".join(ddl)
    for t in schema.tables():
        local = next(s for s in ddl if f"edu.{t.name}_local ON CLUSTER edu_cluster (" in s)
        assert (
            f"ENGINE = Replicated{t.engine}('/clickhouse/tables/{{shard}}/edu/{t.name}_local', '{{replica}}'" in local
        )
        if t.engine_args:
            assert local.split("ENGINE = ", 1)[1].split("\n", 1)[0].endswith(f", {t.engine_args})")
        for col, typ in t.columns:  # same columns, same types, same keys as the single-node table
            added = f"ALTER TABLE edu.{t.name}_local ON CLUSTER edu_cluster ADD COLUMN {col} {typ}"
            assert f"    {col} {typ}" in local or added in ddl, (t.name, col)
        assert local.rstrip().endswith(t.tail_sql())
        dist = next(s for s in ddl if f"TABLE IF NOT EXISTS edu.{t.name} ON CLUSTER" in s)
        assert f"AS edu.{t.name}_local\nENGINE = Distributed(edu_cluster, edu, {t.name}_local, {t.shard_by})" in dist
        assert text.index(local) < text.index(dist)  # the local table exists before the one over it
    from sinks.cluster import FANOUT_SOURCES

    assert FANOUT_SOURCES == {"clicks_minute"}  # the source of the hour and day rollups
    assert len([s for s in ddl if "CREATE TABLE" in s]) == 2 * (
        len(schema.tables()) + len(schema.INPUTS) + len(FANOUT_SOURCES)
    )


def test_views_read_and_write_local_tables_and_migrations_are_recorded() -> None:
    ddl = cluster_ddl("edu", "c1", zk_prefix="/ch/{shard}")
    view = next(s for s in ddl if "clicks_hour_mv" in s)
    assert "edu.clicks_hour_mv ON CLUSTER c1 TO edu.clicks_hour_local AS" in view
    # the rollups read the Null input the sink writes (not clicks_minute_local: on 18.16 a block
    # deduplicated there is not pushed to its views), as does the view that stores the minutes
    assert "FROM edu.clicks_minute_in_local" in view
    fan = [s for s in ddl if "VIEW IF NOT EXISTS edu.clicks_minute_fan" in s][-1]  # m0008 made it again
    assert (
        "TO edu.clicks_minute_local AS\nSELECT minute, platform, province, section, action, clicks, block_tag FROM "
        "edu.clicks_minute_in_local" in fan
    )
    assert all("'/ch/{shard}/edu/" in s for s in ddl if "Replicated" in s)
    versions = re.findall(r"\((\d+), 'm\d{4}_\w+', now\(\)\)", ddl[-1])
    assert ddl[-1].startswith("INSERT INTO edu.schema_migrations (version, name, applied_at) VALUES")
    assert [int(v) for v in versions] == [m.VERSION for m in discover()]
    # Only the 18.16 subset: no TTL, no CODEC, no IF NOT EXISTS on columns.
    assert not re.search(r"\bTTL\b|CODEC|toStartOfInterval|DateTime64", "\n".join(ddl))


def test_sharding_keys_evaluate_on_both_engines(engine_store: Any) -> None:
    """The Distributed sharding expressions are valid on 18.16 and chDB for every table."""
    migrate(engine_store)
    for t in schema.tables():
        rows = engine_store.query(f"SELECT count(), sum({t.shard_by}) FROM {engine_store.database}.{t.name}")
        assert rows[0][0] >= 0


def test_cli_prints_the_cluster_ddl() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "sinks.cli", "cluster-ddl", "--cluster", "prod", "--database", "edu"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("CREATE DATABASE IF NOT EXISTS edu ON CLUSTER prod;\n")
    assert proc.stdout.count(";\n") == len(cluster_ddl("edu", "prod"))


def test_every_table_has_a_deterministic_sharding_key() -> None:
    """rand() would send a retried block to another shard, where deduplication cannot see it."""
    for t in (*schema.tables(), *schema.INPUTS):
        assert "rand" not in t.shard_by.lower(), t.name


def test_migrations_translate_statement_by_statement() -> None:
    """Each migration's own text becomes local + Distributed tables; its views read and write the
    local tables of earlier migrations; what has no cluster form stops the migration."""
    import pytest

    from sinks.cluster import migration_statements, to_cluster
    from sinks.migrations import m0007_day_rollup

    stmts = migration_statements(m0007_day_rollup, "edu", "c")
    assert any("edu.clicks_day_local ON CLUSTER c" in s and "ReplicatedSummingMergeTree(" in s for s in stmts)
    view = next(s for s in stmts if "MATERIALIZED VIEW" in s)
    assert "edu.clicks_day_mv ON CLUSTER c TO edu.clicks_day_local" in view
    assert "FROM edu.clicks_minute_in_local" in view  # created by migration 1
    with pytest.raises(ValueError, match="no cluster form"):
        to_cluster("ALTER TABLE edu.clicks_minute DROP COLUMN x", "edu", "c")
    with pytest.raises(ValueError, match="no earlier migration created"):
        to_cluster("ALTER TABLE edu.clicks_minute ADD COLUMN x UInt8", "edu", "c")
    with pytest.raises(ValueError, match="views only"):
        to_cluster("DROP TABLE IF EXISTS edu.clicks_minute", "edu", "c", local_tables={"clicks_minute": []})
    bad = "\nCREATE TABLE IF NOT EXISTS edu.mystery (\n    a UInt8\n) ENGINE = MergeTree()\nORDER BY a\n"
    with pytest.raises(ValueError, match="sharding key"):
        to_cluster(bad, "edu", "c")


def test_a_column_added_to_a_table_feeding_views_reaches_every_table_of_it_and_its_fan_view() -> None:
    """m0008 adds `block_tag`: to the local, Distributed, Null input and its Distributed table, and
    the fan view that copies the input into `clicks_minute_local` is created again with it."""
    from sinks.cluster import EVERY_NODE, migration_statements
    from sinks.migrations import m0008_block_tags

    stmts = migration_statements(m0008_block_tags, "edu", "c")
    assert "ALTER TABLE edu.clicks_minute_local ON CLUSTER c ADD COLUMN block_tag UInt64" in stmts
    for t in ("clicks_minute", "clicks_minute_in_local", "clicks_minute_in"):  # not replicated: node by node
        assert f"{EVERY_NODE}ALTER TABLE edu.{t} ADD COLUMN block_tag UInt64" in stmts
    drop = stmts.index("DROP TABLE IF EXISTS edu.clicks_minute_fan ON CLUSTER c")
    fan = stmts[drop + 1]
    assert (
        "SELECT minute, platform, province, section, action, clicks, block_tag FROM edu.clicks_minute_in_local" in fan
    )
    assert "DROP TABLE IF EXISTS edu.clicks_hour_mv ON CLUSTER c" in stmts
    hour = next(s for s in stmts if "VIEW IF NOT EXISTS edu.clicks_hour_mv" in s)
    assert "max(block_tag) AS block_tag" in hour and "FROM edu.clicks_minute_in_local" in hour
