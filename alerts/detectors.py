"""Per-series detectors on one-minute counts: surge, drop and outage episodes, spikes, the general score.

No absolute click counts: every window is judged against the series' own burstiness (`Dispersion`,
the Var / mean of L-minute sums learnt from yesterday against the day before). A surge shows on
any window of at least `SurgeParams.min_units` independent units, by `clustered_z` (clicks come in
sessions); a drop, and the end of an episode, are judged on the shortest window of
`DropParams.min_units` units by the quasi-Poisson `deviance_z`.
An episode ends only on evidence of normal traffic held for `exit_hold_min`; how long a condition
must hold before an alert fires is the rule's `for_s` (lifecycle). Rules and why: docs/alert-detectors.md.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from statistics import NormalDist

from alerts.anomaly import AnomalyScorer
from alerts.baseline import Expected, SeasonalBaseline

DAY_MIN = 1440
_NORMAL = NormalDist()
_FEW_SESSIONS = 0.03  # sessions expected below which clustered_z takes the one-session tail (exact to 0.03)
_WINSOR_AFTER = 100  # windows learnt before the dispersion estimate caps outliers against itself


@dataclass(frozen=True, slots=True)
class SurgeParams:
    # enter a surge when an evidence window holds at least k x its baseline and z >= z_min. 2.0, not
    # the 2.5 of "a closure worth alerting": a closure of the K-12 platform by 2.5 lifts a province
    # (all platforms) by ~2.2, and the window lags the ramp.
    k: float = 2.0
    window_min: int = 10
    z_min: float = 4.5  # clustered_z: a tail probability of ~3e-6
    # an episode ends only on evidence of normal traffic (z <= z_exit against the baseline) that
    # lasts exit_hold_min; minutes with too little evidence (nights) hold the state
    z_exit: float = 2.0
    exit_hold_min: int = 30
    # ...and only once the minutes since it began favour normal traffic over traffic at the surge's
    # own level by a likelihood ratio of exit_lr, and over k x baseline by exit_lr_k (CUSUMs on each
    # minute's clicks, in units of the longest window's dispersion): a short window dips to "normal"
    # by chance while a small province is still closed, and its alert resolved and fired again every
    # evening; the level tells a big closure's reopening on a few units, k guards a night whose
    # baseline is far off (docs/alert-detectors.md)
    exit_lr: float = 100.0
    exit_lr_k: float = 10.0
    # ...and against k by as much as exit_k_day_share of a day's units at the baseline would give,
    # up to exit_lr_k_max: a closure of weeks gives the CUSUMs a fresh try every night and evening,
    # and a mid-size series' night holds the few units that a chance dip turns into 10:1 (Jiangxi
    # x3.3 read 1.2-1.5x from 01:00 to 04:40 of its 15th night, Liaoning x2.7 0.5-1.1x from 22:30
    # to 00:20: each resolved, and fired again next morning). A small series' nights hold too few
    # units for that, and its reopening morning too few for more than 10:1 by 10:00; a big one's
    # morning holds 100:1 in minutes
    exit_k_day_share: float = 0.1
    exit_lr_k_max: float = 100.0
    # evidence: at least this many independent units (expected count / dispersion) in a window, of
    # up to max_window_min minutes (multiples of window_min). clustered_z is calibrated from 3 units
    # up; a surge needs far more than 4 unless it is large (13 at x2.5, 4 at x4).
    min_units: float = 4.0
    max_window_min: int = 180
    # onset only: longer windows for a series whose three hours hold few units (a mid-size province
    # at 1:1000 holds ~5 units from 08:00 to 10:00, where a x3 closure is z ~3.5; since midnight it
    # holds three times as many), judged once the series has been seen long_after_days: a tiny
    # province's baseline on its fourth day, low from a few clicks a slot, read 4.3x over 12 hours
    long_windows_min: tuple[int, ...] = (360, 720)
    long_after_days: float = 7.0
    # a surge must also persist: on a window of persist x the evidence window (ending now), the
    # traffic is >= k x its baseline and z >= z_min. A chance burst fills one window and is diluted
    # in the longer one; a closure fills both (nights included). 1 turns the check off.
    persist: int = 2
    # ...and that longer window is at least the shortest holding persist_units units: a big series'
    # ten-minute ratio is noisy (a x1.4 week of Guangdong K-12 read 2x on 10-20 min windows six
    # times), its hour is not. 0 turns this off.
    persist_units: float = 48.0
    # ...and the level holds: on the longest window that has a baseline and does not reach back into
    # an episode (up to max_window_min, or the onset's own where longer), traffic is k x its
    # baseline. Ten and forty minutes of a x1.7-1.9 closure of a big province's K-12 read 2.2-2.3x
    # by chance some morning of a long closure, and it fired for days; three hours read ~1.8. A
    # closure at midnight fills the three hours before its first morning too. A window at
    # level_sure x its baseline or more is no chance reading of a rise below k: it needs no such
    # check (a x4 surge at 09:00 fires in minutes; one of x2.5 at 09:00 waits for the level).
    level_holds: bool = True
    level_sure: float = 3.0
    dispersion_days: float = 3.0  # memory of the dispersion estimate
    min_dispersion_pairs: int = 24  # windows (each against the day before) learnt before a window can judge
    # ...over at least this many hours: the first hours learnt are one night's few windows, and a
    # third day's night once judged a province's quiet hours by a burstiness of a third of its own
    min_dispersion_hours: float = 6.0
    dispersion_winsor: float = 4.0  # a window's share is capped at this many standard deviations
    # a one-minute spike (an anomaly alert): k, z and units on the minute itself
    spike_k: float = 5.0
    spike_z: float = 8.0
    spike_units: float = 3.0


@dataclass(frozen=True, slots=True)
class DropParams:
    ratio: float = 0.3  # window total at most this fraction of its baseline
    window_min: int = 10  # the window of the cockpit's ratio and the explanations
    z_min: float = 4.5
    # a drop (and an outage) is judged only on a window of at least this many units: a quiet small
    # province's empty hour is not an outage even where a few units would make it significant
    min_units: float = 12.0


@dataclass(slots=True)
class Reading:
    """What one minute of one series looks like to the detectors (also what the cockpit draws).
    Not frozen: a frozen dataclass of 17 fields took 2 us to build, and the engine builds one per
    series per minute.

    `window_*` are over the surge's `window_min` (the same for every series, so explanations can add
    them up); `surge_*` are over the evidence window the surge test used (`surge_window_min`, 0 when
    the series has too little evidence for any)."""

    t: float
    value: float
    expected: Expected | None
    window_obs: float
    window_exp: float | None  # None until every minute of the window had a baseline
    z: float
    surge: bool
    drop: bool
    outage: bool
    score: float  # general anomaly score in [0, 1]
    surge_window_min: int = 0
    surge_obs: float = 0.0
    surge_exp: float | None = None
    dispersion: float = 1.0  # phi of the evidence window (1 = Poisson)
    spike: bool = False  # this one minute alone is far above its baseline (an anomaly)
    evidence_z: float = 0.0  # significance on the evidence window (0 without evidence)
    holding: bool = False  # in an episode, and this minute had too little evidence to end it

    @property
    def ratio(self) -> float | None:
        if self.window_exp is None or self.window_exp <= 0:
            return None
        return self.window_obs / self.window_exp

    @property
    def excess(self) -> float:
        return self.window_obs - (self.window_exp or 0.0)

    @property
    def surge_ratio(self) -> float | None:
        if self.surge_exp is None or self.surge_exp <= 0:
            return None
        return self.surge_obs / self.surge_exp


class Dispersion:
    """phi = Var / mean of L-minute sums of click counts, from differences with the same window a day
    before; one estimate may be shared by many series (`dispersions`).

    d = S(t) - S(t - 1 day) has variance 2 Var(S) when both days are of one kind (school days, or
    weekend days), whatever the time of day: the daily curve cancels, and windows a day apart share
    no sessions, which neighbouring windows do (differencing those would underestimate phi by a
    third, and windows hours apart would mistake the daily curve for noise). sum(d^2 / 2) / sum(mean
    level), both decayed with time, then estimates phi, at least 1 (Poisson's). Why sharing is sound:
    the dispersion of clustered counts is set by the clusters (clicks per session), not by the rate,
    so the series of one kind (the provinces, say) estimate one phi from many more windows than any
    one of them has on its second day."""

    def __init__(self, window_min: int, memory_days: float = 3.0, winsor: float = 4.0) -> None:
        self.window_min = window_min
        self.tau_s = memory_days * DAY_MIN * 60
        self.winsor = winsor
        self._num = self._den = 0.0
        self._t: float | None = None
        self._t_first = 0.0  # when the first window was learnt
        self._ready = False  # once ready, always: windows learnt and the time they span only grow
        self.learnt = 0  # windows learnt from

    def ready(self, surge: SurgeParams) -> bool:
        """Whether enough windows over a long enough time were learnt to judge by this estimate."""
        if not self._ready and self._t is not None and self.learnt >= surge.min_dispersion_pairs:
            self._ready = self._t - self._t_first >= surge.min_dispersion_hours * 3600.0
        return self._ready

    @property
    def phi(self) -> float:
        if self._den <= 0:
            return 1.0
        return max(1.0, self._num / self._den)

    def learn(self, t: float, a: float, b: float) -> None:
        """At time t, one window and the same window a day before it (days of the same kind)."""
        if self._t is not None and t > self._t:
            # time without learning (every series of the kind in an episode) does not age the
            # estimate: after seven weeks it would rest on the first few windows learnt again
            decay = math.exp(max(self._t - t, -DAY_MIN * 60.0) / self.tau_s)
            self._num *= decay
            self._den *= decay
        if self._t is None:
            self._t_first = t
        self._t = t if self._t is None else max(t, self._t)
        level = max((a + b) / 2.0, 1.0)
        v = (a - b) ** 2 / 2.0
        if self.learnt >= _WINSOR_AFTER:  # once known: one window (an onset, an outage) cannot blow it up
            v = min(v, self.winsor**2 * self.phi * level)
        self.learnt += 1
        self._num += v
        self._den += level


def dispersions(surge: SurgeParams) -> dict[int, Dispersion]:
    """One estimator per evidence window (and one for single minutes: spikes), to share among
    series of one kind."""
    return {
        n: Dispersion(n, surge.dispersion_days, surge.dispersion_winsor)
        for n in (1, *evidence_windows(surge), *surge.long_windows_min)
    }


def deviance_z(obs: float, exp: float, phi: float) -> float:
    """Signed root of the Poisson deviance of obs against exp, in units of the dispersion phi.

    For quasi-Poisson counts (variance phi x mean) this is the normal quantile of the tail
    probability to within a few percent far into the tail, where the plain z = (obs - exp) / sd
    is badly wrong for small counts: one long session in a quiet window is "z = 5" but not rare."""
    if exp <= 0:
        return 0.0
    d = 2.0 * exp if obs <= 0 else 2.0 * (obs * math.log(obs / exp) - (obs - exp))
    return math.copysign(math.sqrt(max(d, 0.0) / phi), obs - exp)


def clustered_z(obs: float, exp: float, phi: float) -> float:
    """The normal quantile of the tail probability of obs clicks against exp when clicks come in
    sessions: sessions arrive as a Poisson process, each with a geometric number of clicks whose
    mean m = (phi + 1) / 2 gives the dispersion phi (Var / mean). Above exp, the quantile of
    P(X >= obs); below it, of P(X <= obs).

    A saddlepoint approximation (Barndorff-Nielsen's r*, with the lattice correction); its cumulant
    equation is a quadratic, so it is closed-form. Against simulation it is within 0.05 of the true
    quantile from 3 units (exp / phi) up, where the quasi-Poisson deviance (the Poisson deviance
    divided by phi) overstates the evidence by 0.3-0.5 at 4-12 units: few sessions make a heavier
    tail than many. So evidence is calibrated however little a window holds, and a small province
    can be judged on a few units where a large surge makes them enough."""
    if exp <= 0:
        return 0.0
    m = max(phi, 1.0) * 0.5 + 0.5
    q = 1.0 - 1.0 / m  # a session's chance of one more click
    lam = exp / m  # sessions expected
    if obs <= 0:  # no session at all: exactly e^-lam
        return _NORMAL.inv_cdf(math.exp(-lam)) if lam < 700.0 else -math.sqrt(2.0 * lam)
    if obs < exp:  # P(X <= obs) = 1 - P(X >= obs + 1): the lattice's other side
        obs = min(obs + 1.0, exp)
    # the saddlepoint u = e^s solves lam (1 - q) u = obs (1 - q u)^2, the root with q u < 1
    a, b = obs * q * q, 2.0 * obs * q + lam * (1.0 - q)
    u = obs / b * 2.0 / (1.0 + math.sqrt(max(0.0, 1.0 - 4.0 * a * obs / (b * b))))
    if obs > exp and (lam < _FEW_SESSIONS or 1.0 - q * u < 1e-9):
        # far fewer sessions expected than one (a night's baseline near zero): the saddlepoint's
        # root nears its pole and floating point fails it (z 667 for 2 clicks). Then X >= obs takes
        # one session of >= obs clicks: P ~ lam q^(obs - 1)
        return _upper_quantile(math.log(lam) + (obs - 1.0) * math.log(q))
    s = math.log(u)
    if abs(s) < 1e-6:  # at the mean: the normal approximation is exact enough
        return (obs - exp) / math.sqrt(exp * max(phi, 1.0))
    k = lam * ((1.0 - q) * u / (1.0 - q * u) - 1.0)  # cumulant generating function at s
    k2 = lam * (1.0 - q) * u * (1.0 + q * u) / (1.0 - q * u) ** 3
    w = math.copysign(math.sqrt(max(2.0 * (s * obs - k), 1e-300)), s)
    v = (1.0 - math.exp(-s)) * math.sqrt(k2)
    return w + math.log(v / w) / w


def _upper_quantile(log_p: float) -> float:
    """The normal quantile z with P(Z >= z) = e^log_p, into the far tail (log_p below ~-700)."""
    if log_p >= 0.0:
        return 0.0
    if log_p > -700.0:
        return -_NORMAL.inv_cdf(math.exp(log_p))
    t = -2.0 * log_p  # Mills' ratio: z^2 ~ t - ln(2 pi t)
    return math.sqrt(max(t - math.log(2.0 * math.pi * t), 0.0))


def evidence_windows(surge: SurgeParams) -> tuple[int, ...]:
    """window_min and multiples of it about 1.5x apart, up to max_window_min (10, 20, 30, 40, 60, 90,
    130, 180 by default): fine steps where detection delay matters, few steps in all."""
    w, top = surge.window_min, max(surge.window_min, surge.max_window_min)
    out, m = [], 1
    while m * w < top:
        out.append(m * w)
        m = max(m + 1, 3 * m // 2)
    return (*out, top // w * w)


class _Prefix:
    """Running totals of the last n minutes in a ring: a window's sum is a difference of two totals."""

    __slots__ = ("size", "totals", "count")

    def __init__(self, n: int) -> None:
        self.size = n + 1
        # a list, not array("d"): indexing an array boxes a new float each time (2.4x slower)
        self.totals = [0.0] * self.size
        self.count = 0  # values added

    def add(self, x: float) -> None:
        totals, size, count = self.totals, self.size, self.count
        self.count = count + 1
        totals[(count + 1) % size] = totals[count % size] + x

    def last(self, n: int, ago: int = 0) -> float | None:
        """Sum of the n minutes that ended `ago` minutes ago; None before they were seen."""
        k, size = n + ago, self.size
        if k > self.count or k >= size:
            return None
        end = self.count - ago
        return self.totals[end % size] - self.totals[(end - n) % size]


NORMAL, SURGE, DROP = 0, 1, 2
_Evidence = tuple[int, float, float, float, float]  # (window, observed, expected, phi, z); window 0: none
_NO_EVIDENCE: _Evidence = (0, 0.0, 0.0, 1.0, 0.0)
_ZOf = Callable[[float, float, float], float]


class SeriesDetector:
    """State of one series (national, a platform, a province, a resource); `observe` once a minute.

    An episode (surge or drop) starts on significant evidence and ends only on evidence of normal
    traffic held for `exit_hold_min`; minutes without enough evidence (nights, quiet weekends) keep
    the state. While in an episode, or while `frozen` is set by the caller (the engine freezes all
    series of a province in an episode), the baseline does not learn: a closure of seven weeks is
    still a closure in its seventh, and a reopening returns to ratio 1."""

    def __init__(
        self,
        baseline: SeasonalBaseline | None = None,
        surge: SurgeParams = SurgeParams(),
        drop: DropParams = DropParams(),
        scorer: AnomalyScorer | None = None,
        anomaly: bool = True,
        score_window: int = 5,
        dispersion: dict[int, Dispersion] | None = None,
        drop_exit_hold_min: int = 15,
    ) -> None:
        self.baseline = baseline or SeasonalBaseline()
        self.surge_p, self.drop_p = surge, drop
        self.drop_exit_hold = drop_exit_hold_min
        # series kept only for baselines and explanations skip the general score (saves time)
        self.scorer = scorer if scorer is not None else AnomalyScorer() if anomaly else None
        self.evidence = evidence_windows(surge)  # candidate evidence windows, shortest first
        self.dispersion = dispersion if dispersion is not None else dispersions(surge)
        self.long = tuple(n for n in surge.long_windows_min if n > self.evidence[-1])  # onset only
        self.window = max(self.evidence[-1] * max(surge.persist, 1), drop.window_min, *self.long)
        # two days more: the dispersion compares yesterday's windows with the day before's
        self._obs, self._paused = _Prefix(2 * DAY_MIN + self.window), _Prefix(2 * DAY_MIN + self.window)
        self._exp, self._var = _Prefix(self.window), _Prefix(self.window)
        self._known = 0  # minutes in a row that had a baseline
        self._kinds_day: int | None = None
        self._same_kinds = False
        self.last: Reading | None = None
        self.state = NORMAL
        self.frozen = False  # set by the caller: do not learn the baseline from this minute
        self._t0 = math.nan  # the first minute observed
        self._normal_run = 0  # minutes of normal evidence since the episode last looked abnormal
        self._exit_llr = 0.0  # log likelihood ratio, normal against the surge's level, since it began
        self._ep_obs = self._ep_exp = 0.0  # clicks and baseline since the surge began: its level
        self._ep_min = 0  # minutes of the surge with a baseline
        self._exit_llr_k = 0.0  # the same against k x baseline
        self._outage = False
        self._last_ev: _Evidence = _NO_EVIDENCE
        # the general score reads a short moving average: per-minute counts are Poisson-noisy, and a
        # noise spike is a "new value" to a novelty score; five minutes keep onsets prompt
        self._smooth: deque[float] = deque(maxlen=max(1, score_window))

    @property
    def started(self) -> bool:
        """Whether the series has had its first click (minutes are kept from it on)."""
        return self._obs.count > 0

    @property
    def surging(self) -> bool:
        return self.state == SURGE

    @property
    def dropping(self) -> bool:
        return self.state == DROP

    def _sums(self, n: int) -> tuple[float | None, float | None, float | None]:
        """(observed, expected, variance) over the last n minutes; expected None unless all had one."""
        obs = self._obs.last(n)
        if obs is None or self._known < n:
            return obs, None, None
        return obs, self._exp.last(n), self._var.last(n)

    def window_sums(self, n: int) -> tuple[float, float | None]:
        """(observed, expected) over the last n minutes; expected None unless all had a baseline."""
        obs, exp, _ = self._sums(n)
        return obs or 0.0, exp

    def _learn_dispersion(self, t: float) -> None:
        """Learn from yesterday's windows against the day before's: what happens today (a surge
        building up) cannot change how today is judged, and windows paused by an episode are never
        learnt."""
        day = int(t + self.baseline.offset) // 86_400
        if day != self._kinds_day:  # whether yesterday and the day before are days of one kind
            self._kinds_day = day
            day_s = DAY_MIN * 60
            self._same_kinds = self.baseline.day_type(t - day_s) == self.baseline.day_type(t - 2 * day_s)
        if not self._same_kinds:
            return
        # windows learnt on a grid of minutes since the series was first observed (not since its
        # first click, which would move the grid with the luck of a quiet first hour)
        count = int((t - self._t0) // 60) + 1
        for n, d in self.dispersion.items():
            if count % (n if n >= 5 else 5):  # single minutes: every fifth is plenty for the estimate
                continue
            a, b = self._obs.last(n, DAY_MIN), self._obs.last(n, 2 * DAY_MIN)
            if a is None or b is None or self._paused.last(n, DAY_MIN) or self._paused.last(n, 2 * DAY_MIN):
                continue
            d.learn(t, a, b)

    def _maturity(self, exp: Expected | None) -> float:
        """1 + 1/n: the variance of a baseline learnt from n days adds to the observation's."""
        visits = exp.visits if exp is not None else 0
        if visits <= 0:
            return 2.0
        return 1.0 + 1.0 / min(float(visits), self.baseline.ewma_visits)

    def _windows(self, maturity: float, among: tuple[int, ...] | None = None) -> list[tuple[int, float, float, float]]:
        """(window, observed, expected, effective dispersion) of the evidence windows (or `among`)
        whose minutes all had a baseline and whose dispersion is known, shortest first (a window
        lacking a baseline is followed by longer ones that lack it too). A window's dispersion is at
        least a shorter one's: sessions make Var / mean grow with the window, and a long window's
        estimate rests on few independent windows a day. Learnt from Liaoning's four platforms
        alone (`edu-alerts replay --provinces`), the 12-hour one fell to 6, below the 10-minute
        one's 7 and the 3-hour one's 12, and its small platforms surged six times on chance days."""
        sp = self.surge_p
        out = []
        floor = 0.0 if among is None else self._known_phi(self.evidence[-1])
        for n in self.evidence if among is None else among:
            obs, e, var = self._sums(n)
            if obs is None or e is None or var is None:
                break
            d = self.dispersion[n]
            if d.ready(sp):
                floor = max(floor, d.phi)
                if e > 0:
                    out.append((n, obs, e, max(floor, var / e) * maturity))
        return out

    def _shortest(self, windows: list[tuple[int, float, float, float]], units: float, z_of: _ZOf) -> _Evidence:
        """The shortest window holding `units` units, with its z; none (window 0) when there is none
        or it reaches back into an episode while the series is normal."""
        for n, obs, e, phi in windows:
            if e >= units * phi:
                if self.state == NORMAL and self._paused.last(n):
                    break
                return n, obs, e, phi, z_of(obs, e, phi)
        return _NO_EVIDENCE

    def _onset(self, windows: list[tuple[int, float, float, float]], maturity: float) -> _Evidence:
        """The shortest window of at least the surge's min_units units on which traffic is k x its
        baseline with z >= z_min (`clustered_z`: calibrated on a few units) and which persists; none
        (window 0) when no window shows a surge. Every window is tried, not only the shortest with
        enough units: a small province's short window holds few units, on which a x2.5 closure is
        not yet significant, while its longer windows are."""
        sp = self.surge_p
        for n, obs, e, phi in windows:
            if e < sp.min_units * phi or obs < sp.k * e:
                continue
            if self.state == NORMAL and self._paused.last(n):
                break  # this window and every longer one reach back into an episode
            z = clustered_z(obs, e, phi)
            if (
                z >= sp.z_min
                and self._persists(n, z, maturity)
                and (obs >= sp.level_sure * e or self._level_holds(windows, n))
            ):
                return n, obs, e, phi, z
        return _NO_EVIDENCE

    def _level_holds(self, windows: list[tuple[int, float, float, float]], n: int) -> bool:
        """Whether the longest of `windows` (n at least) that does not reach back into an episode
        holds k x its baseline (SurgeParams.level_holds)."""
        sp = self.surge_p
        if not sp.level_holds:
            return True
        for m, obs, e, _ in reversed(windows):
            if m < n:
                break
            if self.state == NORMAL and self._paused.last(m):
                continue
            return obs >= sp.k * e
        return True

    def _spike(self, value: float, exp: Expected | None, maturity: float) -> bool:
        sp = self.surge_p
        d = self.dispersion.get(1)
        if exp is None or d is None or not d.ready(sp) or exp.mean <= 0:
            return False
        e = exp.mean
        phi = max(d.phi, (1.25 * exp.dev) ** 2 / e) * maturity
        if e < sp.spike_units * phi or value < sp.spike_k * e:
            return False
        return deviance_z(value, e, phi) >= sp.spike_z

    def _add_exit_evidence(self, x: float, e: float, maturity: float) -> None:
        """One minute into the CUSUM that lets a surge end (SurgeParams.exit_lr): the quasi-Poisson
        log likelihood ratio of x clicks at the baseline e against the surge's own level r x e,
        floored at 0, so it counts the evidence since the traffic last looked like the surge.
        Nights add little either way. r is the episode's ratio so far (its clicks over its
        baseline), at least k: against a x4 closure a normal unit weighs 1.6 nats, against k = 2
        only 0.3, so a small province's reopening is told within its first morning; traffic still
        at r' keeps the sum at 0 for any r' above (r - 1) / ln r (2.2 for r = 4)."""
        sp = self.surge_p
        if e <= 0:
            return
        self._ep_obs += x
        self._ep_exp += e
        self._ep_min += 1
        phi = self._known_phi(self.evidence[-1])  # clicks come in sessions: the longest window's
        if phi <= 0:
            return
        r = max(sp.k, self._ep_obs / self._ep_exp)
        unit = phi * maturity
        self._exit_llr = max(0.0, self._exit_llr + (e * (r - 1.0) - x * math.log(r)) / unit)
        self._exit_llr_k = max(0.0, self._exit_llr_k + (e * (sp.k - 1.0) - x * math.log(sp.k)) / unit)

    def _exit_log_lr_k(self, maturity: float) -> float:
        """The log likelihood ratio over k x baseline that ends a surge (SurgeParams.exit_k_day_share):
        a share of what a day of the series' baseline traffic, measured since the surge began (an
        hour at least), weighs for normal traffic against k."""
        sp = self.surge_p
        lo, hi = math.log(sp.exit_lr_k), math.log(max(sp.exit_lr_k, sp.exit_lr_k_max))
        phi = self._known_phi(self.evidence[-1])
        if phi <= 0 or hi <= lo:
            return lo
        units_a_day = self._ep_exp / (phi * maturity) * DAY_MIN / max(self._ep_min, 60)
        return min(hi, max(lo, sp.exit_k_day_share * (sp.k - 1.0 - math.log(sp.k)) * units_a_day))

    def _known_phi(self, up_to: int) -> float:
        """Dispersion of the evidence windows of at most `up_to` minutes that have learnt enough:
        the largest of them (phi grows with the window; see `_windows`); 0 when none has."""
        phi = 0.0
        for w in self.evidence:
            d = self.dispersion[w]
            if w <= up_to and d.ready(self.surge_p):
                phi = max(phi, d.phi)
        return phi

    def _longer(self, m: int, maturity: float) -> tuple[float, float, float] | None:
        """(observed, expected, effective dispersion) of the last m minutes, for a persistence check;
        None where they lack a baseline or reach back into an episode."""
        obs, e, var = self._sums(m)
        if obs is None or e is None or var is None or e <= 0 or self._paused.last(m):
            return None
        # var / e >= 1: the baseline's variance is at least its mean
        return obs, e, max(self._known_phi(m), var / e) * maturity

    def _persists(self, n: int, z: float, maturity: float) -> bool:
        """Whether a surge seen on the last n minutes also holds on a longer window ending now: the
        shortest of persist x n minutes and the evidence windows beyond it that holds persist_units
        units, or persist x n minutes where none does (SurgeParams.persist). Where that window has no
        baseline or reaches back into an episode, the n-minute window's own z decides."""
        sp = self.surge_p
        if sp.persist <= 1:
            return z >= sp.z_min
        first = n * sp.persist
        verdict: bool | None = None  # on the first window (2n), the answer when no window holds persist_units
        for m in (first, *(w for w in self.evidence if w > first)):
            longer = self._longer(m, maturity)
            if longer is None:
                break
            obs, e, phi = longer
            holds = obs >= sp.k * e and clustered_z(obs, e, phi) >= sp.z_min
            if verdict is None:
                verdict = holds
            if e >= sp.persist_units * phi:
                return holds
        return verdict if verdict is not None else z >= sp.z_min

    def _drop_persists(self, n: int, maturity: float) -> bool:
        """Whether a drop seen on the last n minutes holds on twice as many too (ratio and z): the
        generator's clicks dip to a quarter for ten minutes far more often than their sessions
        explain (0.26 % of ten-minute windows below half), a national K-12 series and a big
        province among them; an outage holds on both within half a window more. Where the longer
        window has no baseline or reaches back into an episode, the n-minute verdict stands."""
        dp = self.drop_p
        longer = self._longer(2 * n, maturity)
        if longer is None:
            return True
        obs, e, phi = longer
        return obs <= dp.ratio * e and deviance_z(obs, e, phi) <= -dp.z_min

    def _step(self, onset: _Evidence, ending: _Evidence, low: _Evidence, maturity: float) -> None:
        """Advance the episode state by one minute's evidence: a surge showing (`_onset`), the
        window a surge's end is judged on, and the window of a drop and its end; window 0: none, the
        state holds."""
        sp, dp = self.surge_p, self.drop_p
        n, obs, e, _, z = low
        is_surge = self.state != SURGE and onset[0] > 0
        is_drop = (
            n > 0
            and obs <= dp.ratio * e
            and z <= -dp.z_min
            and (self.state == DROP or self._drop_persists(n, maturity))
        )
        if self.state == NORMAL or (self.state == SURGE and is_drop) or (self.state == DROP and is_surge):
            if is_surge or is_drop:
                self.state = SURGE if is_surge else DROP
                self._normal_run = 0
                self._exit_llr = self._exit_llr_k = self._ep_obs = self._ep_exp = 0.0
                self._ep_min = 0
            self._outage = is_drop and obs <= 0
            return
        if self.state == SURGE:
            if not ending[0]:
                return
            # the sums run over hours, so they are weighed in the longest window's dispersion; until
            # that is known a shorter window's stands in, a third of it on a series' fourth day, and
            # a chance evening dip would weigh three times over: then k x baseline needs exit_lr too
            ready = self.dispersion[self.evidence[-1]].ready(sp)
            log_lr_k = self._exit_log_lr_k(maturity) if ready else math.log(max(sp.exit_lr, sp.exit_lr_k))
            normal = ending[4] <= sp.z_exit and self._exit_llr >= math.log(sp.exit_lr) and self._exit_llr_k >= log_lr_k
        else:
            if not n:
                return
            self._outage = obs <= 0 and z <= -dp.z_min
            normal = z >= -sp.z_exit
        self._normal_run = self._normal_run + 1 if normal else 0
        hold = sp.exit_hold_min if self.state == SURGE else self.drop_exit_hold
        if self._normal_run >= hold:
            self.state, self._normal_run, self._outage = NORMAL, 0, False

    def observe(self, t: float, value: float) -> Reading:
        """Judge the minute starting at t (epoch s) against the baseline learnt before it, then learn.
        A series begins at its first click: zeros before it are no history (a province that joins
        in the third week has not been at zero for two weeks), so they are neither judged nor learnt."""
        if not self.started:
            if math.isnan(self._t0):
                self._t0 = t
            if value <= 0:
                self.last = Reading(t, value, None, 0.0, None, 0.0, False, False, False, 0.0)
                return self.last
        exp = self.baseline.expected(t)
        self._obs.add(value)
        if exp is not None:
            self._known += 1
            self._exp.add(exp.mean)
            self._var.add(max(exp.mean, (1.25 * exp.dev) ** 2, 1.0))
        else:
            self._known = 0
            self._exp.add(0.0)
            self._var.add(0.0)
        w_obs, w_exp, w_var = self._sums(self.surge_p.window_min)
        z = 0.0
        if w_obs is not None and w_exp is not None and w_var is not None and w_var > 0:
            z = (w_obs - w_exp) / math.sqrt(w_var)
        maturity = self._maturity(exp)
        windows = self._windows(maturity)
        onset = _NO_EVIDENCE
        if self.state != SURGE:
            onset = self._onset(windows, maturity)
            if not onset[0] and self.long and t - self._t0 >= self.surge_p.long_after_days * DAY_MIN * 60:
                onset = self._onset(self._windows(maturity, self.long), maturity)
        # a drop is judged on enough units that a quiet small province's empty hour is no outage; a
        # surge's end on as few as its onset, as the CUSUM of exit_lr guards it from chance dips
        low = self._shortest(windows, self.drop_p.min_units, deviance_z)
        ending = low
        if self.state == SURGE:
            ending = self._shortest(windows, self.surge_p.min_units, clustered_z)
            if not ending[0] and windows:
                # a series whose windows hold min_units units only at its busiest hours (Jilin at
                # 1:1000) would hold a surge for good after its reopening: its longest window's z
                # decides where it holds a unit at least, the exit's CUSUMs weigh the evidence
                n, obs, e, phi = windows[-1]
                if e >= phi:
                    ending = (n, obs, e, phi, clustered_z(obs, e, phi))
        if self.state == SURGE and exp is not None:
            self._add_exit_evidence(value, exp.mean, maturity)
        self._step(onset, ending, low, maturity)
        if self.state == SURGE:  # the evidence shown: the onset's window, then the one its end is judged on
            n, obs, e, phi, zev = onset if onset[0] else ending
        else:
            n, obs, e, phi, zev = low
        if n:
            self._last_ev = (n, obs, e, phi, zev)
        elif self.state != NORMAL:  # holding: report the evidence the state rests on
            _, obs, e, phi, zev = self._last_ev
        spike = self._spike(value, exp, maturity)
        paused = self.state != NORMAL
        self._paused.add(1.0 if paused or self.frozen else 0.0)
        self._learn_dispersion(t)
        score = 0.0
        if self.scorer is not None:
            self._smooth.append(value)
            score = self.scorer.score(t, sum(self._smooth) / len(self._smooth))
        if not (paused or self.frozen):
            self.baseline.update(t, value)
        shown = n or (self._last_ev[0] if paused else 0)
        reading = Reading(
            t,
            value,
            exp,
            w_obs or 0.0,
            w_exp,
            z,
            self.state == SURGE,
            self.state == DROP and not self._outage,
            self.state == DROP and self._outage,
            score,
            shown,
            obs,
            e if shown else None,
            phi,
            spike,
            zev,
            paused and n == 0,
        )
        self.last = reading
        return reading
