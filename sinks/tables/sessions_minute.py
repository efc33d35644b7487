"""`sessions_minute`: session starts, ends, heartbeats and the duration histogram of ended sessions,
per minute × platform × province (duration buckets: <1, 1-5, 5-15, 15-30, 30-60, >=60 minutes).

Queries: `sessions_between` (totals and duration histogram over a range) scans `minute`, the first
key; the province page adds `province`, the third. Partitioned by Beijing day for retention.
"""

from __future__ import annotations

from typing import Final

from contracts.geo import PLATFORM_ENUM8, PROVINCE_ENUM8
from sinks.tables import BLOCK_TAG, BLOCK_TAG_COLUMN, Retention, TableDef

TABLE = "sessions_minute"
COUNTS = ("started", "ended", "heartbeats", "d_lt_1m", "d_1_5m", "d_5_15m", "d_15_30m", "d_30_60m", "d_ge_60m")
COLUMNS = ("minute", "platform", "province", *COUNTS, "duration_s")
DEFINITION: Final = TableDef(
    name=TABLE,
    columns=(
        ("minute", "DateTime('Asia/Shanghai')"),
        ("platform", PLATFORM_ENUM8),
        ("province", PROVINCE_ENUM8),
        *((c, "UInt64") for c in COUNTS),
        ("duration_s", "Float64"),
        BLOCK_TAG_COLUMN,
    ),
    engine="SummingMergeTree",
    engine_args=f"(({', '.join(COUNTS)}, duration_s))",
    partition_by="toYYYYMMDD(minute)",
    order_by="(minute, platform, province)",
    shard_by="cityHash64(toString(province), toString(platform))",
)
RETENTION: Final = Retention("retention_minute_days", 90, "day")
assert DEFINITION.column_names == (*COLUMNS, BLOCK_TAG)


def create_sql(database: str) -> str:
    return DEFINITION.create_sql(database)


SESSIONS_BETWEEN = f"""
SELECT {", ".join(f"sum({c})" for c in COUNTS)}, sum(duration_s) FROM {{db}}.{TABLE}
WHERE minute >= toDateTime(%(start)s) AND minute < toDateTime(%(end)s)
"""
QUERIES: Final[dict[str, str]] = {"sessions_between": SESSIONS_BETWEEN}
