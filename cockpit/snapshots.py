"""What one refresh of each page shows, loaded only through the named-query loaders.

A snapshot is plain data (dataclasses of ints and dicts): callbacks render it, tests compare it with
ground truth, the benchmark times `load_overview`. Every window is derived from the event-time "now"
(the latest stored minute), never from the wall clock.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from cockpit.queries import Queries, TopResource
from cockpit.timeframe import DAY, MINUTE, Span, Windows, beijing_day_start, range_span, windows
from cockpit.timeframe import HOUR as HOUR_S


@dataclass(frozen=True)
class Filters:
    """The viewer's controls, as the callbacks read them."""

    range: str = "1h"
    custom_start: str | None = None
    custom_end: str | None = None
    platform: str | None = None  # None: all four platforms

    @staticmethod
    def from_controls(
        range_: str | None, custom_start: str | None, custom_end: str | None, platform: str | None
    ) -> Filters:
        return Filters(range_ or "1h", custom_start, custom_end, platform or None)

    def span(self, now: int) -> Span:
        return range_span(self.range, now, self.custom_start, self.custom_end)


def rate_point(series: list[tuple[int, int]], now: int) -> tuple[int, int]:
    """(minute, events) of the last full minute: the one before `now`, which may still be filling.

    With only the latest minute stored there is no earlier one; that minute is shown then. A minute
    missing from a non-empty series stored no events: its rate is 0, not a guess.
    """
    counts = dict(series)
    if any(ts < now for ts in counts):
        return now - MINUTE, counts.get(now - MINUTE, 0)
    return now, counts.get(now, 0)


def peak_point(series: list[tuple[int, int]]) -> tuple[int, int]:
    """(minute, events) of the busiest minute; the earliest one on ties."""
    return max(series, key=lambda p: (p[1], -p[0])) if series else (0, 0)


TILE = 10  # seconds per `tiles_10s` bucket
TILES_LOOKBACK = 5 * MINUTE  # how far back the live tile looks for its last complete bucket


def eps_point(tiles: Sequence[tuple[int, str, int]], platform: str | None = None) -> tuple[int, float] | None:
    """(bucket start, events per second) of the last complete 10 s bucket, or None without tiles.

    The latest stored bucket may still be filling, so the one before it is shown (0 if it stored
    nothing); with a single bucket stored, that one is shown. Same rule as `rate_point`.
    """
    totals: dict[int, int] = {}
    for ts, plat, n in tiles:
        if platform is None or plat == platform:
            totals[ts] = totals.get(ts, 0) + n
    if not totals:
        return None
    last = max(totals)
    bucket = last - TILE if any(ts < last for ts in totals) else last
    return bucket, totals.get(bucket, 0) / TILE


def per_second_now(rate_minute: int, rate: int) -> tuple[int, float]:
    """The one "events per second now" of the cockpit: the last full minute's events / 60, so the
    KPI, the per-minute rate and the line always agree (10 s tiles jumped with their own noise)."""
    return rate_minute, rate / 60.0


def freshness(latest_minute: int | None, wall: float, stale_after_s: float) -> str:
    """ "live", "stale" or "empty": the newest stored minute ended within `stale_after_s` of the
    wall clock, or longer ago, or nothing is stored. A replay of 2022 is stale by this rule, and
    says so: the pill is about the wall clock, the data time stands next to it."""
    if latest_minute is None:
        return "empty"
    return "live" if wall - (latest_minute + MINUTE) <= stale_after_s else "stale"


def chart_episodes(
    history: Iterable[AlertChange], end: int
) -> tuple[list[tuple[int, int | None, str]], list[tuple[int, str, str]]]:
    """(episodes, actions) for the time-series annotations: each alert's firing..resolved runs
    (None end while it still fires at `end`) and its acks and silences, from the alert log."""
    episodes: list[tuple[int, int | None, str]] = []
    open_: dict[str, tuple[int, str]] = {}
    actions: list[tuple[int, str, str]] = []
    for c in sorted(history, key=lambda c: c.at):
        label = c.alertname + (f" · {c.labels['province']}" if c.labels.get("province") else "")
        if c.kind in ("ack", "silence"):
            actions.append((c.at, c.kind, c.comment or label))
        elif c.kind == "state" and c.new_state == "firing" and c.fingerprint not in open_:
            open_[c.fingerprint] = (c.at, label)
        elif c.kind == "state" and c.new_state == "resolved" and c.fingerprint in open_:
            at, lbl = open_.pop(c.fingerprint)
            episodes.append((at, c.at, lbl))
    episodes += [(at, None, lbl) for at, lbl in open_.values() if at < end]
    return episodes, actions


# ----------------------------------------------------------------------------------------------
# Alerts, as the alert log stores them (`sinks.tables.alert_log`): labels and annotations are JSON.

ACTIVE_STATES = ("firing", "pending")
SILENCE_STARTS, SILENCE_ENDS = "silence_starts_at", "silence_ends_at"  # a silence's window (cockpit.acks)
SURGE = "TrafficSurge"


def _json(text: Any) -> dict[str, str]:
    try:
        value = json.loads(text) if text else {}
    except (TypeError, ValueError):
        return {}
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else {}


def _float(text: str | None) -> float | None:
    try:
        return float(text) if text is not None and text != "" else None
    except ValueError:
        return None


@dataclass(frozen=True)
class AlertNow:
    """An alert's latest state change (`alerts_current`)."""

    fingerprint: str
    alertname: str
    state: str
    severity: str
    at: int
    value: float
    labels: dict[str, str]
    annotations: dict[str, str]

    @property
    def province(self) -> str | None:
        return self.labels.get("province")

    @property
    def ratio(self) -> float | None:
        """The surge ratio against the baseline, when the alert's annotations carry one."""
        return _float(self.annotations.get("ratio"))

    @property
    def summary(self) -> str:
        return self.annotations.get("summary", "")


@dataclass(frozen=True)
class AlertChange:
    """One line of the alert log (`alerts_history`): a state change, acknowledgement or silence."""

    at: int
    fingerprint: str
    alertname: str
    kind: str
    old_state: str
    new_state: str
    severity: str
    value: float
    labels: dict[str, str]
    annotations: dict[str, str]
    author: str
    comment: str


def parse_current(rows: Iterable[Sequence[Any]]) -> list[AlertNow]:
    return [
        AlertNow(str(fp), str(name), str(state), str(sev), int(at), float(value), _json(labels), _json(ann))
        for fp, name, state, sev, at, value, labels, ann in rows
    ]


def parse_history(rows: Iterable[Sequence[Any]]) -> list[AlertChange]:
    return [
        AlertChange(
            int(at),
            str(fp),
            str(name),
            str(kind),
            str(old),
            str(new),
            str(sev),
            float(value),
            _json(labels),
            _json(ann),
            str(author),
            str(comment),
        )
        for at, fp, name, kind, old, new, sev, value, labels, ann, author, comment in rows
    ]


def surge_board(alerts: Iterable[AlertNow]) -> list[AlertNow]:
    """Provinces whose current alert is a TrafficSurge (firing or pending), highest ratio first.

    One row per province (its highest-ratio surge); alerts without a ratio rank last, then by code.
    """
    best: dict[str, AlertNow] = {}
    for a in alerts:
        code = a.province
        if a.alertname != SURGE or a.state not in ACTIVE_STATES or not code:
            continue
        held = best.get(code)
        if held is None or (a.ratio or -1.0) > (held.ratio or -1.0):
            best[code] = a
    return sorted(best.values(), key=lambda a: (a.ratio is None, -(a.ratio or 0.0), a.province or ""))


SEVERITY_ORDER = {"critical": 0, "warning": 1, "info": 2}
STATE_ORDER = {"firing": 0, "pending": 1, "resolved": 2}


def filter_alerts(
    alerts: Iterable[AlertNow], states: Iterable[str] | None = None, severities: Iterable[str] | None = None
) -> list[AlertNow]:
    """Alerts in the chosen states and severities (None: any), firing before pending before resolved,
    then by severity, then the latest change first."""
    st = set(states) if states is not None else None
    sv = set(severities) if severities is not None else None
    kept = [a for a in alerts if (st is None or a.state in st) and (sv is None or a.severity in sv)]
    return sorted(
        kept, key=lambda a: (STATE_ORDER.get(a.state, 9), SEVERITY_ORDER.get(a.severity, 9), -a.at, a.fingerprint)
    )


def alerts_end(now: int | None) -> int:
    """The end of the alert queries: after the event-time "now" minute, or everything while the store
    holds no clicks yet (alerts may still be logged)."""
    return now + MINUTE if now is not None else 2**31 - 1


@dataclass(frozen=True)
class Overview:
    win: Windows
    span: Span
    series: list[tuple[int, int]]  # (bucket, events) over the chosen span, as stored
    hour_series: list[tuple[int, int]]  # per minute, last hour: rate and peak come from it
    today_total: int
    late_today: int
    hour_total: int
    span_total: int
    rate_minute: int  # the minute whose count is shown as the current rate
    rate: int
    peak_minute: int
    peak: int
    today_yesterday: int  # yesterday from 00:00 up to the same time of day
    today_last_week: int  # the same day of last week, up to the same time
    rate_yesterday: int  # the same minute yesterday
    by_platform: dict[str, int]  # over the span
    by_province: dict[str, int]  # over the span
    by_section: dict[str, int]  # over the span
    map_rate: dict[str, int]  # per province in `rate_minute`
    # from the storage layer's own named queries (all platforms: they take no platform filter)
    eps: tuple[int, float] | None = None  # (minute, events per second) of the last full minute: rate / 60
    active_sessions: int = 0  # unique sessions with any event in `rate_minute`
    active_sessions_yesterday: int = 0  # the same minute yesterday
    uniques_today: int = 0  # unique users today so far
    uniques_yesterday: int = 0  # yesterday up to the same time
    uniques_last_week: int = 0  # the same day last week up to the same time
    sessions: dict[str, float] = field(default_factory=dict)  # `sessions_between` over the span
    top_resources: list[TopResource] = field(default_factory=list)  # over the span
    countries: list[tuple[str, int]] = field(default_factory=list)  # abroad, over the span
    alerts: list[AlertNow] = field(default_factory=list)  # each alert's current state
    alert_marks: list[AlertChange] = field(default_factory=list)  # alerts that started firing in the span
    history: list[AlertChange] = field(default_factory=list)  # every logged change in the span (annotations)
    platform: str | None = None  # the platform filter the click measures follow (None: all)
    sparks: dict[str, list[int]] = field(default_factory=dict)  # surge board provinces: last 30 minutes
    # the span one..BASELINE_WEEKS weeks earlier, buckets moved onto the span's (`load_baseline`)
    baseline: list[list[tuple[int, int]]] | None = None


TOP_RESOURCES = 10
TOP_COUNTRIES = 10


def load_overview(q: Queries, filters: Filters | None = None) -> Overview | None:
    """One refresh's data, or None while the store holds no clicks (the page then says so)."""
    f = filters or Filters()
    now = q.latest_minute()
    if now is None:
        return None
    w, span, pf = windows(now), f.span(now), f.platform
    hour_series = q.series(w.hour_start, w.hour_end, platform=pf)
    series = (
        hour_series
        if (span.start, span.end, span.step) == (w.hour_start, w.hour_end, MINUTE)
        else q.series(span.start, span.end, span.step, platform=pf)
    )
    rate_minute, rate = rate_point(hour_series, w.now)
    peak_minute, peak = peak_point(hour_series)
    end = alerts_end(w.now)
    users_today, _ = q.uniques_between(w.day_start, w.day_end)
    _, active = q.uniques_between(rate_minute, rate_minute + MINUTE)
    history = parse_history(q.alerts_history(span.start, min(span.end, end), 500))
    marks = [c for c in history if c.kind == "state" and c.new_state == "firing"]
    alerts = parse_current(q.alerts_current(end))
    sparks = load_sparklines(q, [a.province for a in surge_board(alerts) if a.province], w.now)
    return Overview(
        win=w,
        span=span,
        series=series,
        hour_series=hour_series,
        today_total=q.total_between(w.day_start, w.day_end, platform=pf),
        late_today=q.late_total_between(w.day_start, w.day_end, platform=pf),
        hour_total=sum(n for _, n in hour_series),
        span_total=q.total_between(span.start, span.end, platform=pf),
        rate_minute=rate_minute,
        rate=rate,
        peak_minute=peak_minute,
        peak=peak,
        today_yesterday=q.total_between(w.day_start - DAY, w.hour_end - DAY, platform=pf),
        today_last_week=q.total_between(w.day_start - 7 * DAY, w.hour_end - 7 * DAY, platform=pf),
        rate_yesterday=q.total_between(rate_minute - DAY, rate_minute - DAY + MINUTE, platform=pf),
        by_platform=q.total_by_platform(span.start, span.end, platform=pf),
        by_province=q.total_by_province(span.start, span.end, platform=pf),
        by_section=q.total_by_section(span.start, span.end, platform=pf),
        map_rate=q.total_by_province(rate_minute, rate_minute + MINUTE, platform=pf),
        eps=per_second_now(rate_minute, rate),
        active_sessions=active,
        active_sessions_yesterday=q.uniques_between(rate_minute - DAY, rate_minute - DAY + MINUTE)[1],
        uniques_today=users_today,
        uniques_yesterday=q.uniques_between(w.day_start - DAY, w.hour_end - DAY)[0],
        uniques_last_week=q.uniques_between(w.day_start - 7 * DAY, w.hour_end - 7 * DAY)[0],
        sessions=q.sessions_between(span.start, span.end),
        top_resources=q.top_resources(span.start, span.end, TOP_RESOURCES),
        countries=q.countries_between(span.start, span.end, TOP_COUNTRIES),
        alerts=alerts,
        alert_marks=marks,
        history=history,
        platform=pf,
        sparks=sparks,
        baseline=load_baseline(q, span, pf),
    )


@dataclass(frozen=True)
class AlertsView:
    """The alerts page: every alert's current state and the log of changes over the chosen span."""

    end: int
    current: list[AlertNow]
    history: list[AlertChange]

    def acknowledged(self) -> set[str]:
        """Fingerprints acknowledged since their latest state change (within the history shown)."""
        since = {a.fingerprint: a.at for a in self.current}
        return {c.fingerprint for c in self.history if c.kind == "ack" and c.at >= since.get(c.fingerprint, 2**31)}

    def silenced(self) -> dict[str, int]:
        """{fingerprint: end of its silence (epoch s)} for silences still running at the view's end
        (event time), within the history shown; the latest end when there are several."""
        now = self.end - MINUTE  # the event-time "now" minute the view was loaded at
        out: dict[str, int] = {}
        for c in self.history:
            if c.kind != "silence":
                continue
            start, end = _float(c.annotations.get(SILENCE_STARTS)), _float(c.annotations.get(SILENCE_ENDS))
            if start is not None and end is not None and start <= now < end:
                out[c.fingerprint] = max(out.get(c.fingerprint, 0), int(end))
        return out

    def silences(self) -> list[tuple[AlertChange, int]]:
        """(the silence record, its end) for each silence still running at the view's "now", the
        soonest to expire first; a later silence of the same alert replaces an earlier one."""
        now = self.end - MINUTE
        latest: dict[str, tuple[AlertChange, int]] = {}
        for c in sorted(self.history, key=lambda c: c.at):
            if c.kind != "silence":
                continue
            start, end = _float(c.annotations.get(SILENCE_STARTS)), _float(c.annotations.get(SILENCE_ENDS))
            if start is not None and end is not None:
                latest[c.fingerprint] = (c, int(end))
        return sorted(((c, end) for c, end in latest.values() if end > now), key=lambda p: (p[1], p[0].fingerprint))


HISTORY_LIMIT = 200


def load_alerts(q: Queries, filters: Filters | None = None) -> AlertsView:
    """Alerts as of the event-time "now"; the history covers the chosen range (7 days before the
    latest change while no clicks are stored)."""
    f = filters or Filters()
    now = q.latest_minute()
    end = alerts_end(now)
    current = parse_current(q.alerts_current(end))
    if now is not None:
        start = f.span(now).start
    else:
        start = (max(a.at for a in current) if current else 0) - 7 * DAY
    return AlertsView(end, current, parse_history(q.alerts_history(max(0, start), end, HISTORY_LIMIT)))


# ----------------------------------------------------------------------------------------------
# The surge ratio of the map: each division's events over the last SURGE_WINDOW of full minutes
# against its seasonal baseline, the median of the same window (same Beijing time of day) on the same
# weekday of the previous BASELINE_WEEKS weeks. A week counts only if the store holds traffic in that
# window (anywhere): a week before the store's history is missing data, not zero traffic. With fewer
# than MIN_BASELINE_WEEKS such weeks there is no baseline, and the map says so instead of guessing.

SURGE_WINDOW = 15 * MINUTE
BASELINE_WEEKS = 4
MIN_BASELINE_WEEKS = 2
WEEK = 7 * DAY


def surge_ratios(
    current: Mapping[str, int], history: Sequence[Mapping[str, int]], min_weeks: int = MIN_BASELINE_WEEKS
) -> dict[str, float]:
    """{code: current / baseline} for codes whose baseline (the median over the weeks with any
    traffic) is above zero; {} when fewer than `min_weeks` weeks stored traffic."""
    weeks = [h for h in history if any(n > 0 for n in h.values())]
    if len(weeks) < min_weeks:
        return {}
    codes = set(current).union(*weeks)
    out: dict[str, float] = {}
    for code in sorted(codes):
        base = statistics.median(int(h.get(code, 0)) for h in weeks)
        if base > 0:
            out[code] = int(current.get(code, 0)) / base
    return out


def surge_window(rate_minute: int) -> tuple[int, int]:
    """[start, end) of the surge window: SURGE_WINDOW of full minutes ending with `rate_minute`."""
    end = rate_minute + MINUTE
    return end - SURGE_WINDOW, end


SHARE_DAYS = 7  # the "usual share" baseline: the province's share over the days before the window
MIN_SHARE_EVENTS = 20  # a division with fewer events in the window is not judged (noise)


def share_ratios(
    current: Mapping[str, int], usual: Mapping[str, int], min_events: int = MIN_SHARE_EVENTS
) -> dict[str, float]:
    """{code: its share of national events now / its usual share}: the baseline of day one, when
    no earlier week is stored. {} without usual traffic or current traffic."""
    now_total, usual_total = sum(current.values()), sum(usual.values())
    if now_total <= 0 or usual_total <= 0:
        return {}
    out: dict[str, float] = {}
    for code in sorted(set(current) | set(usual)):
        base = usual.get(code, 0) / usual_total
        n = int(current.get(code, 0))
        if base > 0 and (n >= min_events or usual.get(code, 0) >= min_events):
            out[code] = (n / now_total) / base
    return out


def load_surge_basis(q: Queries, now: int, platform: str | None = None) -> tuple[dict[str, float], str]:
    """(ratios, basis): against the same slot of earlier weeks when MIN_BASELINE_WEEKS are stored
    ("seasonal"), else against each division's usual share of national traffic over the
    SHARE_DAYS before the window, from the hourly rollup ("share"); ({}, "none") without either."""
    w = windows(now)
    rate_minute, _ = rate_point(q.series(w.hour_start, w.hour_end, platform=platform), w.now)
    start, end = surge_window(rate_minute)
    current = q.total_by_province(start, end, platform=platform)
    history = [
        q.total_by_province(start - k * WEEK, end - k * WEEK, platform=platform) for k in range(1, BASELINE_WEEKS + 1)
    ]
    seasonal = surge_ratios(current, history)
    if seasonal:
        return seasonal, "seasonal"
    hour = start - start % HOUR_S
    usual = q.daily_by_province(hour - SHARE_DAYS * DAY, hour, platform=platform) if hour > 0 else {}
    if not usual:  # day one's first hour: the hours of the same day before the window's minutes
        usual = q.total_by_province(max(0, start - SHARE_DAYS * DAY), start, platform=platform)
    shares = share_ratios(current, usual)
    return (shares, "share") if shares else ({}, "none")


def load_surge(q: Queries, now: int, platform: str | None = None) -> dict[str, float]:
    """The surge ratio of every division with a baseline (see `load_surge_basis`), computed once
    per event-time minute: its window ends with the last full minute, so it holds all minute."""
    return q.memo(("surge", now, platform), lambda: load_surge_basis(q, now, platform))[0]


def surging(ratios: Mapping[str, float], threshold: float) -> list[str]:
    """Divisions at or above `threshold`, the highest ratio first (ties by code)."""
    return [c for c, r in sorted(ratios.items(), key=lambda p: (-p[1], p[0])) if r >= threshold]


def load_baseline(q: Queries, span: Span, platform: str | None = None) -> list[list[tuple[int, int]]] | None:
    """The national line's seasonal history: the same span (same Beijing time of day, same weekday)
    one, two, ... BASELINE_WEEKS weeks earlier, one `series` per week through the shared cache, its
    buckets moved forward by its week onto the span's. `figures.seasonal_band` turns it into the
    median and min..max band, needing MIN_BASELINE_WEEKS weeks with data per bucket, as the map does.

    Minute lines (up to a day) read four more spans of minute rows; hour lines (7 days, custom
    ranges) read the hourly rollup (`Queries.series`), so a 7-day band costs ~700 hour rows.
    """
    return [
        [
            (ts + k * WEEK, n)
            for ts, n in q.series(span.start - k * WEEK, span.end - k * WEEK, span.step, platform=platform)
        ]
        for k in range(1, BASELINE_WEEKS + 1)
    ]


def load_map_values(q: Queries, filters: Filters | None = None, measure: str = "rate") -> dict[str, float] | None:
    """Per-division values of a map measure: events in the last full minute ("rate"), in the chosen
    span ("total"), or the surge ratio against the seasonal baseline ("surge": only divisions that
    have a baseline; {} when none has). None while the store is empty."""
    f = filters or Filters()
    now = q.latest_minute()
    if now is None:
        return None
    if measure == "total":
        span = f.span(now)
        return dict(q.total_by_province(span.start, span.end, platform=f.platform))
    if measure == "surge":
        return dict(load_surge(q, now, f.platform))
    if measure != "rate":
        return {}
    w = windows(now)
    rate_minute, _ = rate_point(q.series(w.hour_start, w.hour_end, platform=f.platform), w.now)
    return dict(q.total_by_province(rate_minute, rate_minute + MINUTE, platform=f.platform))


SPARK_MINUTES = 30


def load_sparklines(q: Queries, codes: Iterable[str], now: int) -> dict[str, list[int]]:
    """Per division, events in each of the last SPARK_MINUTES minutes up to `now` (0 where a minute
    stored nothing: the store holds every minute since the first of the window for the nation)."""
    wanted = set(codes)
    if not wanted:
        return {}
    start, end = now - (SPARK_MINUTES - 1) * MINUTE, now + MINUTE
    per: dict[str, dict[int, int]] = {c: {} for c in wanted}
    for ts, code, n in q.province_minutes(start, end):
        if code in per:
            per[code][ts] = per[code].get(ts, 0) + n
    return {c: [per[c].get(ts, 0) for ts in range(start, end, MINUTE)] for c in wanted}


@dataclass(frozen=True)
class ProvinceView:
    code: str
    win: Windows
    span: Span
    series: list[tuple[int, int]]
    span_total: int
    national_span_total: int
    today_total: int
    rate_minute: int
    rate: int
    by_platform: dict[str, int]
    by_section: dict[str, int]
    alerts: list[AlertNow] = field(default_factory=list)  # alerts labelled with this province, current state
    history: list[AlertChange] = field(default_factory=list)  # this province's logged changes in the span

    @property
    def share(self) -> float | None:
        return self.span_total / self.national_span_total if self.national_span_total else None


def load_province(q: Queries, code: str, filters: Filters | None = None) -> ProvinceView | None:
    """The overview's measures for one province (validated code), or None while the store is empty."""
    f = filters or Filters()
    now = q.latest_minute()
    if now is None:
        return None
    w, span, pf = windows(now), f.span(now), f.platform
    hour = q.series(w.hour_start, w.hour_end, platform=pf, province=code)
    rate_minute, rate = rate_point(hour, w.now)
    if not hour:  # nothing this hour in the province: the last full minute stored nothing
        rate_minute, rate = w.now - MINUTE, 0
    return ProvinceView(
        code=code,
        win=w,
        span=span,
        series=q.series(span.start, span.end, span.step, platform=pf, province=code),
        span_total=q.total_between(span.start, span.end, platform=pf, province=code),
        national_span_total=q.total_between(span.start, span.end, platform=pf),
        today_total=q.total_between(w.day_start, w.day_end, platform=pf, province=code),
        rate_minute=rate_minute,
        rate=rate,
        by_platform=q.total_by_platform(span.start, span.end, platform=pf, province=code),
        by_section=q.total_by_section(span.start, span.end, platform=pf, province=code),
        alerts=filter_alerts(a for a in parse_current(q.alerts_current(alerts_end(w.now))) if a.province == code),
        history=[
            c
            for c in parse_history(q.alerts_history(span.start, min(span.end, alerts_end(w.now)), 500))
            if c.labels.get("province") == code
        ],
    )


# ----------------------------------------------------------------------------------------------
# The daily report, in the seed's terms: total and average views per day, the peak day, and each
# province's daily average against an earlier period the reader chooses.


@dataclass(frozen=True)
class Period:
    start: int  # 00:00 Beijing of the first day
    end: int  # 00:00 Beijing after the last day

    @property
    def days(self) -> int:
        return max(0, (self.end - self.start) // DAY)


@dataclass(frozen=True)
class GrowthRow:
    code: str
    base_avg: float  # events per day in the earlier period
    avg: float  # events per day in the reported period
    ratio: float | None  # avg / base_avg; None when the earlier period stored nothing


@dataclass(frozen=True)
class Report:
    period: Period
    base: Period
    days_counted: int  # days of the period up to the data's today: the divisor of the average
    daily: list[tuple[int, int]]  # (YYYYMMDD, events), every day counted, 0 where nothing stored
    total: int
    average: float
    peak_day: int | None
    peak: int
    national: GrowthRow
    growth: list[GrowthRow] = field(default_factory=list)  # largest ratio first
    days_with_data: int = 0  # days of the period that stored any traffic: the divisor of `average`


def counted(period: Period, now: int) -> Period:
    """The part of a period that has begun by the data's "now": future days are not averaged in."""
    return Period(period.start, max(period.start, min(period.end, beijing_day_start(now) + DAY)))


def _yyyymmdd(ts: int) -> int:
    from cockpit.timeframe import to_beijing

    d = to_beijing(ts)
    return d.year * 10000 + d.month * 100 + d.day


def growth_rows(base: dict[str, int], cur: dict[str, int], base_days: int, days: int) -> list[GrowthRow]:
    """Per-code daily averages and their ratio; codes with traffic in either period, largest first."""
    rows = []
    for code in sorted(set(base) | set(cur)):
        b = base.get(code, 0) / base_days if base_days else 0.0
        a = cur.get(code, 0) / days if days else 0.0
        rows.append(GrowthRow(code, b, a, a / b if b else None))
    return sorted(rows, key=lambda r: (r.ratio is None, -(r.ratio or 0.0), r.code))


def load_report(q: Queries, period: Period, base: Period, platform: str | None = None) -> Report | None:
    now = q.latest_minute()
    if now is None:
        return None
    p, b = counted(period, now), counted(base, now)
    stored = dict(q.daily_totals(p.start, p.end, platform=platform))
    daily = [(_yyyymmdd(ts), stored.get(_yyyymmdd(ts), 0)) for ts in range(p.start, p.end, DAY)]
    total = sum(n for _, n in daily)
    peak_day, peak = max(daily, key=lambda d: (d[1], -d[0])) if daily else (None, 0)
    cur = q.daily_by_province(p.start, p.end, platform=platform)
    old = q.daily_by_province(b.start, b.end, platform=platform)
    national = growth_rows({"all": sum(old.values())}, {"all": total}, b.days, p.days)[0]
    with_data = sum(1 for _, n in daily if n > 0)
    return Report(
        period=period,
        base=base,
        days_counted=p.days,
        daily=daily,
        total=total,
        average=total / with_data if with_data else 0.0,
        peak_day=peak_day if total else None,
        peak=peak,
        national=national,
        growth=growth_rows(old, cur, b.days, p.days),
        days_with_data=with_data,
    )
