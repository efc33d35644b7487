"""`clicks_day`: the daily rollup of `clicks_minute` (without `action`), kept for years.

Fed by the materialized view `clicks_day_mv` on every insert into `clicks_minute`, like
`clicks_hour`. A year is ~0.6 M rows at full spread (365 days x 4 platforms x 35 divisions x 12
sections), against ~19 M in `clicks_hour` and ~180 M minute rows: ranges of whole Beijing days
read this table (`sinks/rollups.py` splits a range into days, hours and minutes).

Queries that justify the layout: `series_days`, `total_between_days`, `total_by_platform_days`,
`total_by_province_days`, `total_by_section_days`; all a range on `day`, the first key, optionally
for one platform or province. Partition by Beijing month: a year is 12 partitions; retention drops a
month once its last day has expired.
"""

from __future__ import annotations

from typing import Final

from contracts.geo import PLATFORM_ENUM8, PROVINCE_ENUM8, SECTION_ENUM8
from sinks.tables import BLOCK_TAG, BLOCK_TAG_COLUMN, Retention, TableDef, ViewDef, clicks_minute

TABLE = "clicks_day"
COLUMNS = ("day", "platform", "province", "section", "clicks")

DEFINITION: Final = TableDef(
    name=TABLE,
    columns=(
        ("day", f"DateTime('{clicks_minute.TIMEZONE}')"),
        ("platform", PLATFORM_ENUM8),
        ("province", PROVINCE_ENUM8),
        ("section", SECTION_ENUM8),
        ("clicks", "UInt64"),
        BLOCK_TAG_COLUMN,
    ),
    engine="SummingMergeTree",
    engine_args="(clicks)",
    partition_by="toYYYYMM(day)",
    order_by="(day, platform, province, section)",
    shard_by="cityHash64(toString(province), toString(platform))",
)
RETENTION: Final = Retention("retention_day_days", 1830, "month")
assert DEFINITION.column_names == (*COLUMNS, BLOCK_TAG)

# toStartOfDay of a DateTime('Asia/Shanghai') column is Beijing midnight on both engines.
_ROLLUP = """
SELECT toStartOfDay(minute) AS day, platform, province, section, sum(clicks) AS clicks, max(block_tag) AS block_tag
FROM {source}
GROUP BY day, platform, province, section
"""

VIEW: Final = ViewDef(name="clicks_day_mv", source=clicks_minute.TABLE, target=TABLE, select=_ROLLUP)


def create_sql(database: str) -> str:
    return DEFINITION.create_sql(database)


def view_sql(database: str) -> str:
    return VIEW.create_sql(database)


_RANGE = "day >= toDateTime(%(start)s) AND day < toDateTime(%(end)s)"

# One bucket per Beijing day: `ts` is its midnight (epoch seconds).
SERIES_DAYS = f"""
SELECT toUInt32(day) AS ts, sum(clicks) AS clicks
FROM {{db}}.{TABLE} WHERE {_RANGE}{{where}}
GROUP BY day ORDER BY day
"""

TOTAL_BETWEEN_DAYS = f"SELECT sum(clicks) FROM {{db}}.{TABLE} WHERE {_RANGE}{{where}}"

TOTAL_BY_PLATFORM_DAYS = f"""
SELECT toString(platform) AS code, sum(clicks) AS total
FROM {{db}}.{TABLE} WHERE {_RANGE}{{where}} GROUP BY platform
"""

TOTAL_BY_PROVINCE_DAYS = f"""
SELECT toString(province) AS code, sum(clicks) AS total
FROM {{db}}.{TABLE} WHERE {_RANGE}{{where}} GROUP BY province
"""

TOTAL_BY_SECTION_DAYS = f"""
SELECT toString(section) AS code, sum(clicks) AS total
FROM {{db}}.{TABLE} WHERE {_RANGE}{{where}} GROUP BY section
"""

QUERIES: Final[dict[str, str]] = {
    "series_days": SERIES_DAYS,
    "total_between_days": TOTAL_BETWEEN_DAYS,
    "total_by_platform_days": TOTAL_BY_PLATFORM_DAYS,
    "total_by_province_days": TOTAL_BY_PROVINCE_DAYS,
    "total_by_section_days": TOTAL_BY_SECTION_DAYS,
}
