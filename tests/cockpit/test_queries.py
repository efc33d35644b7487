"""Named-query loaders against a real embedded chDB store, and the shared cache in front of them."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from cockpit.filters import Filters
from cockpit.metrics import CockpitMetrics
from cockpit.pages.overview import load_overview
from cockpit.queries import USED, Queries
from cockpit.series import peak_point, rate_point
from cockpit.timeframe import DAY, HOUR, MINUTE, beijing_day_start, windows
from sinks import queries as sink_queries
from sinks.queries import params_of
from sinks.store import ChdbStore, StoreError
from tests.cockpit import data as fx


def truth(rows: list[tuple[Any, ...]], start: int, end: int, key: int | None = None) -> Counter:
    """Ground truth from the fixture rows themselves, not from SQL."""
    out: Counter = Counter()
    for row in rows:
        if start <= row[0] < end:
            out[row[key] if key is not None else "all"] += row[5]
    return out


class FrozenClock:
    def __init__(self, t: float = 1000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


class SpyStore:
    """Wraps a store and counts queries, so tests can see what the cache saved."""

    def __init__(self, inner: ChdbStore) -> None:
        self.inner = inner
        self.database = inner.database
        self.engine = inner.engine
        self.calls: list[str] = []

    def query(self, sql: str, params: Any = None) -> list[tuple[Any, ...]]:
        self.calls.append(sql)
        return self.inner.query(sql, params)


def test_windows_follow_the_latest_event_minute_in_beijing_time() -> None:
    w = windows(fx.NOW + 17)  # a timestamp inside the minute snaps to its start
    assert w.now == fx.NOW
    assert w.hour_start == fx.NOW - 59 * MINUTE and w.hour_end == fx.NOW + MINUTE
    assert w.day_start == fx.DAY_START == 1647187200  # 2022-03-14 00:00 +08:00
    assert w.day_end - w.day_start == DAY
    assert beijing_day_start(fx.DAY_START - 1) == fx.DAY_START - DAY


def test_an_empty_store_has_no_now_and_no_overview(empty_store: ChdbStore) -> None:
    q = Queries(empty_store, ttl_s=0)
    assert q.latest_minute() is None
    assert q.total_between(0, 2**31) == 0
    assert load_overview(q) is None


def test_loaders_equal_the_ground_truth_of_the_rows_stored(empty_store: ChdbStore) -> None:
    rows = fx.clicks_rows(fx.NOW - 90 * MINUTE, fx.NOW)
    fx.insert_clicks(empty_store, rows)
    q = Queries(empty_store, ttl_s=0)
    start, end = fx.NOW - 60 * MINUTE, fx.NOW + MINUTE

    assert q.latest_minute() == fx.NOW
    assert q.total_between(start, end) == truth(rows, start, end)["all"]
    assert dict(q.per_minute_national(start, end)) == dict(truth(rows, start, end, key=0))
    assert q.total_by_platform(start, end) == dict(truth(rows, start, end, key=1))
    assert q.total_by_province(start, end) == dict(truth(rows, start, end, key=2))
    assert q.total_by_section(start, end) == dict(truth(rows, start, end, key=3))
    assert [ts for ts, _ in q.per_minute_national(start, end)] == sorted(truth(rows, start, end, key=0))


def test_ranges_are_half_open_and_unmerged_parts_are_summed(empty_store: ChdbStore) -> None:
    t = fx.NOW
    # the same key written twice (two sink flushes): SummingMergeTree may not have merged them yet
    fx.insert_clicks(empty_store, [(t, "k12", "450000", "lessons", "view", 5)])
    fx.insert_clicks(empty_store, [(t, "k12", "450000", "lessons", "view", 7)])
    fx.insert_clicks(empty_store, [(t + MINUTE, "higher", "abroad", "mooc", "play", 100)])
    q = Queries(empty_store, ttl_s=0)
    assert q.total_between(t, t + MINUTE) == 12
    assert q.total_between(t, t + 2 * MINUTE) == 112
    assert q.total_between(t + 1, t + MINUTE) == 0
    assert q.total_by_province(t, t + 2 * MINUTE) == {"450000": 12, "abroad": 100}


def test_overview_of_the_fixture_morning(morning_store: ChdbStore) -> None:
    today = fx.clicks_rows(fx.DAY_START + 8 * HOUR, fx.NOW, seed=14)
    ov = load_overview(Queries(morning_store, ttl_s=0))
    assert ov is not None
    assert ov.win.now == fx.NOW and ov.win.day_start == fx.DAY_START
    assert ov.today_total == truth(today, fx.DAY_START, fx.DAY_START + DAY)["all"]  # not yesterday's
    assert ov.hour_total == truth(today, fx.NOW - 59 * MINUTE, fx.NOW + MINUTE)["all"]
    per_minute = truth(today, fx.NOW - 59 * MINUTE, fx.NOW + MINUTE, key=0)
    assert dict(ov.series) == dict(per_minute) and len(ov.series) == 60
    assert (ov.rate_minute, ov.rate) == (fx.NOW - MINUTE, per_minute[fx.NOW - MINUTE])
    assert ov.peak == max(per_minute.values())
    assert ov.late_today == sum(r[3] for r in fx.late_rows(fx.DAY_START + 9 * HOUR, 4))
    # the breakdowns follow the chosen range (the last hour by default), the KPIs stay today's
    assert sum(ov.by_platform.values()) == sum(ov.by_province.values()) == ov.span_total == ov.hour_total
    today = load_overview(Queries(morning_store, ttl_s=0), Filters(range="today"))
    assert today is not None and sum(today.by_section.values()) == today.span_total == ov.today_total


def test_just_after_midnight_today_starts_at_midnight_but_the_line_spans_the_last_hour(
    empty_store: ChdbStore,
) -> None:
    midnight = fx.DAY_START
    rows = fx.clicks_rows(midnight - 50 * MINUTE, midnight + 10 * MINUTE)
    fx.insert_clicks(empty_store, rows)
    ov = load_overview(Queries(empty_store, ttl_s=0))
    assert ov is not None
    assert ov.win.day_start == midnight
    assert ov.today_total == truth(rows, midnight, midnight + DAY)["all"]
    assert len(ov.series) == 60 and ov.series[0][0] == midnight - 49 * MINUTE


def test_rate_uses_the_last_full_minute_and_a_lone_minute_when_that_is_all() -> None:
    now = fx.NOW
    assert rate_point([(now - 120, 4), (now - 60, 5), (now, 1)], now) == (now - 60, 5)
    assert rate_point([(now - 120, 4), (now, 1)], now) == (now - 60, 0)  # stored nothing: 0
    assert rate_point([(now, 9)], now) == (now, 9)
    assert peak_point([(now - 60, 7), (now - 120, 7), (now, 3)]) == (now - 120, 7)
    assert peak_point([]) == (0, 0)


def test_cache_serves_repeats_within_the_ttl_and_requeries_after(morning_store: ChdbStore) -> None:
    spy, clock = SpyStore(morning_store), FrozenClock()
    registry = CollectorRegistry()
    q = Queries(spy, ttl_s=1.5, clock=clock, metrics=CockpitMetrics(registry))  # type: ignore[arg-type]
    # within one hour: the minute table alone answers (whole hours and days read the rollups)
    first = q.total_between(fx.NOW - 30 * 60, fx.NOW)
    for _ in range(9):  # nine more viewers in the same refresh
        assert q.total_between(fx.NOW - 30 * 60, fx.NOW) == first
    assert len(spy.calls) == 1
    q.total_between(fx.NOW - 20 * 60, fx.NOW)  # other params, other key
    assert len(spy.calls) == 2
    clock.t += 1.5
    q.total_between(fx.NOW - 30 * 60, fx.NOW)
    assert len(spy.calls) == 3

    def sample(outcome: str) -> float | None:
        return registry.get_sample_value(
            "edu_cockpit_named_queries_total", {"query": "total_between", "outcome": outcome}
        )

    assert (sample("hit"), sample("miss")) == (9.0, 3.0)


def test_concurrent_misses_of_one_key_cost_a_single_query(morning_store: ChdbStore) -> None:
    viewers = 10
    release = threading.Event()
    entries = 0
    lock = threading.Lock()

    def clock() -> float:
        # called once per viewer on entry (and once more by the one that queries): when all have
        # entered, the others are queued behind the one query in flight, so let it finish
        nonlocal entries
        with lock:
            entries += 1
            if entries >= viewers + 1:
                release.set()
        return 0.0

    class SlowSpy(SpyStore):
        def query(self, sql: str, params: Any = None) -> list[tuple[Any, ...]]:
            assert release.wait(10)
            return super().query(sql, params)

    spy = SlowSpy(morning_store)
    q = Queries(spy, ttl_s=60, clock=clock)  # type: ignore[arg-type]
    results: list[int] = []
    threads = [
        threading.Thread(target=lambda: results.append(q.total_between(fx.NOW - 30 * 60, fx.NOW)))
        for _ in range(viewers)
    ]
    for th in threads:
        th.start()
    for th in threads:
        th.join(10)
    assert len(results) == viewers and len(set(results)) == 1
    assert len(spy.calls) == 1


def test_store_errors_propagate_and_are_counted(store: ChdbStore) -> None:
    class Broken:
        database, engine = "edu", "chdb"

        def query(self, sql: str, params: Any = None) -> list[tuple[Any, ...]]:
            raise StoreError("Connection refused")

    registry = CollectorRegistry()
    q = Queries(Broken(), ttl_s=10, metrics=CockpitMetrics(registry))  # type: ignore[arg-type]
    with pytest.raises(StoreError):
        q.latest_minute()
    with pytest.raises(StoreError):  # failures are not cached
        q.latest_minute()
    assert (
        registry.get_sample_value("edu_cockpit_named_queries_total", {"query": "latest_minute", "outcome": "error"})
        == 2.0
    )


def test_every_named_query_runs_on_the_store(morning_store: ChdbStore) -> None:
    q = Queries(morning_store, ttl_s=0)
    values = {"start": fx.DAY_START, "end": fx.NOW, "limit": 5, "step": 60, "ids": ("r1", "m1")}
    for name in USED:  # the storage layer's queries, with their own parameters
        params = {p: values[p] for p in params_of(name)}
        assert isinstance(q.run(name, **params), tuple)
        if name in sink_queries.FILTERABLE:  # and with both filters bound
            assert isinstance(q.run(name, **params, platform="k12", province="450000"), tuple)
        else:  # a filter a query cannot take is refused, never ignored
            with pytest.raises(TypeError):
                q.run(name, **params, platform="k12")
    assert q.ping() is True


def test_the_cockpit_holds_no_sql_of_its_own() -> None:
    """Every query the cockpit runs is a storage-layer named query: one place for each."""
    import pathlib
    import re

    import cockpit

    assert set(USED) <= set(sink_queries.NAMED)
    root = pathlib.Path(cockpit.__file__).parent
    for path in root.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        hits = [m for m in re.findall(r"\b(?:FROM|GROUP BY|INSERT INTO)\b", text)]
        assert not hits, f"{path.relative_to(root)} holds SQL: {hits}"


def test_report_reads_the_hourly_rollup_and_equals_the_minute_table(morning_store: ChdbStore) -> None:
    spy = SpyStore(morning_store)
    q = Queries(spy, ttl_s=0)  # type: ignore[arg-type]
    start, end = fx.DAY_START - DAY, fx.DAY_START + DAY
    daily = q.daily_totals(start, end)
    by_province = q.daily_by_province(start, end, platform="k12")
    assert spy.calls and all("clicks_hour" in sql and "clicks_minute" not in sql for sql in spy.calls)
    direct = morning_store.query(
        f"SELECT toYYYYMMDD(minute) AS d, sum(clicks) FROM {morning_store.database}.clicks_minute "
        "WHERE minute >= toDateTime(%(s)s) AND minute < toDateTime(%(e)s) GROUP BY d ORDER BY d",
        {"s": start, "e": end},
    )
    assert daily == [(int(d), int(n)) for d, n in direct]
    assert by_province == q.total_by_province(start, end, platform="k12")
