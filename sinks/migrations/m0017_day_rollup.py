"""Daily rollup `clicks_day` (fed by a materialized view on `clicks_minute`), issue 17.

Numbered 17 after its issue so parallel branches do not collide on a version. Data step: the days
already in `clicks_hour` (which outlives the minute table) are rolled up once, before the view
exists and only while `clicks_day` is empty, so a re-run after a crash never counts them twice.
"""
from __future__ import annotations

from sinks.store import Store
from sinks.tables import clicks_day

VERSION = 17


def statements(database: str) -> list[str]:
    return [clicks_day.create_sql(database), clicks_day.view_sql(database)]


def apply(store: Store) -> None:
    db = store.database
    store.command(clicks_day.create_sql(db))
    views = store.query("SELECT count() FROM system.tables WHERE database = %(db)s AND name = %(name)s",
                        {"db": db, "name": clicks_day.VIEW.name})
    if not views[0][0]:
        rolled = store.query(f"SELECT count() FROM {db}.{clicks_day.TABLE}")[0][0]
        hours = store.query(f"SELECT count() FROM {db}.clicks_hour")[0][0]
        if hours and not rolled:
            store.command(clicks_day.backfill_sql(db))
    store.command(clicks_day.view_sql(db))
