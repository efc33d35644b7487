"""The engine end to end, without services: a one-province closure on plain school days.

Rows are what the rates topic carries (`ClickRow`: minute, platform, province, section, action, clicks), drawn
from the simulators' school-day curve with Poisson noise; the clock is the event-time watermark.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from prometheus_client import CollectorRegistry

from alerts.engine import AlertEngine, EngineConfig
from alerts.metrics import AlertMetrics
from alerts.model import Notification
from alerts.service import engine_config
from contracts.alerts import State, StateChange
from contracts.rates import ClickRow
from contracts.settings import Settings
from tests.alerts.helpers import DAY, MONDAY, school_day_curve

SHARE = {"210000": 0.30, "220000": 0.15, "130000": 0.30, "440000": 0.22, "540000": 0.03}  # of this test's nation
MIX = {"k12": 0.80, "vocational": 0.08, "higher": 0.08, "employment": 0.04}
SECTIONS = {
    "k12": {"lessons": 0.6, "topic": 0.4},
    "vocational": {"vocational_courses": 1.0},
    "higher": {"mooc": 1.0},
    "employment": {"jobs": 1.0},
}
PER_DAY = 1_500_000
WED_8 = MONDAY + 2 * DAY + 8 * 3600
RAMP_3X = WED_8 + int(0.4 * 24 * 3600)  # 1 + 5 * 0.4 = 3x at 17:36 on Wednesday
REOPEN = MONDAY + 2 * DAY + 21 * 3600  # the test reopens Jilin's schools at 21:00


def jilin_factor(t: int) -> float:
    if t < WED_8 or t >= REOPEN:
        return 1.0
    return 1.0 + 5.0 * min(1.0, (t - WED_8) / (24 * 3600))


def rows(start: int, stop: int, seed: int = 11, closure: bool = True) -> Iterator[tuple[int, list[ClickRow]]]:
    rng = np.random.default_rng(seed)
    curve = school_day_curve()
    for t in range(start, stop, 60):
        minute_of_day = ((t + 8 * 3600) % DAY) // 60
        base = PER_DAY / 1440 * curve[minute_of_day]
        out: list[ClickRow] = []
        for prov, share in SHARE.items():
            for plat, mix in MIX.items():
                f = jilin_factor(t) if closure and prov == "220000" and plat == "k12" else 1.0
                for sec, w in SECTIONS[plat].items():
                    n = int(rng.poisson(base * share * mix * w * f))
                    if n:
                        out.append(ClickRow(t, plat, prov, sec, "view", n))
        yield t, out


def run(engine: AlertEngine, start: int, stop: int, closure: bool = True) -> list[StateChange]:
    changes: list[StateChange] = []
    for t, batch in rows(start, stop, closure=closure):
        engine.ingest(batch)
        for res in engine.advance(t + 60):  # watermark: the end of the minute just sent
            changes += res.changes
    return changes


def make_engine(**kw: Any) -> AlertEngine:
    return AlertEngine(EngineConfig(lateness_s=0), provinces=tuple(SHARE), **kw)


Run = tuple[AlertEngine, list[StateChange], list[Notification]]


@pytest.fixture(scope="module")
def closure_run() -> Run:
    notes: list[Notification] = []
    changes: list[StateChange] = []
    engine = make_engine(deliver=notes.extend, on_change=changes.append, metrics=AlertMetrics(CollectorRegistry()))
    run(engine, MONDAY, REOPEN + 3 * 3600)
    return engine, changes, notes


def test_ordinary_school_days_raise_nothing(closure_run: Run) -> None:
    _, changes, _ = closure_run
    assert not [c for c in changes if c.at < WED_8 + 3600], [(c.alertname, c.labels) for c in changes][:5]


def test_closure_province_surges_within_15_minutes_of_3x_and_nobody_else(closure_run: Run) -> None:
    _, changes, notes = closure_run
    firing = [c for c in changes if c.new_state is State.FIRING and c.alertname == "TrafficSurge"]
    assert firing, "no surge alert"
    assert {c.labels.get("province") for c in firing} == {"220000"}
    first = firing[0]
    # one alert per province, whichever of its series (here its K-12 platform) shows the surge first
    assert first.labels["scope"] == "province" and first.annotations["series"] == "Jilin K-12"
    assert first.at - RAMP_3X <= 15 * 60, (first.at - RAMP_3X) / 60
    assert float(first.annotations["ratio"]) >= 2.0  # the surge level k (2.5 before issue 18)
    assert first.annotations["summary"].startswith("Jilin K-12: ")
    sent = [n for n in notes if n.status == "firing" and not n.refresh and n.labels["alertname"] == "TrafficSurge"]
    assert {n.labels["scope"] for n in sent} == {"province"}


def test_surge_resolves_after_the_schools_reopen(closure_run: Run) -> None:
    _, changes, notes = closure_run
    fired = {c.fingerprint for c in changes if c.new_state is State.FIRING and c.alertname == "TrafficSurge"}
    resolved = [c for c in changes if c.new_state is State.RESOLVED and c.alertname == "TrafficSurge"]
    assert {c.fingerprint for c in resolved} == fired
    # the episode ends on an hour of normal evidence, then the rule's hold (10 min)
    assert all(REOPEN < c.at <= REOPEN + 90 * 60 for c in resolved)
    for fp in fired:
        assert [n.status for n in notes if n.fingerprint == fp and not (n.refresh or n.repeat)] == [
            "firing",
            "resolved",
        ]


def test_national_deviation_is_explained_by_the_closed_province(closure_run: Run) -> None:
    engine, _, _ = closure_run
    # replay the surge evening into a fresh engine and ask for the explanation at 20:00
    e = make_engine()
    run(e, MONDAY, MONDAY + 2 * DAY + 20 * 3600)
    readings = {k: d.last for k, d in e.detectors.items()}
    text = e.explanation(("national",), readings)
    assert text.split(": ")[1].startswith("Jilin"), text
    assert "above baseline" in text and "K-12" in text


def test_metrics_follow_the_engine(closure_run: Run) -> None:
    engine, _, _ = closure_run
    m = engine.metrics
    assert m is not None
    assert m.minutes._value.get() == (REOPEN + 3 * 3600 - MONDAY) / 60
    assert m.province_rate.labels("220000")._value.get() >= 0


def test_silence_holds_back_the_notification_but_not_the_record() -> None:
    notes: list = []
    changes: list[StateChange] = []
    engine = make_engine(deliver=notes.extend, on_change=changes.append)
    engine.silence({"province": "220000"}, MONDAY, REOPEN, author="ops.zhang", comment="closure announced")
    run(engine, MONDAY, RAMP_3X + 1800)
    assert [c for c in changes if c.new_state is State.FIRING and c.silenced]
    assert not [n for n in notes if n.labels.get("province") == "220000"]


def test_late_rows_are_counted_not_applied() -> None:
    engine = make_engine()
    engine.ingest([ClickRow(MONDAY, "k12", "220000", "lessons", "view", 5)])
    engine.advance(MONDAY + 120)
    engine.ingest([ClickRow(MONDAY, "k12", "220000", "lessons", "view", 5)])
    assert engine.late_rows == 1


def test_a_platform_series_of_a_province_is_judged_from_its_first_click() -> None:
    """Pairs of a platform and a province that never carry traffic are not judged every minute (a
    scenario of one platform left 105 of 140 empty: over half the engine's time, and zeros for the
    kind's shared burstiness to learn); a pair joins its province's alert group at its first click."""
    engine = make_engine()
    assert not [k for k in engine.detectors if k[0] == "pp"]
    engine.ingest([ClickRow(MONDAY, "k12", "220000", "lessons", "view", 5)])
    engine.ingest([ClickRow(MONDAY + 60, "higher", "220000", "lessons", "view", 0)])  # no click: not yet
    engine.ingest([ClickRow(MONDAY + 60, "k12", "999999", "lessons", "view", 3)])  # a province not judged
    results = engine.advance(MONDAY + 600)
    pp = sorted(k for k in engine.detectors if k[0] == "pp")
    assert pp == [("pp", "k12", "220000")]
    assert engine._provinces["220000"] == [("province", "220000"), ("pp", "k12", "220000")]
    assert results[0].readings[("pp", "k12", "220000")].value == 5
    assert results[1].readings[("pp", "k12", "220000")].value == 0


def test_the_engines_defaults_are_the_settings_defaults() -> None:
    """The engine's knobs have defaults of their own (tests and replays build EngineConfig()), and the
    settings have theirs (the service): one surge threshold, pending time and hold, or a replay and
    the running service judge differently."""
    served, own = engine_config(Settings.model_construct()), EngineConfig()
    differ = [f.name for f in dataclasses.fields(own) if getattr(served, f.name) != getattr(own, f.name)]
    assert not differ, differ
