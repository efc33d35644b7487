"""`clicks_minute`: clicks per event-time minute × platform × province × section × action.

Written by the sink from the workers' rate batches (partial sums; SummingMergeTree folds them).
Readers always `sum(clicks)` with GROUP BY, because rows of one key may not be merged yet.

Queries that justify the layout:
- national events per minute over a time range, today's total (range scan on `minute`, the first key);
- one province over a range, by platform or section (`minute` range, then `platform, province`);
- daily totals per province for reports (partition pruning by day).
Partition by Beijing day: retention drops whole days, and day-bounded queries prune partitions.
"""
from __future__ import annotations

from contracts.geo import ACTION_ENUM8, PLATFORM_ENUM8, PROVINCE_ENUM8, SECTION_ENUM8

TABLE = "clicks_minute"
TIMEZONE = "Asia/Shanghai"
COLUMNS = ("minute", "platform", "province", "section", "action", "clicks")


def create_sql(database: str) -> str:
    return f"""
CREATE TABLE IF NOT EXISTS {database}.{TABLE} (
    minute DateTime('{TIMEZONE}'),
    platform {PLATFORM_ENUM8},
    province {PROVINCE_ENUM8},
    section {SECTION_ENUM8},
    action {ACTION_ENUM8},
    clicks UInt64
) ENGINE = SummingMergeTree((clicks))
PARTITION BY toYYYYMMDD(minute)
ORDER BY (minute, platform, province, section, action)
"""


# Named queries over this table (parameters: epoch seconds `start`, `end`, half-open range).
PER_MINUTE_NATIONAL = f"""
SELECT toUInt32(minute) AS ts, sum(clicks) AS clicks
FROM {{db}}.{TABLE}
WHERE minute >= toDateTime(%(start)s) AND minute < toDateTime(%(end)s)
GROUP BY minute ORDER BY minute
"""

TOTAL_BETWEEN = f"""
SELECT sum(clicks) FROM {{db}}.{TABLE}
WHERE minute >= toDateTime(%(start)s) AND minute < toDateTime(%(end)s)
"""

BY_PLATFORM_PROVINCE = f"""
SELECT toUInt32(minute) AS ts, toString(platform) AS platform, toString(province) AS province,
       sum(clicks) AS clicks
FROM {{db}}.{TABLE}
WHERE minute >= toDateTime(%(start)s) AND minute < toDateTime(%(end)s)
GROUP BY minute, platform, province ORDER BY minute, platform, province
"""

LATEST_MINUTE = f"SELECT toUInt32(max(minute)), count() FROM {{db}}.{TABLE}"
