"""Known rows for the named-query and retention tests, with their answers worked out by hand.

Day D = 14 March 2022 in Beijing; `T` is its midnight (+08:00) as epoch seconds. The answers in
`tests/sinks/test_queries.py` are literals, summed by hand from the rows below (comments show how).
"""
from __future__ import annotations

T = 1647187200  # 2022-03-14 00:00 Beijing
M, H, D = 60, 3600, 86400

# (minute, platform, province, section, action, clicks), in three inserts so parts stay unmerged.
CLICKS_1 = [
    (T + 8 * H, "k12", "450000", "lessons", "view", 10),
    (T + 8 * H, "k12", "450000", "topic", "play", 7),
    (T + 8 * H, "higher", "110000", "mooc", "view", 3),
    (T - M, "k12", "450000", "lessons", "view", 1000),  # 13 March, 23:59: the day before
]
CLICKS_2 = [
    (T + 8 * H, "k12", "450000", "lessons", "view", 5),  # same key as the first row: summed
    (T + 8 * H + M, "k12", "450000", "lessons", "view", 4),
    (T + 8 * H + M, "vocational", "abroad", "vocational_courses", "download", 2),
]
CLICKS_3 = [
    (T + 9 * H + 30 * M, "employment", "370000", "jobs", "search", 6),
    (T + D - M, "k12", "110000", "family", "view", 8),  # 23:59, the last minute of the day
    (T + D, "k12", "110000", "family", "view", 100),  # 15 March 00:00: the day after
]
CLICKS = CLICKS_1 + CLICKS_2 + CLICKS_3

# (minute, platform, province, events)
LATE = [
    (T + 9 * H, "k12", "450000", 3),
    (T + 9 * H, "k12", "450000", 4),
    (T + D + M, "higher", "110000", 50),  # the day after
]

# (minute, reason, events)
REJECTS = [
    (T + 8 * H, "json", 2),
    (T + 8 * H, "json", 1),
    (T + 9 * H, "schema", 4),
    (T + D, "json", 9),  # the day after
]

# (consumer, topic, partition, next_offset)
OFFSETS = [
    ("g", "r", 0, 10),
    ("g", "r", 0, 25),  # a later flush of partition 0
    ("g", "r", 1, 7),
    ("g", "other", 0, 99),
    ("h", "r", 0, 5),
]


def load(store) -> None:  # type: ignore[no-untyped-def]
    from sinks.tables import clicks_minute, late_events, rejects_minute, sink_offsets

    for rows in (CLICKS_1, CLICKS_2, CLICKS_3):
        store.insert(clicks_minute.TABLE, clicks_minute.COLUMNS, rows)
    store.insert(late_events.TABLE, late_events.COLUMNS, LATE[:1])
    store.insert(late_events.TABLE, late_events.COLUMNS, LATE[1:])
    store.insert(rejects_minute.TABLE, rejects_minute.COLUMNS, REJECTS)
    store.insert(sink_offsets.TABLE, sink_offsets.COLUMNS, OFFSETS)
