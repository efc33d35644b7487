"""Hourly rollup `clicks_hour` (fed by a materialized view) and the dead-letter ledger `rejects_minute`.

Data step: minutes stored before this migration are rolled up once, before the view exists, and only
while `clicks_hour` is empty, so a re-run after a crash never counts them twice. Run it as every
migration runs, before the sink consumes (`edu-sink` and `edu-cockpit` migrate at start).
"""
from __future__ import annotations

from sinks.store import Store
from sinks.tables import clicks_hour, clicks_minute, rejects_minute

VERSION = 2


def statements(database: str) -> list[str]:
    """The DDL of this migration, in order (the backfill runs between the tables and the view)."""
    return [
        clicks_hour.create_sql(database),
        rejects_minute.create_sql(database),
        clicks_hour.view_sql(database),
    ]


def apply(store: Store) -> None:
    db = store.database
    store.command(clicks_hour.create_sql(db))
    store.command(rejects_minute.create_sql(db))
    views = store.query("SELECT count() FROM system.tables WHERE database = %(db)s AND name = %(name)s",
                        {"db": db, "name": clicks_hour.VIEW.name})
    if not views[0][0]:
        rolled = store.query(f"SELECT count() FROM {db}.{clicks_hour.TABLE}")[0][0]
        minutes = store.query(f"SELECT count() FROM {db}.{clicks_minute.TABLE}")[0][0]
        if minutes and not rolled:
            store.command(clicks_hour.backfill_sql(db))
    store.command(clicks_hour.view_sql(db))
