"""The workers' further aggregates: 10 s tiles, resources, unique users/sessions, sessions, countries."""

from __future__ import annotations

VERSION = 3

# Frozen DDL: this migration means the same whatever the table modules become later.
STATEMENTS = (
    """CREATE TABLE IF NOT EXISTS {db}.tiles_10s (
    ts DateTime('Asia/Shanghai'),
    platform Enum8('k12' = 1, 'vocational' = 2, 'higher' = 3, 'employment' = 4),
    clicks UInt64
) ENGINE = SummingMergeTree((clicks))
PARTITION BY toYYYYMMDD(ts)
ORDER BY (ts, platform)""",
    """CREATE TABLE IF NOT EXISTS {db}.resources_minute (
    minute DateTime('Asia/Shanghai'),
    platform Enum8('k12' = 1, 'vocational' = 2, 'higher' = 3, 'employment' = 4),
    resource String,
    section Enum8('topic' = 1, 'lessons' = 2, 'afterschool' = 3, 'teacher' = 4, 'family' = 5, 'reform' = 6, 'vocational_courses' = 7, 'mooc' = 8, 'jobs' = 9, 'other' = 10),
    views UInt64,
    plays UInt64,
    downloads UInt64
) ENGINE = SummingMergeTree(((views, plays, downloads)))
PARTITION BY toYYYYMMDD(minute)
ORDER BY (minute, platform, resource, section)""",
    """CREATE TABLE IF NOT EXISTS {db}.uniques_minute (
    minute DateTime('Asia/Shanghai'),
    platform Enum8('k12' = 1, 'vocational' = 2, 'higher' = 3, 'employment' = 4),
    province Enum8('110000' = 11, '120000' = 12, '130000' = 13, '140000' = 14, '150000' = 15, '210000' = 21, '220000' = 22, '230000' = 23, '310000' = 31, '320000' = 32, '330000' = 33, '340000' = 34, '350000' = 35, '360000' = 36, '370000' = 37, '410000' = 41, '420000' = 42, '430000' = 43, '440000' = 44, '450000' = 45, '460000' = 46, '500000' = 50, '510000' = 51, '520000' = 52, '530000' = 53, '540000' = 54, '610000' = 61, '620000' = 62, '630000' = 63, '640000' = 64, '650000' = 65, '710000' = 71, '810000' = 81, '820000' = 82, 'abroad' = 0),
    users AggregateFunction(uniq, String),
    sessions AggregateFunction(uniq, String)
) ENGINE = AggregatingMergeTree()
PARTITION BY toYYYYMMDD(minute)
ORDER BY (minute, platform, province)""",
    """CREATE TABLE IF NOT EXISTS {db}.visitors_input (
    minute DateTime('Asia/Shanghai'),
    platform Enum8('k12' = 1, 'vocational' = 2, 'higher' = 3, 'employment' = 4),
    province Enum8('110000' = 11, '120000' = 12, '130000' = 13, '140000' = 14, '150000' = 15, '210000' = 21, '220000' = 22, '230000' = 23, '310000' = 31, '320000' = 32, '330000' = 33, '340000' = 34, '350000' = 35, '360000' = 36, '370000' = 37, '410000' = 41, '420000' = 42, '430000' = 43, '440000' = 44, '450000' = 45, '460000' = 46, '500000' = 50, '510000' = 51, '520000' = 52, '530000' = 53, '540000' = 54, '610000' = 61, '620000' = 62, '630000' = 63, '640000' = 64, '650000' = 65, '710000' = 71, '810000' = 81, '820000' = 82, 'abroad' = 0),
    user String,
    session String
) ENGINE = Null""",
    """CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.uniques_minute_mv TO {db}.uniques_minute AS
SELECT minute, platform, province, uniqState(user) AS users, uniqState(session) AS sessions
FROM {db}.visitors_input GROUP BY minute, platform, province""",
    """CREATE TABLE IF NOT EXISTS {db}.sessions_minute (
    minute DateTime('Asia/Shanghai'),
    platform Enum8('k12' = 1, 'vocational' = 2, 'higher' = 3, 'employment' = 4),
    province Enum8('110000' = 11, '120000' = 12, '130000' = 13, '140000' = 14, '150000' = 15, '210000' = 21, '220000' = 22, '230000' = 23, '310000' = 31, '320000' = 32, '330000' = 33, '340000' = 34, '350000' = 35, '360000' = 36, '370000' = 37, '410000' = 41, '420000' = 42, '430000' = 43, '440000' = 44, '450000' = 45, '460000' = 46, '500000' = 50, '510000' = 51, '520000' = 52, '530000' = 53, '540000' = 54, '610000' = 61, '620000' = 62, '630000' = 63, '640000' = 64, '650000' = 65, '710000' = 71, '810000' = 81, '820000' = 82, 'abroad' = 0),
    started UInt64,
    ended UInt64,
    heartbeats UInt64,
    d_lt_1m UInt64,
    d_1_5m UInt64,
    d_5_15m UInt64,
    d_15_30m UInt64,
    d_30_60m UInt64,
    d_ge_60m UInt64,
    duration_s Float64
) ENGINE = SummingMergeTree(((started, ended, heartbeats, d_lt_1m, d_1_5m, d_5_15m, d_15_30m, d_30_60m, d_ge_60m, duration_s)))
PARTITION BY toYYYYMMDD(minute)
ORDER BY (minute, platform, province)""",
    """CREATE TABLE IF NOT EXISTS {db}.countries_minute (
    minute DateTime('Asia/Shanghai'),
    platform Enum8('k12' = 1, 'vocational' = 2, 'higher' = 3, 'employment' = 4),
    country String,
    events UInt64
) ENGINE = SummingMergeTree((events))
PARTITION BY toYYYYMMDD(minute)
ORDER BY (minute, platform, country)""",
)


def statements(database: str) -> list[str]:
    return [s.replace("{db}", database) + "\n" for s in STATEMENTS]
