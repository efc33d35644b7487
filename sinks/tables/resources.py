"""`resources`: the platform's resource catalogue (id -> platform, section, sub-column, title).

A dimension table, loaded by `edu-sink resources load FILE` from CSV or JSONL (the platform's own
catalogue, or the simulator's through `edu-simulate catalogue`); the cockpit reads titles from it
and never from the simulator. Reloading is harmless: ReplacingMergeTree keeps the newest row per
id and the query takes `argMax(..., loaded_at)` anyway. No retention: a catalogue is small.

Query: `resource_titles` (titles of the given ids): a lookup on `resource`, the only key.
"""

from __future__ import annotations

from typing import Final

from contracts.beijing import TZ_NAME
from contracts.geo import PLATFORM_ENUM8, SECTION_ENUM8
from sinks.tables import TableDef

TABLE = "resources"
COLUMNS = ("resource", "platform", "section", "subcolumn", "title", "loaded_at")
DEFINITION: Final = TableDef(
    name=TABLE,
    columns=(
        ("resource", "String"),
        ("platform", PLATFORM_ENUM8),
        ("section", SECTION_ENUM8),
        ("subcolumn", "String"),
        ("title", "String"),
        ("loaded_at", f"DateTime('{TZ_NAME}')"),
    ),
    engine="ReplacingMergeTree",
    engine_args="loaded_at",
    order_by="resource",
    shard_by="cityHash64(resource)",
)


def create_sql(database: str) -> str:
    return DEFINITION.create_sql(database)


RESOURCE_TITLES = f"""
SELECT resource, argMax(title, loaded_at) FROM {{db}}.{TABLE}
WHERE resource IN %(ids)s
GROUP BY resource ORDER BY resource
"""
QUERIES: Final[dict[str, str]] = {"resource_titles": RESOURCE_TITLES}
