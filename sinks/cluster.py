"""The cluster variant of the schema: ReplicatedMergeTree tables behind Distributed tables.

Generated from the same `TableDef`s and views as the single-node schema (`sinks/schema.py`), so
the two cannot drift. For each table `t`:

- `t_local` ON CLUSTER: the table's engine prefixed `Replicated`, with the ZooKeeper path
  `<zk_prefix>/<database>/t_local` and replica `{replica}` (both macros from each node's config),
  the same columns, PARTITION BY and ORDER BY;
- `t` ON CLUSTER: `Distributed(cluster, database, t_local, <shard key>)` with the table's
  deterministic sharding key, so the sink, the cockpit and every named query keep using the plain
  name `t` unchanged.

Materialized views are created on the local tables (each shard rolls up its own rows). The last
statement records every migration as applied, so `edu-sink` starting against the cluster does not
run the single-node migrations (whose data steps would double-count). Every statement is in the
SQL subset ClickHouse 18.16 accepts, and is idempotent (IF NOT EXISTS) except that last INSERT,
which `schema_migrations` (ReplacingMergeTree) folds.

Replicated tables also close the sink's one duplicate window (docs/exactly-once.md): a re-inserted
identical block is deduplicated by ClickHouse (`replicated_deduplication_window`).
"""
from __future__ import annotations

from sinks.migrate import discover
from sinks.schema import INPUTS, VIEWS, tables
from sinks.tables import TableDef, schema_migrations
from sinks.store import check_identifier

LOCAL_SUFFIX = "_local"
DEFAULT_ZK_PREFIX = "/clickhouse/tables/{shard}"


def replicated_sql(t: TableDef, database: str, cluster: str, zk_prefix: str = DEFAULT_ZK_PREFIX) -> str:
    local = t.name + LOCAL_SUFFIX
    args = f"'{zk_prefix}/{database}/{local}', '{{replica}}'" + (f", {t.engine_args}" if t.engine_args else "")
    return (f"\nCREATE TABLE IF NOT EXISTS {database}.{local} ON CLUSTER {cluster} (\n{t.columns_sql()}\n)"
            f" ENGINE = Replicated{t.engine}({args})\n{t.tail_sql()}\n")


def distributed_sql(t: TableDef, database: str, cluster: str) -> str:
    local = t.name + LOCAL_SUFFIX
    return (f"\nCREATE TABLE IF NOT EXISTS {database}.{t.name} ON CLUSTER {cluster} AS {database}.{local}\n"
            f"ENGINE = Distributed({cluster}, {database}, {local}, {t.shard_by})\n")


def cluster_ddl(database: str, cluster: str, zk_prefix: str = DEFAULT_ZK_PREFIX) -> list[str]:
    """Statements that create the whole schema on `cluster`, in order."""
    check_identifier(database)
    check_identifier(cluster)
    out = [f"CREATE DATABASE IF NOT EXISTS {database} ON CLUSTER {cluster}"]
    for t in tables():
        out.append(replicated_sql(t, database, cluster, zk_prefix))
        out.append(distributed_sql(t, database, cluster))
    for t in INPUTS:  # Null tables are not replicated: a local one per node, a Distributed over them
        out.append(f"\nCREATE TABLE IF NOT EXISTS {database}.{t.name}{LOCAL_SUFFIX} ON CLUSTER {cluster} "
                   f"(\n{t.columns_sql()}\n) ENGINE = Null\n")
        out.append(distributed_sql(t, database, cluster))
    for v in VIEWS:
        out.append(v.create_sql(database, source=v.source + LOCAL_SUFFIX, target=v.target + LOCAL_SUFFIX,
                                on_cluster=f" ON CLUSTER {cluster}"))
    versions = ", ".join(f"({m.VERSION}, '{m.__name__.rsplit('.', 1)[1]}', now())" for m in discover())
    out.append(f"INSERT INTO {database}.{schema_migrations.TABLE} (version, name, applied_at) VALUES {versions}")
    return out
