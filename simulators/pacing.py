"""Open-loop pacing: when each event *should* be sent, fixed before the run starts.

Closed-loop senders wait for the previous send and quietly slow down when the system under test
does (coordinated omission), which hides exactly the overload a load test is looking for. Here the
n-th event is due at a time fixed by the rate profile (or by its event timestamp in a replay); if the
sender falls behind, the schedule does not move: the lag and the shortfall are measured and reported.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass


@dataclass(frozen=True)
class RateProfile:
    """Piecewise-linear target rate (events/s) over elapsed seconds; the last rate holds after."""

    points: tuple[tuple[float, float], ...]  # (elapsed s, rate), times increasing from 0

    def __post_init__(self) -> None:
        if not self.points or self.points[0][0] != 0:
            raise ValueError("a rate profile starts at t=0")
        if not all(math.isfinite(x) for p in self.points for x in p):
            raise ValueError("rates and times must be finite numbers")
        if any(r < 0 for _, r in self.points) or self.points[0][1] <= 0 and len(self.points) == 1:
            raise ValueError("rates must be >= 0 and not all zero")
        if any(b[0] <= a[0] for a, b in zip(self.points, self.points[1:], strict=False)):
            raise ValueError("profile times must increase")
        cum = [0.0]
        for (t0, r0), (t1, r1) in zip(self.points, self.points[1:], strict=False):
            cum.append(cum[-1] + (r0 + r1) / 2 * (t1 - t0))
        object.__setattr__(self, "_cum", tuple(cum))

    @classmethod
    def constant(cls, rate: float) -> RateProfile:
        return cls(((0.0, float(rate)),))

    @classmethod
    def ramp(cls, start_rate: float, end_rate: float, seconds: float) -> RateProfile:
        return cls(((0.0, float(start_rate)), (float(seconds), float(end_rate))))

    @classmethod
    def steps(cls, steps: list[tuple[float, float]]) -> RateProfile:
        """[(rate, seconds), ...]: each rate held for its seconds (a step is a 1 ms ramp)."""
        pts: list[tuple[float, float]] = []
        t = 0.0
        for rate, secs in steps:
            if pts:
                pts.append((t + 0.001, float(rate)))
            else:
                pts.append((0.0, float(rate)))
            t += secs
            pts.append((t, float(rate)))
        return cls(tuple(pts))

    @classmethod
    def parse(cls, text: str) -> RateProfile:
        """'20000' (constant), '1000..20000/60' (ramp over 60 s), '5000:30,10000:30' (steps)."""
        text = text.strip()
        try:
            if ".." in text:
                a, rest = text.split("..", 1)
                b, _, secs = rest.partition("/")
                return cls.ramp(float(a), float(b), float(secs or 60))
            if ":" in text:
                steps = [p.split(":") for p in text.split(",")]
                if any(len(p) != 2 for p in steps):
                    raise ValueError("steps are RATE:SECONDS, comma-separated")
                return cls.steps([(float(r), float(s)) for r, s in steps])
            return cls.constant(float(text))
        except ValueError as err:
            if "could not convert" in str(err):
                raise ValueError("not a rate: 20000, 1000..20000/60 or 5000:30,10000:30") from None
            raise

    def rate_at(self, t: float) -> float:
        i = bisect.bisect_right([p[0] for p in self.points], t) - 1
        if i >= len(self.points) - 1:
            return self.points[-1][1]
        (t0, r0), (t1, r1) = self.points[i], self.points[i + 1]
        return r0 + (r1 - r0) * (t - t0) / (t1 - t0)

    def expected(self, t: float) -> float:
        """Events due by elapsed time t."""
        cum: tuple[float, ...] = self._cum  # type: ignore[attr-defined]
        i = bisect.bisect_right([p[0] for p in self.points], t) - 1
        t0, r0 = self.points[i]
        r = self.rate_at(t)
        return cum[i] + (r0 + r) / 2 * (t - t0)

    def due(self, n: float) -> float:
        """Elapsed time at which the n-th event (0-based count n) is due."""
        cum: tuple[float, ...] = self._cum  # type: ignore[attr-defined]
        i = bisect.bisect_right(cum, n) - 1
        t0, r0 = self.points[i]
        rest = n - cum[i]
        if i + 1 < len(self.points):
            t1, r1 = self.points[i + 1]
            a = (r1 - r0) / (t1 - t0) / 2
        else:
            a = 0.0
        if abs(a) < 1e-12:
            return t0 + (rest / r0 if r0 > 0 else math.inf)
        disc = r0 * r0 + 4 * a * rest
        return t0 + (-r0 + math.sqrt(max(disc, 0.0))) / (2 * a)


class Schedule:
    """Due times of events: by a rate profile (n-th event), or by event time / speed (replay).

    A paced-by-time run may still have a `nominal` rate profile: the rate its event-time stream was
    generated at (a live run), so its summary can state target, shortfall and rate error too.
    """

    def __init__(
        self, profile: RateProfile | None = None, *, speed: float | None = None, nominal: RateProfile | None = None
    ) -> None:
        if (profile is None) == (speed is None):
            raise ValueError("give a rate profile or a replay speed")
        if speed is not None and speed <= 0:
            raise ValueError("speed must be > 0")
        if nominal is not None and profile is not None:
            raise ValueError("a nominal profile is for runs paced by event time")
        self.profile = profile
        self.speed = speed
        self.nominal = nominal
        self._ts0: int | None = None
        self._max_ts = 0

    def due(self, sent_events: int, event_ts: int) -> float:
        """Elapsed seconds at which the next batch is due."""
        if self.profile is not None:
            return self.profile.due(sent_events)
        if self._ts0 is None:
            self._ts0 = self._max_ts = event_ts
        # batches arrive in client-flush order; pace by the latest event time seen, so a batch
        # whose first event is a little older than its neighbours is not counted as late
        self._max_ts = max(self._max_ts, event_ts)
        return (self._max_ts - self._ts0) / 1000.0 / self.speed  # type: ignore[operator]

    @property
    def target(self) -> RateProfile | None:
        """The rate profile a run is measured against: the pacing one, else the nominal one."""
        return self.profile if self.profile is not None else self.nominal

    def expected(self, elapsed: float) -> float | None:
        return self.target.expected(elapsed) if self.target is not None else None
