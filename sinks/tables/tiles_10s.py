"""`tiles_10s`: clicks per 10 seconds of event time × platform, for the live national tiles.

Queries: `tiles_recent` (the last few minutes before the cockpit's "now", by platform) is a range
scan on `ts`, the first key. Kept a week: the tiles only ever show the last minutes.
"""

from __future__ import annotations

from typing import Final

from contracts.geo import PLATFORM_ENUM8
from sinks.tables import BLOCK_TAG, BLOCK_TAG_COLUMN, Retention, TableDef

TABLE = "tiles_10s"
COLUMNS = ("ts", "platform", "clicks")
DEFINITION: Final = TableDef(
    name=TABLE,
    columns=(("ts", "DateTime('Asia/Shanghai')"), ("platform", PLATFORM_ENUM8), ("clicks", "UInt64"), BLOCK_TAG_COLUMN),
    engine="SummingMergeTree",
    engine_args="(clicks)",
    partition_by="toYYYYMMDD(ts)",
    order_by="(ts, platform)",
    shard_by="cityHash64(toString(platform))",
)
RETENTION: Final = Retention("retention_tiles_days", 7, "day")
assert DEFINITION.column_names == (*COLUMNS, BLOCK_TAG)


def create_sql(database: str) -> str:
    return DEFINITION.create_sql(database)


TILES_RECENT = f"""
SELECT toUInt32(ts), toString(platform), sum(clicks) FROM {{db}}.{TABLE}
WHERE ts >= toDateTime(%(start)s) AND ts < toDateTime(%(end)s)
GROUP BY ts, platform ORDER BY ts, platform
"""
QUERIES: Final[dict[str, str]] = {"tiles_recent": TILES_RECENT}
