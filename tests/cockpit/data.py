"""Deterministic fixture traffic for the cockpit tests: rows for `clicks_minute` and `late_events`, and
for the stream aggregates (`tiles_10s`, `uniques_minute` via `visitors_input`, `sessions_minute`,
`resources_minute`, `countries_minute`) and the alert log.

Shaped like a morning of 14 March 2022 (school closures): traffic ramps up through the morning,
spread over provinces, platforms and sections, from a seeded generator so every run stores the same.
"""

from __future__ import annotations

import random
import time
from collections.abc import Sequence
from typing import Any

from alerts.model import fingerprint
from cockpit.timeframe import MINUTE, beijing_day_start
from contracts.alerts import Severity, State, StateChange
from sinks.store import Store
from sinks.tables import (
    alert_log,
    clicks_day,
    clicks_hour,
    clicks_minute,
    countries_minute,
    late_events,
    resources_minute,
    sessions_minute,
    tiles_10s,
    uniques_minute,
)

# 2022-03-14 10:42 Beijing time: the fixture's event-time "now".
NOW = 1647225720
DAY_START = beijing_day_start(NOW)  # 2022-03-14 00:00 +08:00

PROVINCE_WEIGHTS = {
    "450000": 9,
    "370000": 8,
    "440000": 7,
    "410000": 7,
    "210000": 6,
    "220000": 5,
    "350000": 5,
    "320000": 5,
    "510000": 4,
    "610000": 3,
    "620000": 3,
    "150000": 2,
    "530000": 2,
    "110000": 2,
    "310000": 2,
    "abroad": 1,
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


TABLES = (
    clicks_minute.TABLE,
    clicks_hour.TABLE,
    clicks_day.TABLE,
    late_events.TABLE,
    tiles_10s.TABLE,
    uniques_minute.TABLE,
    sessions_minute.TABLE,
    resources_minute.TABLE,
    countries_minute.TABLE,
    alert_log.TABLE,
)


def truncate(store: Store) -> None:
    for table in TABLES:
        store.command(f"TRUNCATE TABLE {store.database}.{table}")


# -- the stream aggregates ------------------------------------------------------------------------


def tile_rows(first: int, last: int, seed: int = 10) -> list[tuple[Any, ...]]:
    """(ts, platform, clicks) for every 10 s bucket in [first, last], all four platforms."""
    rng = random.Random(seed)
    return [
        (ts, plat, rng.randint(5, 40) * w) for ts in range(first, last + 10, 10) for plat, w in PLATFORM_WEIGHTS.items()
    ]


def visitor_rows(
    first: int, last: int, per_minute: int = 12, users: int = 150, seed: int = 11
) -> list[tuple[Any, ...]]:
    """(minute, platform, province, user, session): users recur across minutes, sessions span a few."""
    rng = random.Random(seed)
    rows = []
    for minute in range(first, last + MINUTE, MINUTE):
        for _ in range(per_minute):
            u = rng.randrange(users)
            rows.append(
                (
                    minute,
                    rng.choice(list(PLATFORM_WEIGHTS)),
                    rng.choice(list(PROVINCE_WEIGHTS)),
                    f"user-{u}",
                    f"sess-{u}-{(minute // 600) % 3}",
                )
            )
    return rows


def session_rows(first: int, last: int, seed: int = 12) -> list[tuple[Any, ...]]:
    """sessions_minute rows: started, ended, heartbeats, six duration buckets, duration sum."""
    rng = random.Random(seed)
    rows = []
    for minute in range(first, last + MINUTE, MINUTE):
        buckets = [rng.randint(0, 4) for _ in range(6)]
        ended = sum(buckets)
        mids = (30, 180, 600, 1350, 2700, 4500)
        rows.append(
            (
                minute,
                "k12",
                "450000",
                rng.randint(3, 9),
                ended,
                rng.randint(10, 30),
                *buckets,
                float(sum(b * m for b, m in zip(buckets, mids, strict=False))),
            )
        )
    return rows


def known_resources(n: int = 4) -> list[tuple[str, str, str]]:
    """(resource id, platform, section) of catalogue resources, so titles can be looked up."""
    from simulators.catalogue import by_id

    return [(r.id, r.platform, r.section) for r in list(by_id().values())[:n]]


UNKNOWN_RESOURCE = "res-not-in-catalogue"


def resource_rows(first: int, last: int) -> list[tuple[Any, ...]]:
    """(minute, platform, resource, section, views, plays, downloads): catalogue resources at distinct
    levels, and one id the catalogue does not know."""
    known = known_resources()
    rows = []
    for minute in range(first, last + MINUTE, MINUTE):
        for rank, (rid, plat, section) in enumerate(known):
            rows.append((minute, plat, rid, section, 50 - 10 * rank, 20 - 4 * rank, rank))
        rows.append((minute, "k12", UNKNOWN_RESOURCE, "topic", 3, 1, 0))
    return rows


COUNTRY_LEVELS = {"US": 9, "JP": 6, "SG": 5, "GB": 2, "ZZ": 1}


def country_rows(first: int, last: int) -> list[tuple[Any, ...]]:
    return [(minute, "k12", c, n) for minute in range(first, last + MINUTE, MINUTE) for c, n in COUNTRY_LEVELS.items()]


def insert(store: Store, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    store.insert(table, columns, rows)


# -- the alert log ----------------------------------------------------------------------------------

SURGE_GX = {"alertname": "TrafficSurge", "scope": "province", "province": "450000"}
SURGE_SD = {"alertname": "TrafficSurge", "scope": "province", "province": "370000"}
DROP_BJ = {"alertname": "TrafficDrop", "scope": "province", "province": "110000"}
ANOMALY = {"alertname": "TrafficAnomaly", "scope": "national"}
FP_GX, FP_SD, FP_BJ, FP_NAT = (fingerprint(x) for x in (SURGE_GX, SURGE_SD, DROP_BJ, ANOMALY))


def change(
    at: int,
    labels: dict[str, str],
    old: str,
    new: str,
    severity: str,
    value: float,
    ratio: str = "",
    kind: str = "state",
    author: str = "",
    comment: str = "",
) -> tuple[Any, ...]:
    """An alert_log row, through the table module's own `row()` (as the sink writes it)."""
    ann = {"summary": f"{labels['alertname']} {labels.get('province', 'national')}", "ratio": ratio}
    return alert_log.row(
        StateChange(
            at=at,
            fingerprint=fingerprint(labels),
            alertname=labels["alertname"],
            kind=kind,
            old_state=State(old),
            new_state=State(new),
            severity=Severity(severity),
            value=value,
            labels=labels,
            annotations=ann,
            author=author,
            comment=comment,
        )
    )


def alert_rows() -> list[tuple[Any, ...]]:
    """Guangxi surging (firing, 3.10x), Shandong pending (2.40x), Beijing's drop resolved, a critical
    national anomaly firing; times before the fixture's "now" (10:42)."""
    t = DAY_START + 10 * 3600  # 10:00
    return [
        change(t + 20 * MINUTE, SURGE_GX, "inactive", "pending", "warning", 2.9, "2.90"),
        change(t + 25 * MINUTE, SURGE_GX, "pending", "firing", "warning", 3.1, "3.10"),
        change(t + 38 * MINUTE, SURGE_SD, "inactive", "pending", "warning", 2.4, "2.40"),
        change(t + 5 * MINUTE, DROP_BJ, "inactive", "firing", "warning", 0.2, "0.20"),
        change(t + 30 * MINUTE, DROP_BJ, "firing", "resolved", "warning", 0.9, "0.90"),
        change(t + 35 * MINUTE, ANOMALY, "pending", "firing", "critical", 7.5),
    ]


def load_streams(store: Store) -> None:
    """The stream aggregates and alerts of the fixture morning (yesterday evening too, for comparisons)."""
    today = DAY_START + 8 * 3600
    insert(store, tiles_10s.TABLE, tiles_10s.COLUMNS, tile_rows(NOW - 3 * MINUTE, NOW + 30))
    insert(
        store,
        uniques_minute.INPUT,
        uniques_minute.INPUT_COLUMNS,
        visitor_rows(DAY_START - 30 * MINUTE, DAY_START - MINUTE, seed=21),
    )
    insert(store, uniques_minute.INPUT, uniques_minute.INPUT_COLUMNS, visitor_rows(today, NOW))
    insert(store, sessions_minute.TABLE, sessions_minute.COLUMNS, session_rows(NOW - 90 * MINUTE, NOW))
    insert(store, resources_minute.TABLE, resources_minute.COLUMNS, resource_rows(NOW - 30 * MINUTE, NOW))
    insert(store, countries_minute.TABLE, countries_minute.COLUMNS, country_rows(NOW - 30 * MINUTE, NOW))
    insert(store, alert_log.TABLE, alert_log.COLUMNS, alert_rows())
    load_catalogue(store)


def load_catalogue(store: Store) -> None:
    """The known resources' titles, through the loader `edu-sink resources load` uses."""
    import io
    import json

    from simulators.catalogue import by_id
    from sinks.resources_load import load

    known = by_id()
    lines = [
        json.dumps(
            {
                "resource": rid,
                "platform": p,
                "section": s,
                "subcolumn": known[rid].subcolumn,
                "title": known[rid].title,
            },
            ensure_ascii=False,
        )
        for rid, p, s in known_resources()
    ]
    report = load(store, io.StringIO("\n".join(lines) + "\n"))
    assert report.loaded == len(lines) and not report.refused_total, report


def direct_uniques(store: Store, start: int, end: int) -> tuple[int, int]:
    """(users, sessions) by a direct query of `uniques_minute`, bypassing the named queries."""
    rows = store.query(
        f"SELECT uniqMerge(users), uniqMerge(sessions) FROM {store.database}.{uniques_minute.TABLE} "
        "WHERE minute >= toDateTime(%(s)s) AND minute < toDateTime(%(e)s)",
        {"s": start, "e": end},
    )
    return int(rows[0][0]), int(rows[0][1])


def insert_clicks(store: Store, rows: Sequence[Sequence[Any]]) -> None:
    store.insert(clicks_minute.TABLE, clicks_minute.COLUMNS, rows)


def insert_late(store: Store, rows: Sequence[Sequence[Any]]) -> None:
    store.insert(late_events.TABLE, late_events.COLUMNS, rows)


def direct_total(store: Store, start: int, end: int) -> int:
    """Clicks in [start, end) by a direct query of the store, bypassing the cockpit's named queries."""
    rows = store.query(
        f"SELECT sum(clicks) FROM {store.database}.{clicks_minute.TABLE} "
        "WHERE minute >= toDateTime(%(s)s) AND minute < toDateTime(%(e)s)",
        {"s": start, "e": end},
    )
    return int(rows[0][0])


def load_morning(store: Store) -> None:
    """The standard scene: yesterday evening (outside 'today'), then 08:00-10:42 today, a few late."""
    truncate(store)
    insert_clicks(store, clicks_rows(DAY_START - 30 * MINUTE, DAY_START - MINUTE, seed=13))
    insert_clicks(store, clicks_rows(DAY_START + 8 * 3600, NOW, seed=14))
    insert_late(store, late_rows(DAY_START + 9 * 3600, 4))
    load_streams(store)


# -- history for the seasonal baseline ----------------------------------------------------------------

WEEK = 7 * 86400
# Events at 10:30 on the same weekday 1, 2 and 3 weeks before the fixture morning, inside the surge
# window (10:27-10:42): Guangxi's medians to 100, Shandong's to 50 (one week without it), Beijing's 0.
HISTORY = {
    1: {"450000": 100, "370000": 50, "110000": 0},
    2: {"450000": 120, "370000": 0},
    3: {"450000": 80, "370000": 60},
}


def history_rows() -> list[tuple[Any, ...]]:
    at = DAY_START + 10 * 3600 + 30 * MINUTE
    return [
        (at - k * WEEK, "k12", code, "lessons", "view", n)
        for k, levels in HISTORY.items()
        for code, n in levels.items()
        if n
    ]


def load_history(store: Store) -> None:
    insert_clicks(store, history_rows())


# Five weeks of the fixture's last hour for the national line's seasonal band: this week's hour
# (09:43-10:42), the same hour 1 week back in full, 2 weeks back from 10:03, 3 weeks back from 10:23,
# and nothing 4 weeks back (before the store's history). So 09:43-10:02 has one earlier week (no
# band), 10:03-10:22 two and 10:23-10:42 three.
HOUR_FIRST = NOW - 59 * MINUTE
WEEKS_FROM = {1: HOUR_FIRST, 2: HOUR_FIRST + 20 * MINUTE, 3: HOUR_FIRST + 40 * MINUTE}


def load_weeks(store: Store) -> None:
    truncate(store)
    insert_clicks(store, clicks_rows(HOUR_FIRST, NOW, seed=30))
    for k, first in WEEKS_FROM.items():
        insert_clicks(store, clicks_rows(first - k * WEEK, NOW - k * WEEK, seed=30 + k))


def direct_minutes(store: Store, start: int, end: int, platform: str | None = None) -> dict[int, int]:
    """{minute: clicks} in [start, end) by a direct query (optionally one platform), bypassing the
    named queries."""
    where = " AND platform = %(p)s" if platform else ""
    rows = store.query(
        f"SELECT toUInt32(minute), sum(clicks) FROM {store.database}.{clicks_minute.TABLE} "
        f"WHERE minute >= toDateTime(%(s)s) AND minute < toDateTime(%(e)s){where} GROUP BY minute",
        {"s": start, "e": end, **({"p": platform} if platform else {})},
    )
    return {int(ts): int(n) for ts, n in rows}


def direct_by_province(store: Store, start: int, end: int) -> dict[str, int]:
    """Clicks per division in [start, end) by a direct query, bypassing the named queries."""
    rows = store.query(
        f"SELECT toString(province), sum(clicks) FROM {store.database}.{clicks_minute.TABLE} "
        "WHERE minute >= toDateTime(%(s)s) AND minute < toDateTime(%(e)s) GROUP BY province",
        {"s": start, "e": end},
    )
    return {str(p): int(n) for p, n in rows}


_WALL_OFFSET = time.time() - (NOW + 30)


def restart_wall_clock() -> None:
    """Put the wall clock back at half a minute into "now" (each test starts there: a test that runs
    minutes after this module was imported would otherwise find the fixture's data stale)."""
    global _WALL_OFFSET
    _WALL_OFFSET = time.time() - (NOW + 30)


def wall_clock() -> float:
    """A wall clock running from half a minute into the fixture's "now" minute: the fixture's data
    is live by this clock (the cockpit's Live / Stale pill compares the newest minute with it)."""
    return time.time() - _WALL_OFFSET
