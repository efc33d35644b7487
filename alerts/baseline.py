"""Seasonal baseline of a per-minute series: time of day x day of week, robust to earlier anomalies.

"Normal" is a profile over the week, kept per slot (15 minutes) by day of week and by day type
(school day / rest day: a weekend, or a holiday of the calendar given; `_groups`). `expected(t)` answers from the most specific profile that has seen
`min_visits` days, interpolated between slot centres. A slot learns once per visit by an EWMA whose
step is clipped at `winsor_k` deviations (`outlier_damp` for a visit outside), so a surge lasting
days moves its own baseline slowly. O(1) per point.

Where no profile of its own knows the time yet (a series that began yesterday, or its first
weekend), a baseline given a `prior` (the national series for a province, the platform's for a
platform in a province) answers with the prior's expectation scaled by this series' usual share of
it, learnt from the visits both have seen; without a prior, or before the share is known to within
`share_rel_se`, it answers None: a detector stays silent rather than judge a Saturday by Tuesdays.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass

from contracts.beijing import BEIJING_OFFSET_S

DAY_S = 86_400
_MEDIAN_VISITS = 3
_TRUSTED_VISITS = 4


@dataclass(slots=True)
class Expected:
    """The baseline at one instant: mean, spread and the band the cockpit draws."""

    mean: float
    dev: float  # mean absolute deviation of a one-minute value around the mean
    lower: float
    upper: float
    grouping: str  # "weekday", "daytype" or "prior": which profile answered
    visits: int = 0  # days the answering slot has learnt from: how mature this expectation is


@dataclass(slots=True)
class _Slot:
    mean: float = 0.0
    dev: float = 0.0
    visits: int = 0
    first: list[float] | None = None  # the first visits' values: their median is the mean until EWMA


def _blend(a: _Slot, b: _Slot | None, w_b: float) -> tuple[float, float]:
    """(mean, dev) between slot a's centre and its neighbour b's, b weighing w_b; a's alone without b."""
    if b is None:
        return a.mean, a.dev
    return a.mean * (1 - w_b) + b.mean * w_b, a.dev * (1 - w_b) + b.dev * w_b


class _Profile:
    """Slots of one day grouping: key (group, slot index) -> robust EWMA of visit means."""

    def __init__(self, name: str, n_slots: int) -> None:
        self.name = name
        self.n_slots = n_slots
        self.slots: dict[tuple[int, int], _Slot] = {}

    def get(self, group: int, idx: int) -> _Slot | None:
        return self.slots.get((group, idx % self.n_slots))

    def learn(
        self, group: int, idx: int, value: float, dev_obs: float, alpha: float, k: float, damp: float, rel_floor: float
    ) -> None:
        s = self.slots.get((group, idx))
        if s is None:
            self.slots[(group, idx)] = _Slot(value, dev_obs, 1, [value])
            return
        if s.first is not None and len(s.first) < _MEDIAN_VISITS:
            # a median of the first visits: one anomalous day among three cannot set the profile
            s.first.append(value)
            s.mean = statistics.median(s.first)
            s.dev = max(dev_obs, sum(abs(v - s.mean) for v in s.first) / len(s.first))
            s.visits += 1
            if len(s.first) == _MEDIAN_VISITS:
                s.first = None
            return
        e = value - s.mean
        step = alpha
        if s.visits >= 2:
            lim = k * max(s.dev, rel_floor * abs(s.mean))
            if abs(e) > lim:
                e = math.copysign(lim, e)
                step = alpha * damp
        s.mean += step * e
        s.dev += step * (max(abs(e), dev_obs) - s.dev)
        s.visits += 1


class SeasonalBaseline:
    """Feed `update(t, x)` in time order (t in epoch seconds); ask `expected(t)` for any t."""

    def __init__(
        self,
        slot_s: int = 900,
        alpha: float = 0.3,
        winsor_k: float = 3.0,
        outlier_damp: float = 0.25,
        rel_floor: float = 0.05,
        min_visits: int = 2,
        band_z: float = 3.0,
        utc_offset_s: int = BEIJING_OFFSET_S,
        weekend_days: frozenset[int] = frozenset({5, 6}),
        rest_days: frozenset[int] = frozenset(),
        school_days: frozenset[int] = frozenset(),
        prior: SeasonalBaseline | None = None,
        share_memory_days: float = 7.0,
        share_min_visits: int = 8,
        share_rel_se: float = 0.1,
        prior_shape_rel: float = 0.1,
    ) -> None:
        if DAY_S % slot_s:
            raise ValueError("slot_s must divide a day")
        self.slot_s = slot_s
        self.n_slots = DAY_S // slot_s
        self.alpha, self.k, self.damp, self.rel_floor = alpha, winsor_k, outlier_damp, rel_floor
        self.min_visits = min_visits
        self.band_z = band_z
        self.offset = utc_offset_s
        self.weekend = weekend_days
        self.rest_days, self.school_days = rest_days, school_days  # local day numbers (contracts.calendar)
        self.profiles = tuple(_Profile(name, self.n_slots) for name in ("weekday", "daytype"))
        self._cur: tuple[int, int] | None = None  # (local day number, slot index) being accumulated
        self._sum = self._abs = 0.0
        self._n = 0
        self._prev: float | None = None
        self._where_t, self._where_v = math.nan, (0, 0, 0.0)
        self._asked: tuple[int, int, bool] | None = None  # what `expected` last looked up, and its answer
        self._answer: list[tuple[str, _Slot, _Slot | None]] = []
        self.prior = prior
        self._share_decay = math.exp(-slot_s / (share_memory_days * DAY_S))
        self._share_min_visits = share_min_visits
        self._share_rel_se = share_rel_se
        self.prior_shape_rel = prior_shape_rel
        self._prior_mean = 0.0  # the prior's expectation at the start of the visit being accumulated
        # decayed sums over visits of (own mean x, prior's p): x, p, x^2, x p, p^2, and the visits
        self._sx = self._sp = self._sxx = self._sxp = self._spp = 0.0
        self._share_visits = 0
        # decayed sums over visits of the squared miss of the own day-type slot (as a sample of
        # one visit: its own estimate's share taken out) and of that slot's mean: a visit's variance
        # per unit mean, which the prior's shape does not enter (`_with_prior`)
        self._miss_sq = self._miss_m = 0.0
        self._miss_visits = 0

    # ---------------------------------------------------------------- calendar
    def _where(self, t: float) -> tuple[int, int, float]:
        """(local day number, slot index, position within the slot in [0, 1)); the last answer is
        kept, as a detector asks `expected` and `update` about the same minute."""
        if t == self._where_t:
            return self._where_v
        local = t + self.offset
        day = int(local // DAY_S)
        sec = local - day * DAY_S
        self._where_t, self._where_v = t, (day, int(sec // self.slot_s), (sec % self.slot_s) / self.slot_s)
        return self._where_v

    def _groups(self, day: int) -> tuple[int, int]:
        """(weekday group, day type) of a local day. A holiday on a weekday is a rest day, and a
        make-up school day on a weekend a school day; each has a weekday group of its own (7, 8),
        which rarely has the visits to answer, so the day type's profile does: a holiday Wednesday
        is judged by weekends, not by Wednesdays, and does not teach Wednesdays its traffic."""
        dow = (day + 3) % 7  # day 0 (1970-01-01) was a Thursday; Monday = 0
        if dow in self.weekend:
            return (8, 0) if day in self.school_days else (dow, 1)
        return (7, 1) if day in self.rest_days else (dow, 0)

    def day_type(self, t: float) -> int:
        """1 on a rest day (a weekend or a holiday), 0 on a school day (local time)."""
        return self._groups(self._where(t)[0])[1]

    # ---------------------------------------------------------------- learning
    def update(self, t: float, x: float) -> None:
        """Add one observation; a slot's visit is learnt when the series moves to the next slot."""
        day, idx, _ = self._where(t)
        if self._cur != (day, idx):
            if self._cur is not None:
                self._close()
            if self.prior is not None:  # a new visit: what the prior expects of it
                pe = self.prior.expected(t)
                self._prior_mean = pe.mean if pe is not None else 0.0
        self._cur = (day, idx)
        if self._prev is not None:
            self._abs += abs(x - self._prev)
        self._prev = x
        self._sum += x
        self._n += 1

    def _close(self) -> None:
        assert self._cur is not None
        day, idx = self._cur
        mean = self._sum / self._n
        # minute-to-minute jitter inside the visit: a floor for the slot's deviation
        jitter = self._abs / max(self._n - 1, 1) / math.sqrt(2) if self._n > 1 else 0.0
        if self.prior is not None:
            self._learn_miss(day, idx, mean)
        for profile, group in zip(self.profiles, self._groups(day), strict=False):
            profile.learn(group, idx, mean, jitter, self.alpha, self.k, self.damp, self.rel_floor)
        if self._prior_mean > 0:
            self._learn_share(mean, self._prior_mean)
        self._sum = self._abs = 0.0
        self._n = 0
        self._asked = None

    @property
    def ewma_visits(self) -> float:
        """The sample size an EWMA of step alpha is worth: (2 - alpha) / alpha visits at most."""
        return (2 - self.alpha) / self.alpha

    # ---------------------------------------------------------------- the prior
    def _learn_miss(self, day: int, idx: int, x: float) -> None:
        """One visit's miss of its day-type slot (before the slot learns it) into the decayed sums:
        (x - m)^2 has the visit's variance times 1 + 1/n when the slot rests on n visits."""
        slot = self.profiles[1].get(self._groups(day)[1], idx)
        if slot is None or slot.visits < 1:
            return
        n = min(float(slot.visits), self.ewma_visits)
        d = self._share_decay
        self._miss_sq = self._miss_sq * d + (x - slot.mean) ** 2 / (1.0 + 1.0 / n)
        self._miss_m = self._miss_m * d + max(slot.mean, 0.0)
        self._miss_visits += 1

    def _learn_share(self, x: float, p: float) -> None:
        """One visit (own mean x, the prior's expectation p) into the share's decayed sums. Once the
        share is known (`share`), a visit beyond winsor_k deviations of it (counts:
        variance in proportion to p) is clipped and weighs outlier_damp, as a slot's EWMA step is: a
        young series' share must not learn the first morning of a closure it has not yet judged."""
        w = 1.0
        # clipped only once the share is known: a sparse series' first visits (all zeros at night)
        # fit a share of 0 with no spread, and clipping at 0 deviations then held it at 0 for good
        known = self._known_fit()
        if known is not None:
            r, resid = known
            lim = self.k * math.sqrt(resid / self._sp * p)
            e = x - r * p
            if abs(e) > lim:
                x, w = r * p + math.copysign(lim, e), self.damp
        d = self._share_decay
        self._sx = self._sx * d + w * x
        self._sp = self._sp * d + w * p
        self._sxx = self._sxx * d + w * x * x
        self._sxp = self._sxp * d + w * x * p
        self._spp = self._spp * d + w * p * p
        self._share_visits += 1

    def share(self) -> float | None:
        """This series' usual share of its prior (sum of its visit means over the prior's
        expectations of them), or None until it rests on share_min_visits visits and its standard
        error (from the spread of the visits around it, so clustered clicks count as they are) is
        within share_rel_se of it."""
        known = self._known_fit()
        return known[0] if known is not None else None

    def _known_fit(self) -> tuple[float, float] | None:
        """`_fit` once the share is known (see `share`), else None."""
        if self._share_visits < self._share_min_visits or self._sx <= 0 or self._sp <= 0:
            return None
        r, resid = self._fit()
        if math.sqrt(resid) > self._share_rel_se * self._sx:
            return None
        return r, resid

    def _fit(self) -> tuple[float, float]:
        """(share r, decayed sum of (x - r p)^2 over the visits); needs _sp > 0."""
        r = self._sx / self._sp
        return r, max(0.0, self._sxx - 2.0 * r * self._sxp + r * r * self._spp)

    def _from_prior(self, t: float) -> Expected | None:
        """The prior's expectation at t scaled by the share, as mature as the youngest profile of
        its own that may answer (min_visits): the share and the borrowed shape are estimates. The
        spread scales as counts do: variance in proportion to the mean."""
        if self.prior is None:
            return None
        share = self.share()
        if share is None:
            return None
        pe = self.prior.expected(t)
        if pe is None:
            return None
        mean, dev = pe.mean * share, pe.dev * math.sqrt(share)
        spread = self.band_z * 1.25 * dev
        return Expected(mean, dev, max(0.0, mean - spread), mean + spread, "prior", self.min_visits)

    # ---------------------------------------------------------------- asking
    def expected(self, t: float) -> Expected | None:
        """Baseline at t, interpolated between slot centres; from the prior where no profile knows
        this time; None when neither can answer."""
        day, idx, pos = self._where(t)
        after = pos >= 0.5
        key = (day, idx, after)
        if key != self._asked:  # the slots read change only when a visit closes (`_close` forgets)
            self._asked, self._answer = key, self._slots_for(day, idx, after)
        found = self._answer
        if not found:
            return self._from_prior(t)
        # weight of the neighbouring slot centre on the side of pos
        w_other = pos - 0.5 if after else 0.5 - pos
        name, a, b = found[0]
        visits = a.visits
        mean, dev = _blend(a, b, w_other)
        if name == "weekday" and visits < _TRUSTED_VISITS and len(found) > 1 and found[1][0] == "daytype":
            # a young day-of-week profile must agree with its day type's, or the day type answers
            _, a2, b2 = found[1]
            m2, d2 = _blend(a2, b2, w_other)
            if abs(mean - m2) > self.k * max(d2, self.rel_floor * abs(m2)):
                name, mean, dev, visits = "daytype", m2, d2, a2.visits
        if self.prior is not None and self.prior_shape_rel > 0:
            mean, dev, visits = self._with_prior(t, mean, dev, visits)
        spread = self.band_z * 1.25 * dev  # 1.25 x mean abs deviation ~ one standard deviation
        return Expected(mean, dev, max(0.0, mean - spread), mean + spread, name, visits)

    def _with_prior(self, t: float, mean: float, dev: float, visits: int) -> tuple[float, float, int]:
        """(mean, dev, visits) of the own profile's answer shrunk towards the prior's expectation
        scaled by the share, each weighed by its precision; the own answer alone where the share is
        unknown or the two disagree beyond winsor_k deviations (a shape of its own).

        Why: a small province's slot learnt from a few days is noisy (Inner Mongolia's K-12 at 1:100
        holds ~50 clicks in a 15-minute slot of a school morning, ~0.6 of its mean in deviation per
        visit), and once read half its true level on a Tuesday morning from three visits: a false
        surge. The prior's shape rests on far more clicks. A visit's variance about share x prior
        is learnt from how far visits missed their own day-type slot (counts: in proportion to the
        mean), the own slot's is that over its visits; the prior's is `prior_shape_rel` (how far a
        series' daily shape may differ from its parent's, relative) plus the share's standard error. `visits` becomes the
        combination's worth in visits, as a detector's allowance for a young baseline reads it."""
        # the share's error enters the prior's variance, so a share too uncertain to answer alone
        # (`share_rel_se`) still weighs in (a small province at 1:1000 never gets within 10 %), once
        # it has seen a whole day: a share from a night's few visits (zeros against zeros) had no
        # spread, looked precise and put a platform's afternoon at a tenth of its level
        if self._share_visits < max(self._share_min_visits, self.n_slots) or self._sx <= 0 or self._sp <= 0:
            return mean, dev, visits
        if self._miss_visits < self._share_min_visits or self._miss_m <= 0:
            return mean, dev, visits
        assert self.prior is not None  # `expected` asks only with a prior
        pe = self.prior.expected(t)
        if pe is None or pe.mean <= 0:
            return mean, dev, visits
        share, resid = self._fit()
        pm = pe.mean * share
        per_visit = self._miss_sq / self._miss_m * (max(mean, 0.0) + pm) / 2.0
        n = min(float(max(visits, 1)), self.ewma_visits)
        own_var = per_visit / n
        prior_var = (self.prior_shape_rel**2 + resid / (self._sx * self._sx)) * pm * pm
        if own_var <= 0 or prior_var <= 0 or abs(mean - pm) > self.k * math.sqrt(own_var + prior_var):
            return mean, dev, visits
        w = own_var / (own_var + prior_var)
        worth = visits + min(per_visit / prior_var, 1000.0)
        return mean + w * (pm - mean), dev + w * (pe.dev * math.sqrt(share) - dev), int(worth)

    def _slots_for(self, day: int, idx: int, after: bool) -> list[tuple[str, _Slot, _Slot | None]]:
        """(profile, slot of t, neighbouring slot or None) of each profile that knows this time, the
        most specific first; the neighbour is the slot centre on t's side, with the day it belongs to."""
        other, other_day = (idx + 1, day) if after else (idx - 1, day)
        if other >= self.n_slots:
            other, other_day = 0, day + 1
        elif other < 0:
            other, other_day = self.n_slots - 1, day - 1
        found: list[tuple[str, _Slot, _Slot | None]] = []
        for profile, g, g_other in zip(self.profiles, self._groups(day), self._groups(other_day), strict=False):
            a = profile.get(g, idx)
            if a is None or a.visits < self.min_visits:
                continue
            b = profile.get(g_other, other)
            found.append((profile.name, a, None if b is None or b.visits < self.min_visits else b))
        return found

    def ratio(self, t: float, x: float, floor: float = 1e-9) -> float | None:
        """x over the expected mean (the surge ratio the cockpit shows), None without a baseline."""
        e = self.expected(t)
        if e is None:
            return None
        return x / max(e.mean, floor)
