"""Episodes on one series and spikes through the engine: fast, synthetic, no generator.

A seven-week closure keeps firing to its last day (the baseline does not learn it), holds through
nights and weekends, and ends on the first morning after reopening with no drop after it; a single
minute of 30x in one province is an anomaly alert at once.
"""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np
import pytest

from alerts.detectors import DROP, NORMAL, SURGE, SeriesDetector, clustered_z, deviance_z, dispersions
from alerts.engine import AlertEngine, EngineConfig
from contracts.alerts import State
from contracts.rates import ClickRow
from tests.alerts.helpers import DAY, MONDAY, school_day_curve, sessions, weekend_curve


def term(weeks: int, per_day: float) -> np.ndarray:
    """Expected clicks per minute over whole weeks starting on a Monday (weekends at 60 %)."""
    week = np.concatenate([np.tile(school_day_curve(), 5), 0.6 * np.tile(weekend_curve(), 2)])
    return np.tile(week, weeks) * per_day / 1440.0


def test_deviance_z_is_a_tail_quantile_in_dispersion_units() -> None:
    assert deviance_z(100, 100, 1.0) == 0.0
    assert 3.5 < deviance_z(140, 100, 1.0) < 4.0  # Poisson: 140 against 100 is ~3.8 sd
    assert deviance_z(140, 100, 4.0) == deviance_z(140, 100, 1.0) / 2  # burstier: half the evidence
    assert deviance_z(0, 20, 1.0) < -6 and deviance_z(0, 2, 1.0) > -2.1  # no clicks: rare only if many were due


def _sessions_tail_z(obs: int, exp: float, phi: float) -> float:
    """The exact quantile of P(X >= obs) (obs above exp) or P(X <= obs) for Poisson sessions with
    geometric clicks of mean (phi + 1) / 2: Panjer's recursion on the compound distribution."""
    m = (phi + 1.0) / 2.0
    q, lam = 1.0 - 1.0 / m, exp / m
    top = max(obs, int(exp)) + 1
    j = np.arange(1, top + 1)
    jf = j * (1.0 - q) * q ** (j - 1)  # j x P(a session has j clicks)
    g = np.zeros(top + 1)
    g[0] = math.exp(-lam)
    for n in range(1, top + 1):
        g[n] = lam / n * float(np.dot(jf[:n], g[n - 1 :: -1][:n]))
    if obs > exp:
        return -NormalDist().inv_cdf(max(1.0 - float(g[:obs].sum()), 1e-300))
    return NormalDist().inv_cdf(float(g[: obs + 1].sum()))


@pytest.mark.parametrize("phi", [1.0, 4.0, 18.0])
@pytest.mark.parametrize(("units", "ratio"), [(3, 5.0), (4, 4.0), (6, 3.0), (12, 2.5), (12, 2.2), (30, 2.0), (12, 0.3)])
def test_clustered_z_is_the_tail_of_clicks_in_sessions(phi: float, units: float, ratio: float) -> None:
    """Within 0.1 of the exact tail quantile from 3 units up, where the quasi-Poisson deviance
    overstates a surge by up to half a standard deviation when clicks come in sessions."""
    exp = units * phi
    obs = round(ratio * exp)
    exact = _sessions_tail_z(obs, exp, phi)
    assert clustered_z(obs, exp, phi) == pytest.approx(exact, abs=0.1)
    if phi > 4 and ratio > 1:
        assert deviance_z(obs, exp, phi) > exact + 0.15


@pytest.mark.parametrize(("obs", "exp", "phi"), [(2, 0.02, 19.0), (20, 0.005, 19.0), (3, 0.0004, 4.0)])
def test_clustered_z_far_below_one_session_is_one_sessions_tail(obs: int, exp: float, phi: float) -> None:
    """Far fewer sessions than one expected (a night's baseline near zero): one session of obs clicks,
    as the exact tail says; the saddlepoint's root meets its pole there."""
    assert clustered_z(obs, exp, phi) == pytest.approx(_sessions_tail_z(obs, exp, phi), abs=0.05)


def test_clustered_z_is_finite_for_any_counts() -> None:
    """Any window a detector may read (a baseline near zero, a dispersion inflated by the variance
    floor to hundreds of thousands) gives a finite z: it once divided by zero on 53 clicks against
    0.0003 expected with phi 740,868, and read 2 clicks there as z = 667 (a million clicks: z ~2,000)."""
    assert clustered_z(53, 0.000286, 740_868.0) == pytest.approx(6.04, abs=0.05)
    assert clustered_z(2, 0.000286, 740_868.0) == pytest.approx(6.04, abs=0.05)
    rng = np.random.default_rng(3)
    for exp, phi, obs in zip(
        10 ** rng.uniform(-9, 5, 20_000),
        10 ** rng.uniform(0, 7, 20_000),
        np.floor(10 ** rng.uniform(0, 6, 20_000)) * (rng.random(20_000) < 0.9),
        strict=True,
    ):
        z = clustered_z(float(obs), float(exp), float(phi))
        assert math.isfinite(z) and abs(z) < 10_000, (obs, exp, phi, z)


def test_clustered_z_of_no_clicks_is_no_session() -> None:
    """Zero clicks means zero sessions: exactly e^-(exp / m)."""
    assert clustered_z(0, 36.0, 17.0) == pytest.approx(NormalDist().inv_cdf(math.exp(-4.0)))
    assert clustered_z(0, 0.0, 17.0) == 0.0 and clustered_z(5, 0.0, 17.0) == 0.0
    assert clustered_z(100, 100, 9.0) == pytest.approx(0.0, abs=0.05)


def test_a_seven_week_closure_is_one_episode_that_ends_on_the_first_morning() -> None:
    weeks, per_day = 12, 30_000
    lam = term(weeks, per_day)
    start, end = 3 * 7 * 1440 + 5 * 1440, 10 * 7 * 1440 + 5 * 1440  # Saturday of week 4 .. Saturday of week 11
    lam[start:end] *= 4.0
    x = sessions(lam, seed=21)
    det = SeriesDetector(anomaly=False)
    states, ratios = [], []
    for i, v in enumerate(x):
        r = det.observe(float(MONDAY + 60 * i), float(v))
        states.append(det.state)
        ratios.append(r.surge_ratio)
    s = np.array(states)
    assert (s[:start] == NORMAL).all()
    assert not (s == DROP).any()  # nothing anywhere, and no drop after the reopening
    onset = int(np.argmax(s == SURGE))
    assert onset - start <= 12 * 60, onset - start  # on the closure's first (weekend) day
    on = s[onset:end]
    assert (on == SURGE).all()  # one episode: nights, weekends and seven weeks hold it
    last_week = [r for r in ratios[end - 3 * 1440 : end] if r is not None]
    assert np.median(last_week) > 3.5  # the baseline did not learn the closure
    back = int(np.argmax(s[end:] == NORMAL)) + end
    monday_8 = end + 2 * 1440 + 8 * 60
    assert back <= monday_8 + 2 * 60, (back - end) / 60
    after = [r for r in ratios[monday_8 + 4 * 60 :] if r is not None]
    assert 0.85 < np.median(after) < 1.15  # a reopening returns to ratio 1


def test_thirty_times_one_minute_in_one_province_is_an_anomaly_within_two_minutes() -> None:
    provinces = ("370000", "640000")
    engine = AlertEngine(EngineConfig(lateness_s=0), provinces=provinces)
    rng = np.random.default_rng(3)
    curve = school_day_curve()
    spike_at = MONDAY + 3 * DAY + 10 * 3600  # Thursday 10:00
    fired = []
    for t in range(MONDAY, spike_at + 10 * 60, 60):
        base = 1_000 * curve[((t + 8 * 3600) % DAY) // 60]  # ~1,000 clicks a minute in lesson hours
        rows = [
            ClickRow(t, "k12", p, "lessons", "view", int(rng.poisson(base * w)))
            for p, w in zip(provinces, (1.0, 0.1), strict=False)
        ]
        if t == spike_at:
            rows.append(ClickRow(t, "k12", "370000", "lessons", "view", 30_000))
        engine.ingest(rows)
        for res in engine.advance(t + 60):
            fired += [c for c in res.changes if c.new_state is State.FIRING]
    anomalies = [c for c in fired if c.alertname == "TrafficAnomaly" and c.labels.get("province") == "370000"]
    assert anomalies and anomalies[0].at - spike_at <= 120, [(c.alertname, c.labels, c.at - spike_at) for c in fired]
    assert not [c for c in fired if c.alertname in ("TrafficDrop", "TrafficOutage")]
    assert not [c for c in fired if c.labels.get("province") == "640000"]


def test_shared_dispersions_include_single_minutes_for_spikes() -> None:
    assert 1 in dispersions(SeriesDetector().surge_p)


def test_school_mornings_skip_holidays_and_take_make_up_days() -> None:
    from alerts.episodes import closures, school_morning
    from contracts.calendar import SchoolCalendar
    from simulators.scenario import load_scenario

    friday_28_april = 1_682_611_200  # 2023-04-28 00:00 Beijing
    cal = SchoolCalendar.parse(rest="2023-05-01..2023-05-03", school="2023-05-06")
    # Friday 08:00, then (after 08:00) past the weekend and the holiday to Thursday 4 May
    assert school_morning(friday_28_april) == friday_28_april + 8 * 3600
    assert school_morning(friday_28_april + 9 * 3600, cal) == friday_28_april + 6 * 86_400 + 8 * 3600
    # Friday 5 May after 08:00: the make-up Saturday
    assert school_morning(friday_28_april + 7 * 86_400 + 9 * 3600, cal) == friday_28_april + 8 * 86_400 + 8 * 3600
    # a province's own rest day is its own
    own = SchoolCalendar.parse(rest="440000:2023-04-28")
    assert school_morning(friday_28_april, own, "440000") == friday_28_april + 3 * 86_400 + 8 * 3600
    assert school_morning(friday_28_april, own, "110000") == friday_28_april + 8 * 3600
    # the shipped holiday scenario: Henan's closure from the holiday's fourth day is judged from Thursday
    by = {c.province: c for c in closures(load_scenario("holidays-labour-day"))}
    assert by["410000"].first_morning == friday_28_april + 6 * 86_400 + 8 * 3600
    assert by["610000"].first_morning == friday_28_april - 5 * 86_400 + 8 * 3600  # the make-up Sunday
