"""Judge a replay against its scenario: alert episodes, closures and what each closure should raise.

An episode is one alert (fingerprint) from firing to resolved. A closure of the K-12 platform of
factor >= `min_factor` should be exactly one surge episode of its province, firing by `grace_s`
after the first school morning (08:00 Beijing, Monday to Friday but the scenario's holidays) under the closure, and resolved by
`grace_s` after the first school morning after it. Everything else is a false alert.
Used by the scenario tests and the replay command's summary.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from contracts.alerts import State, StateChange
from contracts.calendar import SchoolCalendar
from simulators.scenario import Scenario

DAY_S = 86_400
BJ_S = 8 * 3600
MORNING_S = 8 * 3600  # school starts: 08:00 local
DETECTED = ("TrafficSurge", "TrafficDrop", "TrafficOutage")


@dataclass(frozen=True)
class Episode:
    alertname: str
    labels: tuple[tuple[str, str], ...]
    fired: float
    resolved: float | None  # None: still firing at the end

    def label(self, key: str) -> str | None:
        return dict(self.labels).get(key)


@dataclass(frozen=True)
class Closure:
    province: str
    factor: float
    start: float
    end: float
    first_morning: float  # first school morning under the closure
    reopen_morning: float  # first school morning after it


def episodes(changes: Iterable[StateChange]) -> list[Episode]:
    open_: dict[str, tuple[StateChange, float]] = {}
    out: list[Episode] = []
    for ch in changes:
        if ch.kind != "state":
            continue
        if ch.new_state is State.FIRING:
            open_[ch.fingerprint] = (ch, ch.at)
        elif ch.new_state is State.RESOLVED and ch.fingerprint in open_:
            first, at = open_.pop(ch.fingerprint)
            out.append(Episode(first.alertname, tuple(sorted(first.labels.items())), at, ch.at))
    out += [Episode(c.alertname, tuple(sorted(c.labels.items())), at, None) for c, at in open_.values()]
    return sorted(out, key=lambda e: e.fired)


def school_morning(t: float, calendar: SchoolCalendar = SchoolCalendar(), province: str | None = None) -> float:
    """The first 08:00 (Beijing) of a school day (Monday to Friday but the calendar's rest days, and
    its make-up school days) at or after t."""
    day = int((t + BJ_S) // DAY_S)
    for _ in range(4 * 366):  # a calendar cannot rest for years; a bound, not a condition
        m = day * DAY_S + MORNING_S - BJ_S
        if m >= t and calendar.is_school_day(day, province):
            return float(m)
        day += 1
    raise ValueError(f"no school day within four years of {t}")


def closures(sc: Scenario) -> list[Closure]:
    """The scenario's closures of one or more provinces, with their school mornings by its holidays."""
    out = []
    cal = sc.calendar()
    for e in sc.events:
        if e.type not in ("closure", "surge") or e.provinces is None or e.end_ms is None:
            continue
        for p in sorted(e.provinces):
            start, end = e.start_ms / 1000, e.end_ms / 1000
            out.append(Closure(p, e.factor, start, end, school_morning(start, cal, p), school_morning(end, cal, p)))
    return out


@dataclass
class Verdict:
    missed: list[Closure]
    late: list[tuple[Closure, Episode]]
    split: list[tuple[Closure, list[Episode]]]  # more than one episode for one closure
    false: list[Episode]

    @property
    def ok(self) -> bool:
        return not (self.missed or self.late or self.split or self.false)


def judge(
    sc: Scenario,
    changes: Iterable[StateChange],
    *,
    min_factor: float = 2.5,
    grace_s: float = 7200.0,
    judged: Iterable[str] | None = None,
    scenario_end: float | None = None,
) -> Verdict:
    """`judged`: the provinces whose closures must be detected on time (all by default). Any other
    closure may go unseen (at 1:1000 a small province has too few clicks to be judged) or be told
    late, but as one episode, and nothing may fire outside the closures."""
    eps = [e for e in episodes(changes) if e.alertname in DETECTED]
    end = scenario_end if scenario_end is not None else sc.end_ms / 1000
    must = set(judged) if judged is not None else None
    v = Verdict([], [], [], [])
    used: set[Episode] = set()
    for c in closures(sc):
        if c.factor < min_factor or c.first_morning + grace_s > end:
            continue  # below the alerting level, or not yet judgeable in the range replayed
        mine = [
            e
            for e in eps
            if e.alertname == "TrafficSurge"
            and e.label("province") == c.province
            and e.fired < c.reopen_morning + grace_s
            and (e.resolved is None or e.resolved > c.start)
        ]
        used.update(mine)
        if not mine:
            if must is None or c.province in must:
                v.missed.append(c)
            continue
        if len(mine) > 1:
            v.split.append((c, mine))
        if must is not None and c.province not in must:
            continue  # not judged on time (too few clicks, or a morning measured apart): one episode
        first = mine[0]
        resolved_by = c.reopen_morning + grace_s
        late_fire = first.fired > c.first_morning + grace_s
        late_resolve = (first.resolved is None and resolved_by < end) or (
            first.resolved is not None and (first.resolved > resolved_by or first.resolved < c.end)
        )
        if late_fire or late_resolve:
            v.late.append((c, first))
    v.false = [e for e in eps if e not in used]
    return v
