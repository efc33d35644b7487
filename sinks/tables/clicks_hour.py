"""`clicks_hour`: the hourly rollup of `clicks_minute` (without `action`), kept far longer.

Fed by the materialized view `clicks_hour_mv` on every insert into `clicks_minute`, so it has no
writer of its own and outlives the minute table's retention; 30 days are ~0.9 M rows against ~50 M.

Queries that justify the layout (ranges of whole hours, `hour` the first key):
- `daily_totals`, `daily_by_province`: the daily report and its growth table;
- `hourly_by_platform`: the per-hour curve by platform over days or weeks;
- `series_hours`: the cockpit's hour-bucket lines and their seasonal band.
Partition by Beijing month: two years stay at ~24 partitions, and retention drops whole months.
"""

from __future__ import annotations

from typing import Final

from contracts.geo import PLATFORM_ENUM8, PROVINCE_ENUM8, SECTION_ENUM8
from sinks.tables import BLOCK_TAG, BLOCK_TAG_COLUMN, Retention, TableDef, ViewDef, clicks_minute

TABLE = "clicks_hour"
COLUMNS = ("hour", "platform", "province", "section", "clicks")

DEFINITION: Final = TableDef(
    name=TABLE,
    columns=(
        ("hour", f"DateTime('{clicks_minute.TIMEZONE}')"),
        ("platform", PLATFORM_ENUM8),
        ("province", PROVINCE_ENUM8),
        ("section", SECTION_ENUM8),
        ("clicks", "UInt64"),
        BLOCK_TAG_COLUMN,
    ),
    engine="SummingMergeTree",
    engine_args="(clicks)",
    partition_by="toYYYYMM(hour)",
    order_by="(hour, platform, province, section)",
    shard_by="cityHash64(toString(province), toString(platform))",
)
RETENTION: Final = Retention("retention_hour_days", 730, "month")
assert DEFINITION.column_names == (*COLUMNS, BLOCK_TAG)

_ROLLUP = """
SELECT toStartOfHour(minute) AS hour, platform, province, section, sum(clicks) AS clicks, max(block_tag) AS block_tag
FROM {source}
GROUP BY hour, platform, province, section
"""

VIEW: Final = ViewDef(name="clicks_hour_mv", source=clicks_minute.TABLE, target=TABLE, select=_ROLLUP)


def create_sql(database: str) -> str:
    return DEFINITION.create_sql(database)


def view_sql(database: str) -> str:
    return VIEW.create_sql(database)


# Daily totals per province, optionally for one platform (`{where}`): the report's growth table sums
# them over each period, so the minute table's retention never shortens a comparison.
DAILY_BY_PROVINCE = f"""
SELECT toYYYYMMDD(hour) AS day, toString(province) AS province, sum(clicks) AS clicks
FROM {{db}}.{TABLE}
WHERE hour >= toDateTime(%(start)s) AND hour < toDateTime(%(end)s){{where}}
GROUP BY day, province ORDER BY day, province
"""

# Totals per Beijing day, optionally for one platform or province (`{where}`, see sinks.queries):
# the cockpit's daily report. Equal to the same sum over `clicks_minute` for day-aligned ranges,
# and still there after the minute table's retention dropped those days.
DAILY_TOTALS = f"""
SELECT toYYYYMMDD(hour) AS day, sum(clicks) AS total
FROM {{db}}.{TABLE}
WHERE hour >= toDateTime(%(start)s) AND hour < toDateTime(%(end)s){{where}}
GROUP BY day ORDER BY day
"""

HOURLY_BY_PLATFORM = f"""
SELECT toUInt32(hour) AS ts, toString(platform) AS platform, sum(clicks) AS clicks
FROM {{db}}.{TABLE}
WHERE hour >= toDateTime(%(start)s) AND hour < toDateTime(%(end)s)
GROUP BY hour, platform ORDER BY hour, platform
"""

# Buckets of `step` seconds, a whole number of hours (UTC+8 is whole hours, so they are Beijing
# hours), optionally for one platform or province: the cockpit's lines over days (the 7-day view
# and its seasonal band read ~170 hour rows a week here, not ~10,000 minute rows).
SERIES_HOURS = f"""
SELECT intDiv(toUInt32(hour), %(step)s) * %(step)s AS ts, sum(clicks) AS clicks
FROM {{db}}.{TABLE}
WHERE hour >= toDateTime(%(start)s) AND hour < toDateTime(%(end)s){{where}}
GROUP BY ts ORDER BY ts
"""

QUERIES: Final[dict[str, str]] = {
    "series_hours": SERIES_HOURS,
    "daily_totals": DAILY_TOTALS,
    "daily_by_province": DAILY_BY_PROVINCE,
    "hourly_by_platform": HOURLY_BY_PLATFORM,
}

# Totals over whole hours, optionally for one platform or province (`sinks/rollups.py` reads the
# whole hours of a range here and only the ragged minutes from `clicks_minute`).
_HOURS = "hour >= toDateTime(%(start)s) AND hour < toDateTime(%(end)s)"
QUERIES.update(
    {
        "total_between_hours": f"SELECT sum(clicks) FROM {{db}}.{TABLE} WHERE {_HOURS}{{where}}",
        **{
            f"total_by_{col}_hours": (
                f"SELECT toString({col}) AS code, sum(clicks) AS total FROM {{db}}.{TABLE} "
                f"WHERE {_HOURS}{{where}} GROUP BY {col}"
            )
            for col in ("platform", "province", "section")
        },
    }
)
