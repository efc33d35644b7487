"""The cluster variant of the schema: ReplicatedMergeTree tables behind Distributed tables.

The same numbered migrations as on a single node (`migrate(store, cluster=...)`), each statement
translated here: `CREATE TABLE t` becomes `t_local` ON CLUSTER (the `Replicated` engine, same columns,
PARTITION BY and ORDER BY) and `t` = `Distributed` over it, sharded by `TableDef.shard_by` (a hash,
never `rand()`, so a retried block is deduplicated), so every reader keeps the plain name. Any other
statement kind stops the migration loudly; data steps do not run on a cluster. Why: docs/storage.md
("The cluster variant").
"""

from __future__ import annotations

import logging
import re
import time
from types import ModuleType

from sinks.migrate import discover, run_statement
from sinks.schema import INPUTS, VIEWS, tables
from sinks.store import ServerStore, Store, check_identifier
from sinks.tables import TableDef, schema_migrations

log = logging.getLogger(__name__)

LOCAL_SUFFIX = "_local"
DEFAULT_ZK_PREFIX = "/clickhouse/tables/{shard}"
# Tables that feed materialized views get a Null input in front on the cluster: the sink inserts into
# `t_in` (Distributed over a Null `t_in_local`), whose views write `t_local` and the rollups. On
# ClickHouse 18.16 a block that the source table deduplicates is not pushed to its views, so with the
# views on `t_local`, an insert that reached `t_local` but failed in a view (one table still read-only
# after a ZooKeeper restart, seen in tests/cluster) would never reach the rollup on retry. From a Null
# input every target is pushed on every try and deduplicates (or stores) its own block.
FANOUT_SOURCES: frozenset[str] = frozenset(v.source for v in VIEWS) - {t.name for t in INPUTS}
INPUT_SUFFIX = "_in"
INSERT_TARGETS: dict[str, str] = {t: t + INPUT_SUFFIX for t in sorted(FANOUT_SOURCES)}
# 18.16 refuses `ALTER ... ON CLUSTER` of a table that is not replicated (a Distributed or Null table)
# on a cluster whose shards replicate (code 371): such a statement runs on each node in turn instead.
EVERY_NODE = "-- on every node of the cluster, one by one (no ON CLUSTER form on 18.16)\n"

_CREATE_TABLE = re.compile(
    r"^\s*CREATE TABLE IF NOT EXISTS (?P<db>\w+)\.(?P<name>\w+) \(\n(?P<cols>.*?)\n\) "
    r"ENGINE = (?P<engine>\w+)(?:\((?P<args>[^\n]*)\))?\n(?P<tail>.*?)\s*$",
    re.S,
)
_CREATE_VIEW = re.compile(r"^\s*CREATE MATERIALIZED VIEW IF NOT EXISTS (?P<db>\w+)\.(?P<name>\w+) TO ", re.S)
_ADD_COLUMN = re.compile(
    r"^\s*ALTER TABLE (?P<db>\w+)\.(?P<name>\w+) ADD COLUMN (?P<col>\w+) (?P<type>[^\n]+?)\s*$", re.S
)
_DROP_VIEW = re.compile(r"^\s*DROP TABLE IF EXISTS (?P<db>\w+)\.(?P<name>\w+)\s*$")


def shard_keys() -> dict[str, str]:
    return {t.name: t.shard_by for t in (*tables(), *INPUTS)}


def replicated_sql(t: TableDef, database: str, cluster: str, zk_prefix: str = DEFAULT_ZK_PREFIX) -> str:
    return _replicated(t.name, t.columns_sql(), t.engine, t.engine_args, t.tail_sql(), database, cluster, zk_prefix)


def _replicated(
    name: str, cols: str, engine: str, args: str, tail: str, database: str, cluster: str, zk_prefix: str
) -> str:
    local = name + LOCAL_SUFFIX
    zk = f"'{zk_prefix}/{database}/{local}', '{{replica}}'" + (f", {args}" if args else "")
    return (
        f"\nCREATE TABLE IF NOT EXISTS {database}.{local} ON CLUSTER {cluster} (\n{cols}\n)"
        f" ENGINE = Replicated{engine}({zk})\n{tail}\n"
    )


def _null(name: str, cols: str, database: str, cluster: str) -> str:
    return (
        f"\nCREATE TABLE IF NOT EXISTS {database}.{name}{LOCAL_SUFFIX} ON CLUSTER {cluster} "
        f"(\n{cols}\n) ENGINE = Null\n"
    )


def _distributed(name: str, database: str, cluster: str, key: str) -> str:
    local = name + LOCAL_SUFFIX
    return (
        f"\nCREATE TABLE IF NOT EXISTS {database}.{name} ON CLUSTER {cluster} AS {database}.{local}\n"
        f"ENGINE = Distributed({cluster}, {database}, {local}, {key})\n"
    )


def distributed_sql(t: TableDef, database: str, cluster: str) -> str:
    return _distributed(t.name, database, cluster, t.shard_by)


def _fan_view(name: str, columns: list[str], database: str, cluster: str) -> str:
    """The view that stores what the sink inserts into `t_in` in `t_local` (see FANOUT_SOURCES)."""
    return (
        f"\nCREATE MATERIALIZED VIEW IF NOT EXISTS {database}.{name}_fan ON CLUSTER {cluster} TO "
        f"{database}.{name}{LOCAL_SUFFIX} AS\nSELECT {', '.join(columns)} FROM {database}.{name}{INPUT_SUFFIX}{LOCAL_SUFFIX}\n"
    )


def _column_names(cols: str) -> list[str]:
    return [line.strip().split(" ", 1)[0] for line in cols.splitlines()]


def to_cluster(
    sql: str,
    database: str,
    cluster: str,
    zk_prefix: str = DEFAULT_ZK_PREFIX,
    local_tables: dict[str, list[str]] | None = None,
) -> list[str]:
    """The cluster form of one single-node statement. `local_tables` (grown here) maps the tables
    created so far to their columns: their references in a view become `t_local`, and a column added
    to a table that feeds views is passed on by its fan view, created again."""
    known = local_tables if local_tables is not None else {}
    m = _ADD_COLUMN.match(sql)
    if m:
        name, col, typ = m["name"], m["col"], m["type"]
        if name not in known:
            raise ValueError(f"ADD COLUMN to {name!r}, which no earlier migration created")
        known[name] = [*known[name], col]
        names = [name + LOCAL_SUFFIX, name]
        if name in FANOUT_SOURCES:
            names += [name + INPUT_SUFFIX + LOCAL_SUFFIX, name + INPUT_SUFFIX]
        out = [f"ALTER TABLE {database}.{name}{LOCAL_SUFFIX} ON CLUSTER {cluster} ADD COLUMN {col} {typ}"]
        out += [f"{EVERY_NODE}ALTER TABLE {database}.{t} ADD COLUMN {col} {typ}" for t in names[1:]]
        if name in FANOUT_SOURCES:
            out += [
                f"DROP TABLE IF EXISTS {database}.{name}_fan ON CLUSTER {cluster}",
                _fan_view(name, known[name], database, cluster),
            ]
        return out
    m = _DROP_VIEW.match(sql)
    if m:
        if m["name"] in known:
            raise ValueError(f"no cluster form for dropping the table {m['name']!r} (views only)")
        return [f"DROP TABLE IF EXISTS {database}.{m['name']} ON CLUSTER {cluster}"]
    m = _CREATE_TABLE.match(sql)
    if m:
        name = m["name"]
        key = shard_keys().get(name)
        if key is None or "rand()" in key:
            raise ValueError(f"table {name!r} has no deterministic sharding key (TableDef.shard_by)")
        known[name] = _column_names(m["cols"])
        if m["engine"] == "Null":
            local = _null(name, m["cols"], database, cluster)
        else:
            local = _replicated(
                name, m["cols"], m["engine"], m["args"] or "", m["tail"].strip(), database, cluster, zk_prefix
            )
        out = [local, _distributed(name, database, cluster, key)]
        if name in FANOUT_SOURCES:  # the sink's insert target and its view into t_local
            entry = name + INPUT_SUFFIX
            out += [
                _null(entry, m["cols"], database, cluster),
                f"\nCREATE TABLE IF NOT EXISTS {database}.{entry} ON CLUSTER {cluster} AS {database}.{entry}"
                f"{LOCAL_SUFFIX}\nENGINE = Distributed({cluster}, {database}, {entry}{LOCAL_SUFFIX}, {key})\n",
                _fan_view(name, known[name], database, cluster),
            ]
        return out
    m = _CREATE_VIEW.match(sql)
    if m:
        view = m["name"]
        head, _, body = re.sub(
            rf"\b{database}\.{view}\b", f"{database}.{view} ON CLUSTER {cluster}", sql, count=1
        ).partition(" AS\n")
        for t in sorted(known, key=len, reverse=True):
            head = re.sub(rf"\b{database}\.{t}\b", f"{database}.{t}{LOCAL_SUFFIX}", head)
            src = f"{t}{INPUT_SUFFIX}{LOCAL_SUFFIX}" if t in FANOUT_SOURCES else f"{t}{LOCAL_SUFFIX}"
            body = re.sub(rf"\b{database}\.{t}\b", f"{database}.{src}", body)
        return [f"{head} AS\n{body}"]
    raise ValueError(f"no cluster form for this migration statement: {sql.strip()[:120]}")


def _tables_before(mods: list[ModuleType], database: str, upto: int) -> dict[str, list[str]]:
    """Tables the migrations before version `upto` create, with their columns (views of later ones
    may read them, later ones may add columns)."""
    names: dict[str, list[str]] = {schema_migrations.TABLE: list(schema_migrations.COLUMNS)}
    for mod in mods:
        if mod.VERSION >= upto:
            break
        for sql in mod.statements(database):
            m = _CREATE_TABLE.match(sql)
            if m:
                names[m["name"]] = _column_names(m["cols"])
            m = _ADD_COLUMN.match(sql)
            if m and m["name"] in names:
                names[m["name"]].append(m["col"])
    return names


def migration_statements(
    mod: ModuleType,
    database: str,
    cluster: str,
    zk_prefix: str = DEFAULT_ZK_PREFIX,
    mods: list[ModuleType] | None = None,
) -> list[str]:
    """The cluster form of one migration's statements, in order."""
    known = _tables_before(mods if mods is not None else discover(), database, mod.VERSION)
    out: list[str] = []
    for sql in mod.statements(database):
        out.extend(to_cluster(sql, database, cluster, zk_prefix, known))
    return out


def bootstrap_statements(database: str, cluster: str, zk_prefix: str = DEFAULT_ZK_PREFIX) -> list[str]:
    """The database and the migrations ledger, before any migration."""
    check_identifier(database)
    check_identifier(cluster)
    return [
        f"CREATE DATABASE IF NOT EXISTS {database} ON CLUSTER {cluster}",
        *to_cluster(schema_migrations.create_sql(database), database, cluster, zk_prefix),
    ]


def cluster_ddl(database: str, cluster: str, zk_prefix: str = DEFAULT_ZK_PREFIX) -> list[str]:
    """Every statement `migrate_cluster` runs on an empty cluster, in order (for review/printing)."""
    mods = discover()
    out = bootstrap_statements(database, cluster, zk_prefix)
    for mod in mods:
        out.extend(migration_statements(mod, database, cluster, zk_prefix, mods))
    versions = ", ".join(f"({m.VERSION}, '{m.__name__.rsplit('.', 1)[1]}', now())" for m in mods)
    out.append(f"INSERT INTO {database}.{schema_migrations.TABLE} (version, name, applied_at) VALUES {versions}")
    return out


def migrate_cluster(store: Store, cluster: str, zk_prefix: str = DEFAULT_ZK_PREFIX) -> list[int]:
    """Apply pending migrations ON CLUSTER; return the versions applied now.

    Safe to re-run and to crash in: every statement is IF NOT EXISTS and a version is recorded
    after its statements. Run it from one process at a time (`edu-sink migrate`), like `migrate`.
    """
    db = store.database
    mods = discover()
    if _ledger_exists(store) and not _pending(store, mods):
        return []  # ON CLUSTER DDL waits for every node: a service starting while one is down must not
    for sql in bootstrap_statements(db, cluster, zk_prefix):
        store.command(sql)
    done = {int(r[0]) for r in store.query(schema_migrations.APPLIED.format(db=db))}
    applied: list[int] = []
    for mod in mods:
        if mod.VERSION in done:
            continue
        for sql in migration_statements(mod, db, cluster, zk_prefix, mods):
            run_cluster_statement(store, cluster, sql)
        store.insert(
            schema_migrations.TABLE,
            ("version", "name", "applied_at"),
            [(mod.VERSION, mod.__name__.rsplit(".", 1)[1], int(time.time()))],
        )
        log.info("applied migration %04d %s on cluster %s", mod.VERSION, mod.__name__, cluster)
        applied.append(mod.VERSION)
    return applied


def run_cluster_statement(store: Store, cluster: str, sql: str) -> None:
    """Run one statement of a cluster migration: ON CLUSTER as written, or EVERY_NODE on each node."""
    if not sql.startswith(EVERY_NODE):
        run_statement(store, sql)
        return
    if not isinstance(store, ServerStore):
        raise TypeError("a cluster migration runs on a ClickHouse server")
    for node in store.node_stores(cluster):
        try:
            run_statement(node, sql[len(EVERY_NODE) :])
        finally:
            node.close()


def _ledger_exists(store: Store) -> bool:
    rows = store.query(
        "SELECT count() FROM system.tables WHERE database = %(db)s AND name = %(t)s",
        {"db": store.database, "t": schema_migrations.TABLE},
    )
    return bool(rows[0][0])


def _pending(store: Store, mods: list[ModuleType]) -> list[int]:
    done = {int(r[0]) for r in store.query(schema_migrations.APPLIED.format(db=store.database))}
    return [m.VERSION for m in mods if m.VERSION not in done]
