"""Retention drops exactly the expired partitions, on both engines; its schedule; the CLI command."""

from __future__ import annotations

import subprocess
import sys
from datetime import date
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from contracts.settings import settings_env
from sinks import retention
from sinks.migrate import migrate
from sinks.retention import Dropped, RetentionSchedule, expired, last_day
from sinks.schema import retained
from sinks.store import StoreUnavailable
from sinks.tables import clicks_hour, clicks_minute, late_events, rejects_minute
from tests.conftest import make_settings

ROOT = Path(__file__).resolve().parents[2]
BEIJING_MIDNIGHT_0301 = 1646064000  # 2022-03-01 00:00 +08:00
DAY = 86400


def day_ts(d: int, hour: int = 12) -> int:
    """Epoch seconds of 2022-03-<d> at `hour`:00 Beijing."""
    return BEIJING_MIDNIGHT_0301 + (d - 1) * DAY + hour * 3600


# --------------------------------------------------------------------------------------------------
# pure rules


def test_a_day_expires_once_it_is_n_days_old() -> None:
    today = date(2022, 3, 10)
    assert not expired(20220310, "day", 1, today)  # 1 day keeps today only
    assert expired(20220309, "day", 1, today)
    assert not expired(20220308, "day", 3, today) and expired(20220307, "day", 3, today)
    assert not expired(19700101, "day", 0, today)  # 0 keeps forever


def test_a_month_expires_with_its_last_day() -> None:
    assert last_day(202202, "month") == date(2022, 2, 28)
    assert last_day(202402, "month") == date(2024, 2, 29)
    assert expired(202202, "month", 10, date(2022, 3, 10))  # 28 Feb <= 28 Feb
    assert not expired(202202, "month", 10, date(2022, 3, 9))


def test_policy_reads_settings_or_falls_back_to_table_defaults() -> None:
    defaults = retention.policy(object())
    assert defaults == {
        clicks_minute.TABLE: 90,
        late_events.TABLE: 90,
        clicks_hour.TABLE: 730,
        rejects_minute.TABLE: 30,
        "tiles_10s": 7,
        "resources_minute": 30,
        "uniques_minute": 90,
        "sessions_minute": 90,
        "countries_minute": 90,
        "alert_log": 400,
        "clicks_day": 1830,
    }
    assert retention.policy(SimpleNamespace(retention_minute_days=7))[clicks_minute.TABLE] == 7


class FakeStore:
    database = "x"
    engine = "fake"

    def __init__(self, fail: int = 0) -> None:
        self.fail = fail
        self.queries = 0

    def query(self, sql: str, params: Any = None) -> list[tuple[Any, ...]]:
        self.queries += 1
        if self.fail:
            self.fail -= 1
            raise StoreUnavailable("down")
        return []

    def command(self, sql: str, params: Any = None) -> None:
        raise AssertionError("nothing to drop in an empty store")


def test_schedule_runs_at_once_then_every_interval_and_retries_sooner_when_down() -> None:
    now = [1000.0]
    store = FakeStore(fail=1)
    ran: list[list[Dropped]] = []
    sched = RetentionSchedule(
        store,
        object(),
        interval_s=3600,
        monotonic=lambda: now[0],
        retry_s=60,  # type: ignore[arg-type]
        on_dropped=ran.append,
    )
    assert sched.tick() is None and sched.runs == 0  # due at once, but the store is down
    now[0] += 59
    assert sched.tick() is None and store.queries == 1  # waits retry_s, not a whole interval
    now[0] += 1
    assert sched.tick() == [] and sched.runs == 1 and ran == [[]]
    calls = store.queries
    now[0] += 3599
    assert sched.tick() is None and store.queries == calls  # not due: not even a query
    now[0] += 1
    assert sched.tick() == [] and sched.runs == 2
    assert RetentionSchedule(store, object(), interval_s=0).tick() is None  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------------
# both engines


def seed(store: Any) -> None:
    """Ten days of March 2022 in the minute table, fewer in the others, two old hourly months."""
    rows = [(day_ts(d), "k12", "450000", "lessons", "view", d) for d in range(1, 11)]
    rows.append((day_ts(5, 23), "higher", "110000", "mooc", "play", 100))  # a second part for 5 March
    store.insert(clicks_minute.TABLE, clicks_minute.COLUMNS, rows)
    store.insert(late_events.TABLE, late_events.COLUMNS, [(day_ts(d), "k12", "450000", d) for d in range(5, 11)])
    store.insert(
        rejects_minute.TABLE, rejects_minute.COLUMNS, [(0, "json", 1)] + [(day_ts(d), "json", d) for d in (8, 9, 10)]
    )  # 0: no watermark yet
    jan, feb = 1609430400, 1612108800  # 2021-01-01 and 2021-02-01 00:00 Beijing
    store.insert(
        clicks_hour.TABLE,
        clicks_hour.COLUMNS,
        [(jan, "k12", "450000", "lessons", 5), (feb, "k12", "450000", "lessons", 6)],
    )


def live(store: Any) -> dict[str, list[int]]:
    return {
        t: [p for p, _ in retention.partitions(store, t)]
        for t in (clicks_minute.TABLE, late_events.TABLE, rejects_minute.TABLE, clicks_hour.TABLE)
    }


POLICY = {clicks_minute.TABLE: 3, late_events.TABLE: 2, rejects_minute.TABLE: 1, clicks_hour.TABLE: 400}


def test_retention_drops_exactly_the_expired_partitions(engine_store: Any) -> None:
    store = engine_store
    migrate(store)
    seed(store)
    today = retention.event_today(store)
    assert today == date(2022, 3, 10)  # event time: the latest day stored, not the wall clock

    planned = retention.enforce(store, POLICY, today, dry_run=True)
    assert live(store)[clicks_minute.TABLE] == [20220300 + d for d in range(1, 11)]  # dry run: untouched
    dropped = retention.enforce(store, POLICY, today)
    assert dropped == planned
    assert {(d.table, d.partition) for d in dropped} == (
        {(clicks_minute.TABLE, 20220300 + d) for d in range(1, 8)}  # kept: 8, 9, 10 March
        | {(late_events.TABLE, 20220300 + d) for d in range(5, 9)}  # kept: 9, 10
        | {(rejects_minute.TABLE, p) for p in (19700101, 20220308, 20220309)}  # kept: 10
        | {(clicks_hour.TABLE, 202101)}  # 400 days before 10 March 2022 is 5 Feb 2021: Feb is kept
    )
    assert live(store) == {
        clicks_minute.TABLE: [20220308, 20220309, 20220310],
        late_events.TABLE: [20220309, 20220310],
        rejects_minute.TABLE: [20220310],
        # The view rolled the minute rows up into March 2022; dropping minutes leaves the rollup.
        clicks_hour.TABLE: [202102, 202203],
    }
    # What is kept is whole: the rows of the kept days are all there.
    assert store.query(f"SELECT sum(clicks) FROM {store.database}.clicks_minute") == [(8 + 9 + 10,)]
    assert store.query(f"SELECT sum(clicks) FROM {store.database}.clicks_hour") == [(6 + sum(range(1, 11)) + 100,)]
    # A second run finds nothing more to drop.
    assert retention.enforce(store, POLICY, today) == []


def test_zero_days_keeps_a_table_forever(engine_store: Any) -> None:
    migrate(engine_store)
    seed(engine_store)
    keep_all = {m.TABLE: 0 for m in retained()}
    assert retention.enforce(engine_store, keep_all, date(2030, 1, 1)) == []
    assert len(live(engine_store)[clicks_minute.TABLE]) == 10


def test_edu_sink_retention_command_on_the_server(
    clickhouse_server: tuple[str, int], server_session_store: Any, kafka_free_settings: Any
) -> None:
    """The subcommand in its own process, with the default policy (90/90/30/730 days)."""
    s = kafka_free_settings.model_copy(
        update={
            "clickhouse_engine": "server",
            "clickhouse_host": clickhouse_server[0],
            "clickhouse_port": clickhouse_server[1],
        }
    )
    store = server_session_store.with_database(s.clickhouse_database)
    env = settings_env(s)
    try:
        migrate(store)
        seed(store)
        # Event time: today is 10 March 2022, so only the 1970 rejects partition is old enough.
        out = run_cli(env, "retention")
        assert out.splitlines() == [
            "dropped rejects_minute partition 19700101 (1 rows)",
            "retention as of 2022-03-10: dropped 1 partition(s)",
        ]
        # As of 10 June 2022 every March day has expired, the hourly months (730 days) have not.
        dry = run_cli(env, "retention", "--dry-run", "--today", "2022-06-10")
        assert dry.splitlines()[-1] == "retention as of 2022-06-10: would drop 19 partition(s)"
        assert live(store)[clicks_minute.TABLE] == [20220300 + d for d in range(1, 11)]  # untouched
        out = run_cli(env, "retention", "--today", "2022-06-10")
        assert out.splitlines()[-1] == "retention as of 2022-06-10: dropped 19 partition(s)"
        assert live(store) == {
            clicks_minute.TABLE: [],
            late_events.TABLE: [],
            rejects_minute.TABLE: [],
            clicks_hour.TABLE: [202101, 202102, 202203],
        }
    finally:
        store.drop_database()


def run_cli(env: dict[str, str], *args: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "sinks.cli", *args, "--loglevel", "warning"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


@pytest.fixture
def kafka_free_settings() -> Any:
    """Settings private to one test; the retention command never talks to Kafka."""
    return make_settings("127.0.0.1:1")
