"""Deterministic fixture traffic for the cockpit tests: rows for `clicks_minute` and `late_events`.

Shaped like a morning of 14 March 2022 (school closures): traffic ramps up through the morning,
spread over provinces, platforms and sections, from a seeded generator so every run stores the same.
"""
from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

from cockpit.timeframe import MINUTE, beijing_day_start
from sinks.store import Store
from sinks.tables import clicks_minute, late_events

# 2022-03-14 10:42 Beijing time: the fixture's event-time "now".
NOW = 1647225720
DAY_START = beijing_day_start(NOW)  # 2022-03-14 00:00 +08:00

PROVINCE_WEIGHTS = {
    "450000": 9, "370000": 8, "440000": 7, "410000": 7, "210000": 6, "220000": 5, "350000": 5,
    "320000": 5, "510000": 4, "610000": 3, "620000": 3, "150000": 2, "530000": 2, "110000": 2,
    "310000": 2, "abroad": 1,
}
PLATFORM_WEIGHTS = {"k12": 10, "vocational": 3, "higher": 4, "employment": 1}
K12_SECTIONS = ("lessons", "topic", "afterschool", "teacher", "family", "reform")
OTHER_SECTIONS = {"vocational": "vocational_courses", "higher": "mooc", "employment": "jobs"}


def clicks_rows(first: int, last: int, seed: int = 14) -> list[tuple[Any, ...]]:
    """Rows for every minute in [first, last], one per (platform, province, section) key drawn."""
    rng = random.Random(seed)
    rows: list[tuple[Any, ...]] = []
    for minute in range(first, last + MINUTE, MINUTE):
        hour = ((minute - DAY_START) % 86400) / 3600
        level = 40 + 60 * max(0.0, min(1.0, (hour - 6) / 4))  # the morning ramp
        for province, pw in PROVINCE_WEIGHTS.items():
            for platform, fw in PLATFORM_WEIGHTS.items():
                section = rng.choice(K12_SECTIONS) if platform == "k12" else OTHER_SECTIONS[platform]
                clicks = max(1, int(level * pw * fw / 10 * rng.uniform(0.7, 1.3)))
                rows.append((minute, platform, province, section, rng.choice(("view", "play")), clicks))
    return rows


def late_rows(first: int, n: int) -> list[tuple[Any, ...]]:
    return [(first + i * MINUTE, "k12", "450000", 3 + i) for i in range(n)]


def truncate(store: Store) -> None:
    for table in (clicks_minute.TABLE, late_events.TABLE):
        store.command(f"TRUNCATE TABLE {store.database}.{table}")


def insert_clicks(store: Store, rows: Sequence[Sequence[Any]]) -> None:
    store.insert(clicks_minute.TABLE, clicks_minute.COLUMNS, rows)


def insert_late(store: Store, rows: Sequence[Sequence[Any]]) -> None:
    store.insert(late_events.TABLE, late_events.COLUMNS, rows)


def direct_total(store: Store, start: int, end: int) -> int:
    """Clicks in [start, end) by a direct query of the store, bypassing the cockpit's named queries."""
    rows = store.query(
        f"SELECT sum(clicks) FROM {store.database}.{clicks_minute.TABLE} "
        "WHERE minute >= toDateTime(%(s)s) AND minute < toDateTime(%(e)s)", {"s": start, "e": end})
    return int(rows[0][0])


def load_morning(store: Store) -> None:
    """The standard scene: yesterday evening (outside 'today'), then 08:00-10:42 today, a few late."""
    truncate(store)
    insert_clicks(store, clicks_rows(DAY_START - 30 * MINUTE, DAY_START - MINUTE, seed=13))
    insert_clicks(store, clicks_rows(DAY_START + 8 * 3600, NOW, seed=14))
    insert_late(store, late_rows(DAY_START + 9 * 3600, 4))
