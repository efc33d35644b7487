"""Rehearsal planning and pacing, and parsing the worker's metrics for the honest summary: no services
needed (the summary's wait: test_pipeline_counts.py)."""

from __future__ import annotations

import time

import msgspec
import numpy as np
import pytest
from prometheus_client import CollectorRegistry, generate_latest

from contracts.rehearsal import Manifest, decode_manifest, namespace, read_manifest, write_manifest
from contracts.settings import Settings
from simulators import rehearse as rh
from simulators.generator import Generator
from simulators.pipeline_counts import parse
from simulators.scenario import load_scenario
from streams.metrics import WorkerMetrics

NOW_MS = 1_796_430_000_000  # 2026-12-05 08:20 +08, a Saturday


@pytest.mark.parametrize("speed", [1.0, 60.0, 3600.0, 36000.0])
@pytest.mark.parametrize("name", ["march-2022", "one-province-closure"])
def test_the_plan_shifts_whole_weeks_and_never_runs_ahead_of_the_wall_clock(name: str, speed: float) -> None:
    sc = load_scenario(name)
    p = rh.plan(sc, speed=speed, now_ms=NOW_MS, history_days=21)
    assert p.shift_ms % rh.WEEK_MS == 0 and p.shift_ms > 0
    # played from now at x speed, the last event lands at or before the wall clock, within a week of it
    wall_end = NOW_MS + p.paced_wall_s * 1000
    assert p.end_ms <= wall_end < p.end_ms + rh.WEEK_MS
    # every paced event time is at or behind the wall clock at the moment it is due
    for frac in np.linspace(0, 1, 11):
        event_t = p.paced_from_ms + frac * (p.end_ms - p.paced_from_ms)
        assert event_t <= NOW_MS + (event_t - p.paced_from_ms) / speed
    # march-2022 launches its only platform at its start: nothing before it to write
    history = 0 if name == "march-2022" else 21
    assert p.history_from_ms == sc.start_ms + p.shift_ms - history * rh.DAY_MS
    # the scenario keeps its weekday: the shifted start is the same day of the week
    assert (p.scenario.start_ms - sc.start_ms) % rh.WEEK_MS == 0
    assert [e.start_ms - p.shift_ms for e in p.scenario.events] == [e.start_ms for e in sc.events]


def test_the_story_starts_on_the_day_of_the_first_event_that_is_not_a_launch() -> None:
    march = load_scenario("march-2022")
    assert rh.fmt_ms(rh.story_start(march)) == "2022-03-14 00:00+08"  # closures; the launch is the start
    closure = load_scenario("one-province-closure")
    assert rh.fmt_ms(rh.story_start(closure)) == "2022-11-09 00:00+08"  # Jilin closes at 08:00


def test_speed_below_real_time_is_refused() -> None:
    with pytest.raises(rh.RehearsalError, match="speed"):
        rh.plan(load_scenario("march-2022"), speed=0.5, now_ms=NOW_MS, history_days=0)


def test_a_shifted_scenario_generates_the_same_traffic_moved_by_the_shift() -> None:
    sc = load_scenario("one-province-closure")
    shift = 200 * rh.WEEK_MS
    start = sc.start_ms + 2 * rh.DAY_MS + 9 * 3600_000
    a = [e.ts for b in Generator(sc, seed=1, start_ms=start, end_ms=start + 600_000).batches() for e in b]
    b = [
        e.ts
        for b in Generator(
            rh.shifted(sc, shift), seed=1, start_ms=start + shift, end_ms=start + shift + 600_000
        ).batches()
        for e in b
    ]
    assert len(a) > 300 and [t + shift for t in a] == b


def test_the_schedule_writes_history_at_once_then_paces_the_story() -> None:
    now = [100.0]
    s = rh.RehearsalSchedule(speed=60.0, paced_from_ms=1_000_000, clock=lambda: now[0])
    assert s.due(0, 0) == 0.0
    now[0] = 105.0  # history took 5 s of wall time: still due at once
    assert s.due(10, 500_000) == pytest.approx(5.0)
    now[0] = 107.0  # the first paced message: the story starts now
    assert s.due(20, 1_000_000) == pytest.approx(7.0)
    assert s.due(30, 1_000_000 + 60_000) == pytest.approx(8.0)  # a minute of scenario = 1 s at x60
    assert s.due(40, 1_000_000 + 30_000) == pytest.approx(8.0)  # paced by the latest event time seen


def test_the_summary_reads_the_workers_own_counters() -> None:
    reg = CollectorRegistry()
    m = WorkerMetrics.create(reg)
    m.messages.labels("c").inc(10)
    m.messages.labels("s").inc(5)
    m.messages.labels("other").inc(1000)
    m.events.labels("c").inc(40)
    m.late.inc(30)
    m.deadletter.labels("bad_json").inc(2)
    got = parse(generate_latest(reg).decode(), ("c", "s"))
    assert (got.messages, got.events, got.late, got.refused) == (15, 40, 30, 2)
    with pytest.raises(ValueError, match="not Prometheus"):
        parse("garbage that is not exposition text\n", ("c",))


def test_manifest_round_trip_and_total_decoding(tmp_path) -> None:  # type: ignore[no-untyped-def]
    s = Settings(data_dir=tmp_path)
    assert read_manifest(s) is None
    m = Manifest(
        id="rhabc123",
        scenario="march-2022",
        target="isolated",
        speed=60,
        scale=0.001,
        shift_ms=rh.WEEK_MS,
        started_ms=int(time.time() * 1000),
        paced_from_ms=1,
        end_ms=2,
    )
    write_manifest(s, m)
    assert read_manifest(s) == m
    for junk in (b"", b"\xff\xfe", b"{}", b'{"id": 3}', b"[1,2]"):
        assert isinstance(decode_manifest(junk), str)


def test_an_isolated_namespace_shares_no_topic_group_or_database_with_the_live_one() -> None:
    live = Settings()
    ns = namespace(live, "rh0a0b0c")
    names = (
        "topic_clicks",
        "topic_sessions",
        "topic_rates",
        "topic_session_rates",
        "topic_deadletter",
        "topic_alerts",
        "clickhouse_database",
        "worker_id",
        "sink_group",
    )
    for name in names:
        assert getattr(ns, name) != getattr(live, name), name
    assert {ns.worker_metrics_port, ns.alerts_metrics_port} & {
        live.worker_metrics_port,
        live.alerts_metrics_port,
    } == set()
    assert ns.clickhouse_database == "edu_rh0a0b0c" and ns.topic_clicks == "edu.clicks.v1.rh0a0b0c"


def test_every_country_abroad_is_a_two_letter_code() -> None:
    """A bare NO in the YAML was the boolean false: 155 messages of a rehearsal were refused for it."""
    import re

    from simulators.model import _data

    countries = _data()[2]
    assert all(isinstance(c, str) and re.fullmatch(r"[A-Z]{2}", c) for c in countries), [
        c for c in countries if not (isinstance(c, str) and re.fullmatch(r"[A-Z]{2}", c))
    ]
    assert "NO" in countries


def test_until_stops_the_story_at_a_moment_and_that_moment_lands_now() -> None:
    sc = load_scenario("march-2022")
    until = rh.parse_when("2022-03-25 10:30")
    p = rh.plan(sc, speed=36000, now_ms=NOW_MS, history_days=0, until_ms=until)
    assert p.end_ms == until + p.shift_ms <= NOW_MS + p.paced_wall_s * 1000 < p.end_ms + rh.WEEK_MS
    assert rh.fmt_ms(p.end_ms - p.shift_ms) == "2022-03-25 10:30+08"
    with pytest.raises(rh.RehearsalError, match="within the scenario"):
        rh.plan(sc, speed=60, now_ms=NOW_MS, history_days=0, until_ms=rh.parse_when("2022-04-02 10:00"))
    with pytest.raises(rh.RehearsalError, match="not a date"):
        rh.parse_when("tomorrow")


def test_an_isolated_rehearsals_alerting_is_told_the_shifted_scenarios_holidays(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Moved by whole weeks, Labour Day and its make-up days land on other dates: those, not the
    scenario's own, are what the rehearsal's alerting must judge as rest and school days."""
    sc = load_scenario("holidays-labour-day")
    p = rh.plan(sc, speed=3600.0, now_ms=NOW_MS, history_days=7)
    s = Settings(data_dir=tmp_path, calendar_rest_days="440000:2026-10-01")
    m = Manifest(
        id="rhcal001",
        scenario=sc.name,
        target="isolated",
        speed=3600.0,
        scale=0.01,
        shift_ms=p.shift_ms,
        started_ms=NOW_MS,
        paced_from_ms=p.paced_from_ms,
        end_ms=p.end_ms,
    )
    rest, school = rh.announced(p.scenario)
    told = msgspec.structs.replace(m, rest_days=rest, school_days=school)
    assert decode_manifest(msgspec.json.encode(told)) == told  # it crosses to the cockpit in the manifest
    cal = rh.isolated_settings(s, told).school_calendar
    shift_days = p.shift_ms // rh.DAY_MS
    assert cal.rest_days() == {d + shift_days for d in sc.calendar().rest_days()}
    assert cal.school_days() == {d + shift_days for d in sc.calendar().school_days()}
    assert cal.rest_days("440000") - cal.rest_days() == {20_727}  # the deployment's own day stays (2026-10-01)
    assert rh.isolated_settings(s, m).school_calendar == s.school_calendar
    bad = msgspec.json.encode(msgspec.structs.replace(m, rest_days="2023-02-30"))
    assert isinstance(decode_manifest(bad), str) and "2023-02-30" in str(decode_manifest(bad))
