"""Hourly rollup `clicks_hour` (fed by a materialized view) and the dead-letter ledger `rejects_minute`.

Data step: minutes stored before this migration are rolled up once, before the view exists, and only
while `clicks_hour` is empty, so a re-run after a crash never counts them twice. Run it as every
migration runs, before the sink consumes (`edu-sink` and `edu-cockpit` migrate at start).
"""

from __future__ import annotations

from sinks.store import Store

VERSION = 2

# Frozen DDL (the rollup table, the ledger, then the view) and the one-off backfill between them.
STATEMENTS = (
    """CREATE TABLE IF NOT EXISTS {db}.clicks_hour (
    hour DateTime('Asia/Shanghai'),
    platform Enum8('k12' = 1, 'vocational' = 2, 'higher' = 3, 'employment' = 4),
    province Enum8('110000' = 11, '120000' = 12, '130000' = 13, '140000' = 14, '150000' = 15, '210000' = 21, '220000' = 22, '230000' = 23, '310000' = 31, '320000' = 32, '330000' = 33, '340000' = 34, '350000' = 35, '360000' = 36, '370000' = 37, '410000' = 41, '420000' = 42, '430000' = 43, '440000' = 44, '450000' = 45, '460000' = 46, '500000' = 50, '510000' = 51, '520000' = 52, '530000' = 53, '540000' = 54, '610000' = 61, '620000' = 62, '630000' = 63, '640000' = 64, '650000' = 65, '710000' = 71, '810000' = 81, '820000' = 82, 'abroad' = 0),
    section Enum8('topic' = 1, 'lessons' = 2, 'afterschool' = 3, 'teacher' = 4, 'family' = 5, 'reform' = 6, 'vocational_courses' = 7, 'mooc' = 8, 'jobs' = 9, 'other' = 10),
    clicks UInt64
) ENGINE = SummingMergeTree((clicks))
PARTITION BY toYYYYMM(hour)
ORDER BY (hour, platform, province, section)""",
    """CREATE TABLE IF NOT EXISTS {db}.rejects_minute (
    minute DateTime('Asia/Shanghai'),
    reason String,
    events UInt64
) ENGINE = SummingMergeTree((events))
PARTITION BY toYYYYMMDD(minute)
ORDER BY (minute, reason)""",
    """CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.clicks_hour_mv TO {db}.clicks_hour AS
SELECT toStartOfHour(minute) AS hour, platform, province, section, sum(clicks) AS clicks
FROM {db}.clicks_minute
GROUP BY hour, platform, province, section""",
)
BACKFILL = """INSERT INTO {db}.clicks_hour (hour, platform, province, section, clicks)

SELECT toStartOfHour(minute) AS hour, platform, province, section, sum(clicks) AS clicks
FROM {db}.clicks_minute
GROUP BY hour, platform, province, section"""


def statements(database: str) -> list[str]:
    return [s.replace("{db}", database) + "\n" for s in STATEMENTS]


def apply(store: Store) -> None:
    db = store.database
    rollup, ledger, view = statements(db)
    store.command(rollup)
    store.command(ledger)
    views = store.query(
        "SELECT count() FROM system.tables WHERE database = %(db)s AND name = %(name)s",
        {"db": db, "name": "clicks_hour_mv"},
    )
    if not views[0][0]:
        rolled = store.query(f"SELECT count() FROM {db}.clicks_hour")[0][0]
        minutes = store.query(f"SELECT count() FROM {db}.clicks_minute")[0][0]
        if minutes and not rolled:
            store.command(BACKFILL.replace("{db}", db))
    store.command(view)
