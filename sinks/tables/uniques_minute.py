"""`uniques_minute`: unique users and sessions per minute × platform × province, as uniq states.

The sink inserts the workers' distinct (user, session) pairs into `visitors_input` (engine Null: it
keeps nothing); the materialized view folds them into `uniq` states here, so minutes merge into
hours and days without counting a user twice (`uniqMerge` over any range). Replays are harmless:
a pair seen twice does not change a uniq state. Active sessions of a minute = unique sessions with
any event (click or heartbeat) in it.

Queries: `uniques_between` (users and sessions over a range, national or per province) scans
`minute`, the first key, then merges states.
"""

from __future__ import annotations

from typing import Final

from contracts.geo import PLATFORM_ENUM8, PROVINCE_ENUM8
from sinks.tables import Retention, TableDef, ViewDef

TABLE = "uniques_minute"
INPUT = "visitors_input"
INPUT_COLUMNS = ("minute", "platform", "province", "user", "session")
_KEYS = (("minute", "DateTime('Asia/Shanghai')"), ("platform", PLATFORM_ENUM8), ("province", PROVINCE_ENUM8))

INPUT_DEFINITION: Final = TableDef(
    name=INPUT,
    columns=(*_KEYS, ("user", "String"), ("session", "String")),
    engine="Null",
    order_by="",
    shard_by="cityHash64(toString(province), toString(platform))",
)
DEFINITION: Final = TableDef(
    name=TABLE,
    columns=(*_KEYS, ("users", "AggregateFunction(uniq, String)"), ("sessions", "AggregateFunction(uniq, String)")),
    engine="AggregatingMergeTree",
    partition_by="toYYYYMMDD(minute)",
    order_by="(minute, platform, province)",
    shard_by="cityHash64(toString(province), toString(platform))",
)
VIEW: Final = ViewDef(
    name="uniques_minute_mv",
    source=INPUT,
    target=TABLE,
    select="""SELECT minute, platform, province, uniqState(user) AS users, uniqState(session) AS sessions
FROM {source} GROUP BY minute, platform, province""",
)
RETENTION: Final = Retention("retention_minute_days", 90, "day")


def create_sql(database: str) -> str:
    return DEFINITION.create_sql(database)


def input_sql(database: str) -> str:
    """The Null input table (no ORDER BY: it stores nothing)."""
    return f"\nCREATE TABLE IF NOT EXISTS {database}.{INPUT} (\n{INPUT_DEFINITION.columns_sql()}\n) ENGINE = Null\n"


def view_sql(database: str) -> str:
    return VIEW.create_sql(database)


UNIQUES_BETWEEN = f"""
SELECT uniqMerge(users), uniqMerge(sessions) FROM {{db}}.{TABLE}
WHERE minute >= toDateTime(%(start)s) AND minute < toDateTime(%(end)s)
"""
QUERIES: Final[dict[str, str]] = {"uniques_between": UNIQUES_BETWEEN}
