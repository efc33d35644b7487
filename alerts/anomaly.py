"""General streaming anomaly score in [0, 1], one point at a time, O(1) per point.

An anomaly is a value, or a deviation from the daily or weekly profile, that the series has never
come close to: the raw score is the larger of the value's distance to the nearest value seen and the
quarter-weighted seasonal-residual novelty, in units of the 0.1 %..99.9 % spread seen so far, scaled
up with history by sqrt(n / 1000). Only onsets are reported (one incident, one high score). An onset
below the series' own record (the largest raw novelty since warm-up) is damped by
(raw / record) ** 0.25, so the score is calibrated per series: a series that keeps producing big
novelties (heavy-tailed volumes) needs a bigger one to score high, a quiet one does not, and one
threshold fits more kinds of series (on all of NAB the standard and low-FP profiles now share one
threshold, and the leave-one-category-out low-FP score rose from 52 to 69). The seasonal weight
fell from 0.5 to 0.25 with it: the residual novelty raised four false positives per true one.
A third channel sees what single values cannot: a sustained shift inside the range already seen
(`ShiftCusum`, a CUSUM of clipped robust z-scores around the median, reported once when an
excursion outgrows every earlier one; it does not raise the record). On all of NAB it moved the
standard score from 74.13 to 74.87 and low FP from 65.99 to 66.99 (bench/README.md).
Inside the seen range the distance to the nearest value is judged against the local spacing of the
values seen there (`ValueMemory.local_gap`, 4 neighbours a side): a value in a sparse tail that lies
within that spacing of an old one is damped by sqrt(d / gap). On all of NAB it removes about 20 of
180 false positives (mostly the heavy-tailed Twitter volumes) for one window: standard 74.87 ->
75.22, low FP 66.99 -> 67.98.
Dropped: extra channels (moving-average, first-difference, prediction-error likelihood), a
refractory time after a report, a sliding or decaying record. The result is mapped
through s / (s + s0) so 0.5 is about the level worth alerting on; the first `warmup` points only
learn. Why this design, measured on NAB: bench/README.md and the figures of issue 18.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

from alerts.memory import ValueMemory

DAY_S = 86_400
WEEK_S = 7 * DAY_S


@dataclass(frozen=True, slots=True)
class ScorerConfig:
    gamma: float = 0.5  # exponent of the history-length factor
    n_ref: int = 1000  # history length at which the factor is 1
    n_cap: int = 10_080  # one week of minutes: the factor stops growing there
    seasonal_weight: float = 0.25  # weight of the daily and weekly residual novelty
    slot_s: int = 1800  # seasonal slot width
    seasonal_alpha: float = 0.1  # EWMA step per point of a slot
    winsor_k: float = 3.0  # residuals beyond k mean-abs-deviations are clipped before updating
    warmup_periods: int = 2  # a seasonal profile is trusted after this many periods
    onset_window: int = 100  # points: a raw score must beat all of these to be reported
    half_score: float = 0.02  # raw novelty (fraction of range, scaled) that maps to 0.5
    warmup: int = 100  # points before any score is reported (the state still learns)
    range_quantile: float = 0.001  # the scale is the 0.1 %..99.9 % spread, not the full range
    range_every: int = 10  # points between recomputations of that spread
    record_beta: float = 0.25  # an onset below the series' record raw score is damped by (s / record) ** beta
    shift_weight: float = 0.3  # weight of the sustained-shift channel (0: off)
    shift_k: float = 0.5  # CUSUM allowance, in robust standard deviations (IQR / 1.349)
    shift_clip: float = 3.0  # a point adds at most this many deviations (a spike is a short shift, no more)
    shift_ratio: float = 1.5  # an excursion is reported when its CUSUM beats every earlier one by this factor
    shift_min: float = 30.0  # and is at least this large
    shift_count: int = 7  # earlier excursions of at least shift_min / 3 needed first (records are cheap early)
    # in-range novelty is damped by min(1, d / gap) ** density_pow, gap = the local spacing of k neighbours
    density_k: int = 4
    density_pow: float = 0.5


class SlotProfile:
    """Per-slot robust EWMA mean and mean absolute deviation over one period (day or week)."""

    __slots__ = ("period", "slot", "alpha", "k", "warmup", "mean", "dev", "t0")

    def __init__(self, period_s: int, slot_s: int, alpha: float, winsor_k: float, warmup_periods: int) -> None:
        self.period, self.slot, self.alpha, self.k = period_s, slot_s, alpha, winsor_k
        self.warmup = warmup_periods * period_s
        self.mean: dict[int, float] = {}
        self.dev: dict[int, float] = {}
        self.t0: float | None = None

    def residual(self, t: float, x: float) -> float | None:
        """x minus its slot's mean (None until warmed up), then learn from x."""
        if self.t0 is None:
            self.t0 = t
        key = int((t % self.period) // self.slot)
        m = self.mean.get(key)
        if m is None:
            self.mean[key], self.dev[key] = x, 0.0
            return None
        d = self.dev[key]
        e = x - m
        warm = t - self.t0 >= self.warmup
        if warm and d > 0:
            lim = self.k * d
            e_clip = -lim if e < -lim else lim if e > lim else e
        else:
            e_clip = e
        self.mean[key] = m + self.alpha * e_clip
        self.dev[key] = d + self.alpha * (abs(e_clip) - d)
        return e if warm else None


class ShiftCusum:
    """One-sided CUSUM of clipped robust z-scores around the median: a sustained shift, reported once
    per excursion, when the excursion outgrows every earlier one (a run of unusual points the series
    has never had, though each point may lie inside the range already seen)."""

    __slots__ = ("sign", "s", "record", "peak", "seen", "fired", "total", "length")

    def __init__(self, sign: float) -> None:
        self.sign = sign
        self.s = 0.0
        self.record = 0.0  # largest peak of the completed excursions
        self.peak = 0.0
        self.seen = 0  # completed excursions that peaked at shift_min / 3 or more
        self.fired = False
        self.total = 0.0  # sum of |x - mid| over the current excursion
        self.length = 0

    def step(self, x: float, mid: float, sig: float, cfg: ScorerConfig) -> float:
        """The excursion's mean distance from the median when it is reported, else 0."""
        z = self.sign * (x - mid) / sig
        z = -cfg.shift_clip if z < -cfg.shift_clip else cfg.shift_clip if z > cfg.shift_clip else z
        self.s = max(0.0, self.s + z - cfg.shift_k)
        if self.s <= 0.0:
            if self.length:
                self.record = max(self.record, self.peak)
                if self.peak >= cfg.shift_min / 3:
                    self.seen += 1
            self.peak, self.fired, self.total, self.length = 0.0, False, 0.0, 0
            return 0.0
        self.peak = max(self.peak, self.s)
        self.total += abs(x - mid)
        self.length += 1
        if self.fired or self.seen < cfg.shift_count or self.s < max(cfg.shift_ratio * self.record, cfg.shift_min):
            return 0.0
        self.fired = True
        return self.total / self.length


class AnomalyScorer:
    """One series' state; `score(t, x)` returns the anomaly score of the new point in [0, 1].

    `t` is event time in epoch seconds, points arrive in time order.
    """

    def __init__(self, config: ScorerConfig | None = None) -> None:
        self.cfg = cfg = config or ScorerConfig()
        self.values = ValueMemory()
        self.profiles = [
            SlotProfile(p, cfg.slot_s, cfg.seasonal_alpha, cfg.winsor_k, cfg.warmup_periods) for p in (DAY_S, WEEK_S)
        ]
        self.residuals = [ValueMemory(), ValueMemory()]
        self.recent: deque[float] = deque(maxlen=max(cfg.onset_window, 1))
        self.last_raw = 0.0
        self.last_point = 0.0  # raw score without the shift channel: only that sets the record
        self.record = 0.0  # largest raw score after warm-up
        self._scale = 0.0
        self._mid = 0.0
        self._sig = 0.0
        self.shifts = [ShiftCusum(1.0), ShiftCusum(-1.0)]

    def _factor(self, n: int) -> float:
        return (min(n, self.cfg.n_cap) / self.cfg.n_ref) ** self.cfg.gamma

    def _novelty(self, mem: ValueMemory, x: float) -> float:
        """Distance from x to the nearest seen value; inside the seen range damped by
        min(1, d / gap) ** density_pow, gap = the local spacing of the seen values around x."""
        d = mem.distance(x)
        if self.cfg.density_k > 0 and d > 0 and mem.lo < x < mem.hi:
            gap = mem.local_gap(x, self.cfg.density_k)
            if gap > d:
                d *= (d / gap) ** self.cfg.density_pow
        return d

    def raw(self, t: float, x: float) -> float:
        """Novelty of x before onset filtering, in (history-scaled) fractions of the robust spread."""
        mem = self.values
        n = mem.count
        if n % self.cfg.range_every == 0 or self._scale <= 0:
            self._scale = mem.robust_range(self.cfg.range_quantile) if self.cfg.range_quantile else mem.range
            if self.cfg.shift_weight > 0 and n:
                self._mid = mem.quantile(0.5)
                self._sig = (mem.quantile(0.75) - mem.quantile(0.25)) / 1.349
        r = self._scale if self._scale > 0 else mem.range
        s = self._novelty(mem, x) / r if r > 0 else 0.0
        shift = 0.0
        if self.cfg.shift_weight > 0 and n > self.cfg.warmup and r > 0:
            sig = max(self._sig, 0.01 * r)
            for sh in self.shifts:
                shift = max(shift, self.cfg.shift_weight * sh.step(x, self._mid, sig, self.cfg) / r)
        for profile, resid in zip(self.profiles, self.residuals, strict=False):
            e = profile.residual(t, x)
            if e is None:
                continue
            if r > 0 and resid.count:
                seasonal = self.cfg.seasonal_weight * resid.distance(e) / r * self._factor(resid.count)
                s = max(s, seasonal / self._factor(max(n, 1)))
            resid.add(e)
        mem.add(x)
        factor = self._factor(n) if n else 0.0
        self.last_point = s * factor
        return max(s, shift) * factor

    def score(self, t: float, x: float) -> float:
        if not math.isfinite(x):
            return 0.0
        s = self.raw(t, x)
        self.last_raw = s
        beaten = max(self.recent) if self.recent else 0.0
        self.recent.append(s)
        if self.values.count <= self.cfg.warmup:
            return 0.0
        record = self.record
        if self.last_point > record:
            self.record = self.last_point
        if s <= beaten:
            return 0.0
        if s < record:
            s *= (s / record) ** self.cfg.record_beta
        return s / (s + self.cfg.half_score)
