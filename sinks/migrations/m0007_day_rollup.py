"""Daily rollup `clicks_day` (fed by a materialized view on `clicks_minute`), issue 17.

Data step: the days already in `clicks_hour` (which outlives the minute table) are rolled up once,
before the view exists and only while `clicks_day` is empty, so a re-run never counts them twice.
"""

from __future__ import annotations

from sinks.store import Store

VERSION = 7

# Frozen DDL (the table, then the view) and the one-off backfill between them.
STATEMENTS = (
    """CREATE TABLE IF NOT EXISTS {db}.clicks_day (
    day DateTime('Asia/Shanghai'),
    platform Enum8('k12' = 1, 'vocational' = 2, 'higher' = 3, 'employment' = 4),
    province Enum8('110000' = 11, '120000' = 12, '130000' = 13, '140000' = 14, '150000' = 15, '210000' = 21, '220000' = 22, '230000' = 23, '310000' = 31, '320000' = 32, '330000' = 33, '340000' = 34, '350000' = 35, '360000' = 36, '370000' = 37, '410000' = 41, '420000' = 42, '430000' = 43, '440000' = 44, '450000' = 45, '460000' = 46, '500000' = 50, '510000' = 51, '520000' = 52, '530000' = 53, '540000' = 54, '610000' = 61, '620000' = 62, '630000' = 63, '640000' = 64, '650000' = 65, '710000' = 71, '810000' = 81, '820000' = 82, 'abroad' = 0),
    section Enum8('topic' = 1, 'lessons' = 2, 'afterschool' = 3, 'teacher' = 4, 'family' = 5, 'reform' = 6, 'vocational_courses' = 7, 'mooc' = 8, 'jobs' = 9, 'other' = 10),
    clicks UInt64
) ENGINE = SummingMergeTree((clicks))
PARTITION BY toYYYYMM(day)
ORDER BY (day, platform, province, section)""",
    """CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.clicks_day_mv TO {db}.clicks_day AS
SELECT toStartOfDay(minute) AS day, platform, province, section, sum(clicks) AS clicks
FROM {db}.clicks_minute
GROUP BY day, platform, province, section""",
)
BACKFILL = """INSERT INTO {db}.clicks_day (day, platform, province, section, clicks)
SELECT toStartOfDay(hour) AS day, platform, province, section, sum(clicks) AS clicks
FROM {db}.clicks_hour GROUP BY day, platform, province, section"""


def statements(database: str) -> list[str]:
    return [s.replace("{db}", database) + "\n" for s in STATEMENTS]


def apply(store: Store) -> None:
    db = store.database
    table, view = statements(db)
    store.command(table)
    views = store.query(
        "SELECT count() FROM system.tables WHERE database = %(db)s AND name = %(name)s",
        {"db": db, "name": "clicks_day_mv"},
    )
    if not views[0][0]:
        rolled = store.query(f"SELECT count() FROM {db}.clicks_day")[0][0]
        hours = store.query(f"SELECT count() FROM {db}.clicks_hour")[0][0]
        if hours and not rolled:
            store.command(BACKFILL.replace("{db}", db))
    store.command(view)
