"""`resources_minute`: views, plays and downloads per minute × platform × resource.

Queries: `top_resources` (the most viewed resources over a range, optionally one platform): a
range scan on `minute`, grouped by resource; `resource_series` (one resource over a range) scans
the same range and filters `platform, resource`, the next keys. Partitioned by Beijing day for
retention (30 days by default: the heaviest table, one row per active resource per minute).
"""

from __future__ import annotations

from typing import Final

from contracts.geo import PLATFORM_ENUM8, SECTION_ENUM8
from sinks.tables import BLOCK_TAG, BLOCK_TAG_COLUMN, Retention, TableDef

TABLE = "resources_minute"
COLUMNS = ("minute", "platform", "resource", "section", "views", "plays", "downloads")
DEFINITION: Final = TableDef(
    name=TABLE,
    columns=(
        ("minute", "DateTime('Asia/Shanghai')"),
        ("platform", PLATFORM_ENUM8),
        ("resource", "String"),
        ("section", SECTION_ENUM8),
        ("views", "UInt64"),
        ("plays", "UInt64"),
        ("downloads", "UInt64"),
        BLOCK_TAG_COLUMN,
    ),
    engine="SummingMergeTree",
    engine_args="((views, plays, downloads))",
    partition_by="toYYYYMMDD(minute)",
    order_by="(minute, platform, resource, section)",
    shard_by="cityHash64(resource)",
)
RETENTION: Final = Retention("retention_resources_days", 30, "day")
assert DEFINITION.column_names == (*COLUMNS, BLOCK_TAG)


def create_sql(database: str) -> str:
    return DEFINITION.create_sql(database)


TOP_RESOURCES = f"""
SELECT toString(platform), resource, toString(any(section)), sum(views) AS v, sum(plays), sum(downloads)
FROM {{db}}.{TABLE}
WHERE minute >= toDateTime(%(start)s) AND minute < toDateTime(%(end)s)
GROUP BY platform, resource ORDER BY v + 0 DESC, resource LIMIT %(limit)s
"""
QUERIES: Final[dict[str, str]] = {"top_resources": TOP_RESOURCES}
