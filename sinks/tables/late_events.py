"""`late_events`: events that arrived after their minute's allowed lateness, per minute and key.

They are kept out of `clicks_minute` (whose minutes the alerts have already judged) but never lost:
the sum of both tables equals what was sent. Queried by minute range (`late_total_between`: today's
late events on the cockpit), like `clicks_minute`, hence ORDER BY `minute` first and one partition
per Beijing day, which retention drops whole.
"""

from __future__ import annotations

from typing import Final

from contracts.geo import PLATFORM_ENUM8, PROVINCE_ENUM8
from sinks.tables import BLOCK_TAG, BLOCK_TAG_COLUMN, Retention, TableDef

TABLE = "late_events"
COLUMNS = ("minute", "platform", "province", "events")

DEFINITION: Final = TableDef(
    name=TABLE,
    columns=(
        ("minute", "DateTime('Asia/Shanghai')"),
        ("platform", PLATFORM_ENUM8),
        ("province", PROVINCE_ENUM8),
        ("events", "UInt64"),
        BLOCK_TAG_COLUMN,
    ),
    engine="SummingMergeTree",
    engine_args="(events)",
    partition_by="toYYYYMMDD(minute)",
    order_by="(minute, platform, province)",
    shard_by="cityHash64(toString(province), toString(platform))",
)
RETENTION: Final = Retention("retention_late_days", 90, "day")
assert DEFINITION.column_names == (*COLUMNS, BLOCK_TAG)


def create_sql(database: str) -> str:
    return DEFINITION.create_sql(database)


# With `{where}` for the optional platform / province filters (`sinks.queries.sql`).
TOTAL_BETWEEN_FILTERED = f"""
SELECT sum(events) FROM {{db}}.{TABLE}
WHERE minute >= toDateTime(%(start)s) AND minute < toDateTime(%(end)s){{where}}
"""

QUERIES: Final[dict[str, str]] = {"late_total_between": TOTAL_BETWEEN_FILTERED}
