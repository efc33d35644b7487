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


# The workers' further aggregates (issue 4): 10 s tiles, resources, visitors, sessions, countries.
TILES = [(T + 8 * H, "k12", 5), (T + 8 * H, "k12", 3), (T + 8 * H + 10, "higher", 2), (T + D, "k12", 100)]
RESOURCES = [  # (minute, platform, resource, section, views, plays, downloads)
    (T + 8 * H, "k12", "r1", "lessons", 5, 2, 0),
    (T + 8 * H + M, "k12", "r1", "lessons", 1, 0, 1),  # r1: 6 views, 2 plays, 1 download
    (T + 8 * H, "k12", "r2", "topic", 4, 0, 0),
    (T + 8 * H, "higher", "m1", "mooc", 9, 9, 0),
    (T - M, "k12", "r2", "topic", 50, 0, 0),  # the day before
]
CATALOGUE = [  # (resource, platform, section, subcolumn, title, loaded_at): r1 renamed by a later load
    ("r1", "k12", "lessons", "小学", "旧标题", T),
    ("r1", "k12", "lessons", "小学", "语文·一年级", T + H),
    ("m1", "higher", "mooc", "", "Calculus I", T),
]
VISITORS = [  # (minute, platform, province, user, session): users {u1, u2}, sessions {s1, s2, s3}
    (T + 8 * H, "k12", "450000", "u1", "s1"),
    (T + 8 * H, "k12", "450000", "u1", "s2"),
    (T + 8 * H + M, "k12", "450000", "u2", "s3"),
    (T + 8 * H + M, "higher", "110000", "u1", "s1"),
    (T + D, "k12", "110000", "u9", "s9"),  # the day after
]
SESSIONS = [  # (minute, platform, province, started, ended, heartbeats, six duration buckets, duration_s)
    (T + 8 * H, "k12", "450000", 3, 1, 4, 1, 0, 0, 0, 0, 0, 30.0),
    (T + 9 * H, "k12", "450000", 0, 2, 0, 0, 1, 0, 0, 0, 1, 4000.0),
    (T + D, "k12", "450000", 9, 9, 9, 9, 0, 0, 0, 0, 0, 9.0),  # the day after
]
COUNTRIES = [
    (T + 8 * H, "higher", "SG", 3),
    (T + 8 * H, "k12", "US", 1),
    (T + 8 * H + M, "higher", "SG", 2),
    (T + D, "k12", "JP", 50),
]

L1, L2 = '{"province":"220000"}', '{"province":"110000"}'
ALERTS = [  # alert_log rows: fp1 pending -> firing (the firing change replayed twice), acked; fp2 pending
    (T + 8 * H, "fp1", "TrafficSurge", "state", "inactive", "pending", "warning", 2.7, L1, "{}", 0, "", ""),
    (T + 8 * H + 5 * M, "fp1", "TrafficSurge", "state", "pending", "firing", "warning", 3.1, L1, "{}", 0, "", ""),
    (T + 8 * H + 5 * M, "fp1", "TrafficSurge", "state", "pending", "firing", "warning", 3.1, L1, "{}", 0, "", ""),
    (T + 9 * H, "fp2", "TrafficDrop", "state", "inactive", "pending", "warning", 0.2, L2, "{}", 0, "", ""),
    (T + 10 * H, "fp1", "TrafficSurge", "ack", "firing", "firing", "warning", 3.1, L1, "{}", 0, "ops1", "on it"),
]


def load(store) -> None:  # type: ignore[no-untyped-def]
    from sinks.tables import (
        alert_log,
        clicks_minute,
        countries_minute,
        late_events,
        rejects_minute,
        resources,
        resources_minute,
        sessions_minute,
        sink_offsets,
        tiles_10s,
        uniques_minute,
    )

    store.insert(alert_log.TABLE, alert_log.COLUMNS, ALERTS[:2])
    store.insert(alert_log.TABLE, alert_log.COLUMNS, ALERTS[2:])
    store.insert(tiles_10s.TABLE, tiles_10s.COLUMNS, TILES)
    store.insert(resources_minute.TABLE, resources_minute.COLUMNS, RESOURCES)
    store.insert(resources.TABLE, resources.COLUMNS, CATALOGUE)
    store.insert(uniques_minute.INPUT, uniques_minute.INPUT_COLUMNS, VISITORS[:2])
    store.insert(uniques_minute.INPUT, uniques_minute.INPUT_COLUMNS, VISITORS[2:])
    store.insert(sessions_minute.TABLE, sessions_minute.COLUMNS, SESSIONS)
    store.insert(countries_minute.TABLE, countries_minute.COLUMNS, COUNTRIES)

    for rows in (CLICKS_1, CLICKS_2, CLICKS_3):
        store.insert(clicks_minute.TABLE, clicks_minute.COLUMNS, rows)
    store.insert(late_events.TABLE, late_events.COLUMNS, LATE[:1])
    store.insert(late_events.TABLE, late_events.COLUMNS, LATE[1:])
    store.insert(rejects_minute.TABLE, rejects_minute.COLUMNS, REJECTS)
    store.insert(sink_offsets.TABLE, sink_offsets.COLUMNS, OFFSETS)
