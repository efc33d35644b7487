"""Run the numbered migrations that have not run yet; called by `edu-sink migrate` and at start.

A migration module has `VERSION` and `statements(database)` (idempotent DDL); one that also moves
data defines `apply(store)`, which then runs instead of the statements and checks state itself.
"""

from __future__ import annotations

import importlib
import logging
import pkgutil
import re
import time
from types import ModuleType

from sinks import migrations
from sinks.store import Store
from sinks.tables import schema_migrations

log = logging.getLogger(__name__)


def discover() -> list[ModuleType]:
    """All migration modules, ordered by VERSION; duplicate versions are a bug caught here."""
    mods = [
        importlib.import_module(f"{migrations.__name__}.{info.name}")
        for info in pkgutil.iter_modules(migrations.__path__)
        if info.name.startswith("m") and info.name[1:5].isdigit()
    ]
    mods.sort(key=lambda m: m.VERSION)
    versions = [m.VERSION for m in mods]
    if len(set(versions)) != len(versions):
        raise RuntimeError(f"duplicate migration versions: {versions}")
    return mods


# 18.16 has no `ADD COLUMN IF NOT EXISTS`: a migration's ADD COLUMN is skipped where the column exists,
# so a migration re-run after a crash half-way is harmless (on a cluster the ON CLUSTER form, checked
# on the node this store talks to: the DDL queue applies a submitted task on every node).
_ADD_COLUMN = re.compile(r"^\s*ALTER TABLE (\w+)\.(\w+)(?: ON CLUSTER \w+)? ADD COLUMN (\w+) ")


def run_statement(store: Store, sql: str) -> None:
    """Run one migration statement, idempotently (see `_ADD_COLUMN`)."""
    m = _ADD_COLUMN.match(sql)
    if m:
        found = store.query(
            "SELECT count() FROM system.columns WHERE database = %(db)s AND table = %(t)s AND name = %(c)s",
            {"db": m[1], "t": m[2], "c": m[3]},
        )
        if found[0][0]:
            log.info("column %s.%s.%s exists: skipped", m[1], m[2], m[3])
            return
    store.command(sql)


def applied_versions(store: Store) -> list[int]:
    """Versions recorded in the store, ascending (empty if it was never migrated)."""
    exists = store.query(
        "SELECT count() FROM system.tables WHERE database = %(db)s AND name = %(t)s",
        {"db": store.database, "t": schema_migrations.TABLE},
    )
    if not exists[0][0]:
        return []
    return [int(v) for (v,) in store.query(schema_migrations.APPLIED.format(db=store.database))]


def migrate(store: Store, cluster: str = "") -> list[int]:
    """Apply pending migrations in order; return the versions applied now. With `cluster` (the
    setting `clickhouse_cluster`) they are applied ON CLUSTER in their replicated form (sinks/cluster.py)."""
    if cluster:
        from sinks.cluster import migrate_cluster

        return migrate_cluster(store, cluster)
    db = store.database
    store.command(schema_migrations.create_sql(db))
    done = {row[0] for row in store.query(schema_migrations.APPLIED.format(db=db))}
    applied: list[int] = []
    for mod in discover():
        if mod.VERSION in done:
            continue
        if hasattr(mod, "apply"):
            mod.apply(store)
        else:
            for sql in mod.statements(db):
                run_statement(store, sql)
        store.insert(
            schema_migrations.TABLE,
            ("version", "name", "applied_at"),
            [(mod.VERSION, mod.__name__.rsplit(".", 1)[1], int(time.time()))],
        )
        log.info("applied migration %04d %s", mod.VERSION, mod.__name__)
        applied.append(mod.VERSION)
    return applied
