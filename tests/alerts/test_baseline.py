"""Seasonal baseline: learns the school-day curve, keeps its band, is not dragged by an anomaly."""

from __future__ import annotations

import numpy as np

from alerts.baseline import SeasonalBaseline
from tests.alerts.helpers import DAY, MONDAY, minutes, poisson, school_days, sessions, weekend_curve


def _feed(b: SeasonalBaseline, t: np.ndarray, x: np.ndarray) -> None:
    for a, v in zip(t, x, strict=False):
        b.update(float(a), float(v))


def test_learns_the_daily_curve_within_a_few_percent() -> None:
    lam = school_days(3, 100_000)
    b = SeasonalBaseline()
    _feed(b, minutes(2), lam[: 2 * 1440])
    for minute in (3 * 60, 9 * 60 + 30, 12 * 60 + 30, 20 * 60):
        t = MONDAY + 2 * DAY + 60 * minute
        e = b.expected(t)
        assert e is not None
        truth = lam[2 * 1440 + minute]
        assert abs(e.mean - truth) <= 0.06 * truth, (minute, e.mean, truth)
        assert e.lower <= e.mean <= e.upper


def test_no_baseline_before_min_visits_and_none_for_an_unseen_weekend() -> None:
    b = SeasonalBaseline(min_visits=2)
    _feed(b, minutes(1), school_days(1, 50_000))
    assert b.expected(MONDAY + DAY + 9 * 3600) is None
    _feed(b, minutes(1, MONDAY + DAY), school_days(1, 50_000))
    assert b.expected(MONDAY + 2 * DAY + 9 * 3600) is not None
    saturday = MONDAY + 5 * DAY + 9 * 3600
    assert b.expected(saturday) is None  # school days never judge a weekend (no any-day profile answers)


def test_weekend_profile_used_once_it_has_been_seen() -> None:
    b = SeasonalBaseline(min_visits=1)
    _feed(b, minutes(5), school_days(5, 50_000))
    sat = MONDAY + 5 * DAY
    _feed(b, minutes(1, sat), np.asarray(weekend_curve()) * 40_000 / 1440)
    e = b.expected(MONDAY + 12 * DAY + 8 * 3600)  # next Saturday 08:00
    assert e is not None and e.grouping in ("weekday", "daytype")
    assert abs(e.mean - weekend_curve()[8 * 60] * 40_000 / 1440) < 0.1 * e.mean


def test_a_surge_day_barely_moves_the_baseline() -> None:
    lam = school_days(5, 100_000)
    b = SeasonalBaseline()
    _feed(b, minutes(4), lam[: 4 * 1440])  # Monday to Thursday
    ten = MONDAY + 4 * DAY + 10 * 3600
    before = b.expected(ten).mean
    _feed(b, minutes(1, MONDAY + 4 * DAY), lam[4 * 1440 :] * 5.0)  # Friday: 5x all day
    after = b.expected(ten + 7 * DAY).mean  # next Friday, 10:00 (school-day profile)
    assert after < 1.1 * before, (before, after)
    _feed(b, minutes(1, MONDAY + 7 * DAY), lam[:1440])  # a plain Monday, then the next Friday
    _feed(b, minutes(1, MONDAY + 11 * DAY), lam[:1440])
    e = b.expected(ten + 14 * DAY)
    assert e.mean < 1.1 * before, e  # the Friday profile saw [5x, 1x]: not trusted, school days answer


def test_ratio_is_the_surge_ratio() -> None:
    b = SeasonalBaseline()
    _feed(b, minutes(3), school_days(3, 100_000))
    t = MONDAY + 3 * DAY + 10 * 3600
    e = b.expected(t)
    assert abs(b.ratio(t, 3 * e.mean) - 3.0) < 1e-9


# ---------------------------------------------------------------- a young series borrows a prior
def _week(per_day: float) -> np.ndarray:
    """Expected clicks per minute over one week from Monday: five school days, then a weekend."""
    return np.concatenate([school_days(5, per_day), np.tile(weekend_curve(), 2) * 0.7 * per_day / 1440.0])


def _parent_and_child(
    share: float, child_from_day: int, days: int, seed: int = 3
) -> tuple[SeasonalBaseline, SeasonalBaseline, np.ndarray]:
    """A national-like parent fed `days` days from MONDAY, and a child with `share` of it that joins
    on day `child_from_day`, fed minute by minute in step. Returns both and the expected rates."""
    lam = np.tile(_week(2_000_000), 3)
    parent = SeasonalBaseline()
    child = SeasonalBaseline(prior=parent)
    xp, xc = poisson(lam, seed), poisson(lam * share, seed + 1)
    for i, t in enumerate(minutes(days)):
        parent.update(float(t), float(xp[i]))
        if i >= child_from_day * 1440:
            child.update(float(t), float(xc[i]))
    return parent, child, lam


def test_a_series_that_joins_late_borrows_the_priors_shape_scaled_by_its_share() -> None:
    """Joining on the second Friday: its first weekend and the Monday after are judged by the national
    shape (weekend included) times its share, within a few percent of the truth; no profile of its
    own could answer them."""
    share = 0.01
    _, child, lam = _parent_and_child(share, child_from_day=11, days=12)  # to the end of that Friday
    # the child has one school day (Friday) and no weekend of its own; ask about the next days
    for day, minute in ((12, 10 * 60), (13, 20 * 60), (14, 9 * 60 + 30)):  # Sat 10:00, Sun 20:00, Mon 09:30
        t = MONDAY + day * DAY + 60 * minute
        e = child.expected(t)
        assert e is not None and e.grouping == "prior", (day, e)
        truth = lam[(day % 7) * 1440 + minute] * share
        assert abs(e.mean - truth) <= 0.08 * truth, (day, e.mean, truth)
        assert e.visits == child.min_visits  # as mature as the youngest own profile that may answer
    assert child.expected(MONDAY + 12 * DAY + 10 * 3600) is not None
    assert SeasonalBaseline().expected(MONDAY + 12 * DAY + 10 * 3600) is None  # no prior: silent


def test_no_prior_answer_until_the_share_is_known() -> None:
    parent, _, lam = _parent_and_child(0.01, child_from_day=11, days=14)
    child = SeasonalBaseline(prior=parent)
    t0 = MONDAY + 14 * DAY  # a Monday the parent knows
    child.update(float(t0), 3.0)
    assert child.share() is None and child.expected(t0 + 3600) is None
    # a trickle: a click now and then is no share to scale a whole day by
    tiny = poisson(lam[:1440] * 2e-6, 11)
    for i in range(1440):
        child.update(float(t0 + 60 * i), float(tiny[i]))
    assert child.share() is None
    assert child.expected(t0 + DAY + 10 * 3600) is None


def test_the_share_is_not_dragged_by_a_closure_it_has_not_yet_judged() -> None:
    """A child closed (x3) from 07:00 on its second day: by noon (when a detector judging by the prior
    has fired and stopped its learning) its share has moved by a few percent, not towards 3x (each
    visit beyond winsor_k deviations of the share is clipped and damped, as a slot's EWMA step is)."""
    lam = np.tile(_week(2_000_000), 3)
    parent = SeasonalBaseline()
    child = SeasonalBaseline(prior=parent)
    xp = poisson(lam, 5)
    factor = np.ones(lam.size)
    join, closure = 15 * 1440, 16 * 1440 + 7 * 60  # Tuesday of week 3; closed from Wednesday 07:00
    factor[closure:] = 3.0
    xc = poisson(lam * 0.02 * factor, 6)
    before = None
    for i, t in enumerate(minutes(17)[: closure + 5 * 60]):
        parent.update(float(t), float(xp[i]))
        if i >= join:
            child.update(float(t), float(xc[i]))
        if i == closure:
            before = child.share()
    after = child.share()
    assert before is not None and after is not None
    assert abs(before - 0.02) < 0.1 * 0.02, before
    assert after < 1.08 * before, (before, after)


def _twins(
    share: float, days: int, shift_min: int = 0, seed: int = 9
) -> tuple[SeasonalBaseline, SeasonalBaseline, np.ndarray]:
    """A parent and two children fed one child's clicks (sessions of ten clicks): one shrunk
    towards the parent's shape, one on its own profile alone. The child's day is the parent's
    shifted by shift_min minutes. Returns both children and the child's expected rates."""
    lam = np.tile(_week(2_000_000), 3)[: days * 1440]
    parent = SeasonalBaseline()
    blended, alone = SeasonalBaseline(prior=parent), SeasonalBaseline(prior=parent, prior_shape_rel=0.0)
    child_lam = np.roll(lam, shift_min) * share
    xp, xc = poisson(lam, seed), sessions(child_lam, seed + 1)
    for i, t in enumerate(minutes(days)):
        parent.update(float(t), float(xp[i]))
        blended.update(float(t), float(xc[i]))
        alone.update(float(t), float(xc[i]))
    return blended, alone, child_lam


def test_a_small_series_leans_on_its_priors_shape() -> None:
    """A small province (a few clicks a minute, in sessions of ten) with two weeks of history: its
    own slots have seen two or three days each, and err by a fifth or more; shrunk towards the
    parent's shape times its share, its school mornings are told to within a few percent."""
    blended, alone, lam = _twins(0.002, days=15)
    err_b, err_a = [], []
    for minute in range(8 * 60, 21 * 60, 7):
        t = MONDAY + 15 * DAY + 60 * minute  # the third Tuesday
        truth = lam[1440 + minute]  # a Tuesday: the week repeats
        b, a = blended.expected(t), alone.expected(t)
        assert b is not None and a is not None
        err_b.append(abs(b.mean / truth - 1))
        err_a.append(abs(a.mean / truth - 1))
        assert b.visits >= a.visits  # the combination is worth more visits than the slot alone
    assert np.mean(err_b) < 0.6 * np.mean(err_a), (np.mean(err_b), np.mean(err_a))
    assert max(err_b) < 0.2, max(err_b)


def test_a_series_with_a_shape_of_its_own_keeps_it() -> None:
    """A province whose day runs three hours behind its parent's (a far western one): where the two
    shapes disagree beyond the slot's noise, its own profile answers, not the parent's, and over the
    day the shrinkage costs it little."""
    blended, alone, lam = _twins(0.05, days=15, shift_min=180)
    err_b, err_a = [], []
    for minute in range(0, 1440, 20):
        t = MONDAY + 15 * DAY + 60 * minute
        truth = lam[1440 + minute]  # a Tuesday
        b, a = blended.expected(t), alone.expected(t)
        assert b is not None and a is not None
        err_b.append(abs(b.mean / truth - 1))
        err_a.append(abs(a.mean / truth - 1))
        if minute in (7 * 60, 9 * 60, 10 * 60):  # the child's ramp: the parent's is three times as high
            assert b.mean == a.mean, (minute, b.mean, a.mean)
    assert np.mean(err_b) < 1.25 * np.mean(err_a), (np.mean(err_b), np.mean(err_a))


def _term(days: int, per_day: float, rest: set[int], school: set[int]) -> np.ndarray:
    """Expected clicks a minute from MONDAY: school days' curve on school days, weekends' (at 0.75 of
    the level) on rest days, as the simulators draw holidays and make-up days."""
    out = []
    for d in range(days):
        weekend = d % 7 >= 5
        resting = (weekend and d not in school) or d in rest
        out.append(weekend_curve() * per_day * 0.75 / 1440 if resting else school_days(1, per_day))
    return np.concatenate(out)


def test_a_holiday_is_judged_by_weekends_and_a_make_up_day_by_school_days() -> None:
    """A holiday Wednesday (day 16) is judged by the weekends' profile and does not teach Wednesdays
    its traffic; a make-up Sunday (day 20) is judged by school days; without the calendar both are
    judged by their weekday, a holiday's 07:30 at less than half its level."""
    holiday, make_up = 16, 20
    lam = _term(28, 100_000, {holiday}, {make_up})
    day0 = (MONDAY + 8 * 3600) // DAY  # MONDAY's local day number
    told = SeasonalBaseline(rest_days=frozenset({day0 + holiday}), school_days=frozenset({day0 + make_up}))
    untold = SeasonalBaseline()
    for b in (told, untold):
        _feed(b, minutes(holiday + 5), lam[: (holiday + 5) * 1440])

    def at(b: SeasonalBaseline, day: int, hour: float = 7.5) -> float:
        e = b.expected(MONDAY + day * DAY + hour * 3600)
        assert e is not None
        return e.mean

    morning = int(7.5 * 60)
    rest_level, school_level = lam[holiday * 1440 + morning], lam[2 * 1440 + morning]
    assert abs(at(told, holiday) - rest_level) < 0.1 * rest_level
    assert abs(at(untold, holiday) - school_level) < 0.1 * school_level
    assert rest_level < 0.5 * school_level  # what a drop rule sees without the calendar
    assert told.day_type(MONDAY + holiday * DAY) == 1 and untold.day_type(MONDAY + holiday * DAY) == 0
    # the Wednesday after: its profile is a plain Wednesday's
    assert abs(at(told, holiday + 7) - school_level) < 0.03 * school_level
    # the make-up Sunday
    assert abs(at(told, make_up) - school_level) < 0.1 * school_level
    assert told.day_type(MONDAY + make_up * DAY) == 0
