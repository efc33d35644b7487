"""`countries_minute`: events of users abroad per minute × platform × ISO 3166-1 country.

Queries: `countries_between` (events by country over a range, for the cockpit's abroad panel) scans
`minute`, the first key, grouped by country.
"""

from __future__ import annotations

from typing import Final

from contracts.geo import PLATFORM_ENUM8
from sinks.tables import BLOCK_TAG, BLOCK_TAG_COLUMN, Retention, TableDef

TABLE = "countries_minute"
COLUMNS = ("minute", "platform", "country", "events")
DEFINITION: Final = TableDef(
    name=TABLE,
    columns=(
        ("minute", "DateTime('Asia/Shanghai')"),
        ("platform", PLATFORM_ENUM8),
        ("country", "String"),
        ("events", "UInt64"),
        BLOCK_TAG_COLUMN,
    ),
    engine="SummingMergeTree",
    engine_args="(events)",
    partition_by="toYYYYMMDD(minute)",
    order_by="(minute, platform, country)",
    shard_by="cityHash64(country)",
)
RETENTION: Final = Retention("retention_minute_days", 90, "day")
assert DEFINITION.column_names == (*COLUMNS, BLOCK_TAG)


def create_sql(database: str) -> str:
    return DEFINITION.create_sql(database)


COUNTRIES_BETWEEN = f"""
SELECT country, sum(events) AS n FROM {{db}}.{TABLE}
WHERE minute >= toDateTime(%(start)s) AND minute < toDateTime(%(end)s)
GROUP BY country ORDER BY n DESC, country LIMIT %(limit)s
"""
QUERIES: Final[dict[str, str]] = {"countries_between": COUNTRIES_BETWEEN}
