"""`clicks_minute`: clicks per event-time minute × platform × province × section × action.

Written by the sink from the workers' rate batches (partial sums; SummingMergeTree folds them), so
readers always `sum(clicks)` with GROUP BY. An insert also feeds `clicks_hour` (`clicks_hour_mv`).

Queries that justify the layout (all in `QUERIES` below, each tested on both engines):
- `latest_minute`: the cockpit's event-time "now", from the latest day's partition only;
- `per_minute_national`, `series`, `total_between`, `total_by_*`: a range on `minute`, the first key;
- `by_platform_province`, `province_per_minute`: one range, then `platform, province`, the next keys.
Reports over days read `clicks_hour`. Partition by Beijing day: retention drops whole days.
"""

from __future__ import annotations

from typing import Final

from contracts.beijing import TZ_NAME
from contracts.geo import ACTION_ENUM8, PLATFORM_ENUM8, PROVINCE_ENUM8, SECTION_ENUM8
from sinks.tables import BLOCK_TAG, BLOCK_TAG_COLUMN, Retention, TableDef

TABLE = "clicks_minute"
TIMEZONE = TZ_NAME
COLUMNS = ("minute", "platform", "province", "section", "action", "clicks")

DEFINITION: Final = TableDef(
    name=TABLE,
    columns=(
        ("minute", f"DateTime('{TIMEZONE}')"),
        ("platform", PLATFORM_ENUM8),
        ("province", PROVINCE_ENUM8),
        ("section", SECTION_ENUM8),
        ("action", ACTION_ENUM8),
        ("clicks", "UInt64"),
        BLOCK_TAG_COLUMN,
    ),
    engine="SummingMergeTree",
    engine_args="(clicks)",
    partition_by="toYYYYMMDD(minute)",
    order_by="(minute, platform, province, section, action)",
    shard_by="cityHash64(toString(province), toString(platform))",
)
RETENTION: Final = Retention("retention_minute_days", 90, "day")
assert DEFINITION.column_names == (*COLUMNS, BLOCK_TAG)


def create_sql(database: str) -> str:
    return DEFINITION.create_sql(database)


# Named queries over this table (parameters: epoch seconds `start`, `end`, half-open range).
PER_MINUTE_NATIONAL = f"""
SELECT toUInt32(minute) AS ts, sum(clicks) AS clicks
FROM {{db}}.{TABLE}
WHERE minute >= toDateTime(%(start)s) AND minute < toDateTime(%(end)s)
GROUP BY minute ORDER BY minute
"""

BY_PLATFORM_PROVINCE = f"""
SELECT toUInt32(minute) AS ts, toString(platform) AS platform, toString(province) AS province,
       sum(clicks) AS clicks
FROM {{db}}.{TABLE}
WHERE minute >= toDateTime(%(start)s) AND minute < toDateTime(%(end)s)
GROUP BY minute, platform, province ORDER BY minute, platform, province
"""

# The latest minute, and the rows of its day (non-zero iff the table holds anything). Reads only
# the latest day's partition, found in system.parts: ClickHouse 18.16 would otherwise scan every
# minute ever stored (~300 ms for 30 days); chDB answers either form from part metadata. On the
# cluster `clicks_minute` is Distributed and holds no parts: the bound comes from this node's shard
# (`clicks_minute_local`), a lower bound of the latest day on every shard, so the answer is the same.
LATEST_MINUTE = f"""
SELECT toUInt32(max(minute)), count() FROM {{db}}.{TABLE}
WHERE toYYYYMMDD(minute) >= (SELECT max(toUInt32(partition)) FROM system.parts
                             WHERE database = '{{db}}' AND table IN ('{TABLE}', '{TABLE}_local') AND active)
"""

# Filterable templates: `{where}` takes optional ` AND platform = %(platform)s` / ` AND province =
# %(province)s` (see `sinks.queries.sql`); values are always bound, never pasted.
_RANGE = "minute >= toDateTime(%(start)s) AND minute < toDateTime(%(end)s)"

TOTAL_BETWEEN_FILTERED = f"SELECT sum(clicks) FROM {{db}}.{TABLE} WHERE {_RANGE}{{where}}"

# Buckets of `step` seconds (a divisor of an hour, or a whole number of hours: UTC+8 is a whole
# number of hours, so hour buckets are Beijing hours); buckets without rows are absent.
SERIES = f"""
SELECT intDiv(toUInt32(minute), %(step)s) * %(step)s AS ts, sum(clicks) AS clicks
FROM {{db}}.{TABLE} WHERE {_RANGE}{{where}}
GROUP BY ts ORDER BY ts
"""

TOTAL_BY_PLATFORM = f"""
SELECT toString(platform) AS code, sum(clicks) AS total
FROM {{db}}.{TABLE} WHERE {_RANGE}{{where}} GROUP BY platform
"""

TOTAL_BY_PROVINCE = f"""
SELECT toString(province) AS code, sum(clicks) AS total
FROM {{db}}.{TABLE} WHERE {_RANGE}{{where}} GROUP BY province
"""

TOTAL_BY_SECTION = f"""
SELECT toString(section) AS code, sum(clicks) AS total
FROM {{db}}.{TABLE} WHERE {_RANGE}{{where}} GROUP BY section
"""

# One province (`province`: its GB/T 2260 code, or 'abroad') per minute and platform.
PROVINCE_PER_MINUTE = f"""
SELECT toUInt32(minute) AS ts, toString(platform) AS platform, sum(clicks) AS clicks
FROM {{db}}.{TABLE}
WHERE minute >= toDateTime(%(start)s) AND minute < toDateTime(%(end)s) AND province = %(province)s
GROUP BY minute, platform ORDER BY minute, platform
"""

QUERIES: Final[dict[str, str]] = {
    "latest_minute": LATEST_MINUTE,
    "per_minute_national": PER_MINUTE_NATIONAL,
    "series": SERIES,
    "total_between": TOTAL_BETWEEN_FILTERED,
    "by_platform_province": BY_PLATFORM_PROVINCE,
    "total_by_platform": TOTAL_BY_PLATFORM,
    "total_by_province": TOTAL_BY_PROVINCE,
    "total_by_section": TOTAL_BY_SECTION,
    "province_per_minute": PROVINCE_PER_MINUTE,
}
