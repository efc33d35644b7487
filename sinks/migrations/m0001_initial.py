"""The first schema: per-minute click aggregates, late events, and the sink's offsets."""

from __future__ import annotations

VERSION = 1

# Frozen DDL: this migration means the same whatever the table modules become later.
STATEMENTS = (
    """CREATE TABLE IF NOT EXISTS {db}.clicks_minute (
    minute DateTime('Asia/Shanghai'),
    platform Enum8('k12' = 1, 'vocational' = 2, 'higher' = 3, 'employment' = 4),
    province Enum8('110000' = 11, '120000' = 12, '130000' = 13, '140000' = 14, '150000' = 15, '210000' = 21, '220000' = 22, '230000' = 23, '310000' = 31, '320000' = 32, '330000' = 33, '340000' = 34, '350000' = 35, '360000' = 36, '370000' = 37, '410000' = 41, '420000' = 42, '430000' = 43, '440000' = 44, '450000' = 45, '460000' = 46, '500000' = 50, '510000' = 51, '520000' = 52, '530000' = 53, '540000' = 54, '610000' = 61, '620000' = 62, '630000' = 63, '640000' = 64, '650000' = 65, '710000' = 71, '810000' = 81, '820000' = 82, 'abroad' = 0),
    section Enum8('topic' = 1, 'lessons' = 2, 'afterschool' = 3, 'teacher' = 4, 'family' = 5, 'reform' = 6, 'vocational_courses' = 7, 'mooc' = 8, 'jobs' = 9, 'other' = 10),
    action Enum8('view' = 1, 'play' = 2, 'download' = 3, 'search' = 4),
    clicks UInt64
) ENGINE = SummingMergeTree((clicks))
PARTITION BY toYYYYMMDD(minute)
ORDER BY (minute, platform, province, section, action)""",
    """CREATE TABLE IF NOT EXISTS {db}.late_events (
    minute DateTime('Asia/Shanghai'),
    platform Enum8('k12' = 1, 'vocational' = 2, 'higher' = 3, 'employment' = 4),
    province Enum8('110000' = 11, '120000' = 12, '130000' = 13, '140000' = 14, '150000' = 15, '210000' = 21, '220000' = 22, '230000' = 23, '310000' = 31, '320000' = 32, '330000' = 33, '340000' = 34, '350000' = 35, '360000' = 36, '370000' = 37, '410000' = 41, '420000' = 42, '430000' = 43, '440000' = 44, '450000' = 45, '460000' = 46, '500000' = 50, '510000' = 51, '520000' = 52, '530000' = 53, '540000' = 54, '610000' = 61, '620000' = 62, '630000' = 63, '640000' = 64, '650000' = 65, '710000' = 71, '810000' = 81, '820000' = 82, 'abroad' = 0),
    events UInt64
) ENGINE = SummingMergeTree((events))
PARTITION BY toYYYYMMDD(minute)
ORDER BY (minute, platform, province)""",
    """CREATE TABLE IF NOT EXISTS {db}.sink_offsets (
    consumer String,
    topic String,
    partition UInt32,
    next_offset UInt64
) ENGINE = ReplacingMergeTree(next_offset)
ORDER BY (consumer, topic, partition)""",
)


def statements(database: str) -> list[str]:
    return [s.replace("{db}", database) + "\n" for s in STATEMENTS]
