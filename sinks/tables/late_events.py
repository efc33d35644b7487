"""`late_events`: events that arrived after their minute's allowed lateness, per minute and key.

They are kept out of `clicks_minute` (whose minutes the alerts have already judged) but never lost:
the sum of both tables equals what was sent. Queried by minute range, like `clicks_minute`.
"""
from __future__ import annotations

from contracts.geo import PLATFORM_ENUM8, PROVINCE_ENUM8

TABLE = "late_events"
COLUMNS = ("minute", "platform", "province", "events")


def create_sql(database: str) -> str:
    return f"""
CREATE TABLE IF NOT EXISTS {database}.{TABLE} (
    minute DateTime('Asia/Shanghai'),
    platform {PLATFORM_ENUM8},
    province {PROVINCE_ENUM8},
    events UInt64
) ENGINE = SummingMergeTree((events))
PARTITION BY toYYYYMMDD(minute)
ORDER BY (minute, platform, province)
"""


TOTAL_BETWEEN = f"""
SELECT sum(events) FROM {{db}}.{TABLE}
WHERE minute >= toDateTime(%(start)s) AND minute < toDateTime(%(end)s)
"""
