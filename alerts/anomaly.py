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
        self.record = 0.0  # largest raw score after warm-up
        self._scale = 0.0

    def _factor(self, n: int) -> float:
        return (min(n, self.cfg.n_cap) / self.cfg.n_ref) ** self.cfg.gamma

    def raw(self, t: float, x: float) -> float:
        """Novelty of x before onset filtering, in (history-scaled) fractions of the robust spread."""
        mem = self.values
        n = mem.count
        if n % self.cfg.range_every == 0 or self._scale <= 0:
            self._scale = mem.robust_range(self.cfg.range_quantile) if self.cfg.range_quantile else mem.range
        r = self._scale if self._scale > 0 else mem.range
        s = mem.distance(x) / r if r > 0 else 0.0
        for profile, resid in zip(self.profiles, self.residuals, strict=False):
            e = profile.residual(t, x)
            if e is None:
                continue
            if r > 0 and resid.count:
                seasonal = self.cfg.seasonal_weight * resid.distance(e) / r * self._factor(resid.count)
                s = max(s, seasonal / self._factor(max(n, 1)))
            resid.add(e)
        mem.add(x)
        return s * self._factor(n) if n else 0.0

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
        if s > record:
            self.record = s
        if s <= beaten:
            return 0.0
        if s < record:
            s *= (s / record) ** self.cfg.record_beta
        return s / (s + self.cfg.half_score)
