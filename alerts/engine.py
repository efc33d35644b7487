"""The alerting engine: per-minute rate rows in, state changes and notifications out.

A plain object the caller drives (the service, a replay, a test): it judges a minute once the
watermark has passed it by the allowed lateness, so each minute is judged once, complete, in event
time; a minute without rows counts as zero, which is what makes an outage visible. Series, rules
and why platform x province is where a closure shows first: docs/alert-detectors.md.
"""

from __future__ import annotations

import time
from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from alerts.baseline import SeasonalBaseline
from alerts.capacity import forecast_crossing, utilisation
from alerts.detectors import Dispersion, DropParams, Reading, SeriesDetector, SurgeParams, dispersions
from alerts.explain import explain_all, format_count
from alerts.lifecycle import AlertBook, Candidate, Rule
from alerts.metrics import AlertMetrics
from alerts.model import Notification, Silence
from contracts.alerts import Severity, State, StateChange
from contracts.calendar import SchoolCalendar
from contracts.geo import PLATFORMS, PROVINCE_BY_CODE, PROVINCE_CODES, SECTIONS
from contracts.rates import ClickRow

SeriesKey = tuple[str, ...]  # ("national",), ("platform", p), ("province", code), ("section", s), ("pp", p, code)
MINUTE = 60


@dataclass(frozen=True, slots=True)
class EngineConfig:
    surge: SurgeParams = SurgeParams()
    drop: DropParams = DropParams()
    # a surge episode holds at least exit_hold_min once begun and its onset is already confirmed on a
    # longer window (SurgeParams.persist): a pending minute shows it, five only delayed every alert
    surge_rule: Rule = Rule("TrafficSurge", Severity.WARNING, for_s=60, hold_s=600)
    drop_rule: Rule = Rule("TrafficDrop", Severity.WARNING, for_s=300, hold_s=600)
    outage_rule: Rule = Rule("TrafficOutage", Severity.CRITICAL, for_s=120, hold_s=300)
    anomaly_rule: Rule = Rule("TrafficAnomaly", Severity.INFO, for_s=0, hold_s=900)
    anomaly_threshold: float = 0.9
    capacity_warning_rule: Rule = Rule("CapacityHigh", Severity.WARNING, for_s=300, hold_s=600)
    capacity_critical_rule: Rule = Rule("CapacityCritical", Severity.CRITICAL, for_s=120, hold_s=600)
    forecast_rule: Rule = Rule("CapacityForecast", Severity.WARNING, for_s=0, hold_s=1800)
    capacity_warning: float = 0.8
    capacity_critical: float = 0.95
    lead_time_s: float = 3600.0
    forecast_horizon_s: float = 6 * 3600.0
    forecast_history_s: float = 3 * 86_400.0
    forecast_every_s: float = 300.0
    lateness_s: float = 300.0
    # a stretch with no rows at all longer than this is stepped over, not judged minute by minute
    # (a stack whose clock was years behind a rehearsal's history once had millions of minutes to judge)
    max_gap_s: float = 6 * 3600.0
    # a stepped-over gap longer than this leaves baselines and burstiness of another time: they are
    # dropped and learnt afresh (a rehearsal on a stack whose only traffic was years earlier, at another
    # scale, once never fired a closed province: its slots were anchored to those few old visits)
    stale_after_s: float = 28 * 86_400.0
    baseline_slot_s: int = 900
    # holidays and make-up school days (settings, and a replayed scenario's announced holidays)
    calendar: SchoolCalendar = SchoolCalendar()
    language: str = "en"  # names in explanations: "en" or "zh"


@dataclass(slots=True)
class MinuteResult:
    minute: float
    readings: dict[SeriesKey, Reading] = field(default_factory=dict)
    changes: list[StateChange] = field(default_factory=list)
    notifications: list[Notification] = field(default_factory=list)


class AlertEngine:
    def __init__(
        self,
        config: EngineConfig = EngineConfig(),
        capacities: Mapping[str, float] | None = None,
        on_change: Callable[[StateChange], None] | None = None,
        deliver: Callable[[list[Notification]], None] | None = None,
        metrics: AlertMetrics | None = None,
        provinces: Iterable[str] = PROVINCE_CODES,
    ) -> None:
        self.cfg = config
        self.capacities = dict(capacities or {})
        self.on_change = on_change
        self.deliver = deliver
        self.metrics = metrics
        self.book = AlertBook()
        self.detectors: dict[SeriesKey, SeriesDetector] = {}
        self._dispersions: dict[str, dict[int, Dispersion]] = {}  # shared by the series of one kind
        self._pending: dict[int, dict[SeriesKey, float]] = defaultdict(lambda: defaultdict(float))
        self.next_minute: int | None = None
        self.late_rows = 0
        self.skipped_minutes = 0  # minutes of long gaps stepped over (see EngineConfig.max_gap_s)
        self.forgotten = 0  # gaps after which everything learnt was dropped (EngineConfig.stale_after_s)
        self._history: dict[str, deque[tuple[float, float]]] = {
            p: deque(maxlen=int(config.forecast_history_s // MINUTE)) for p in PLATFORMS
        }
        self._last_forecast: dict[str, float] = {}
        self._forecasts: dict[str, float | None] = {}
        self._seen_alert_keys: set[tuple[str, str, State]] = set()
        self._surging: set[SeriesKey] = set()  # alert groups whose detectors were in a surge last minute
        provinces = tuple(provinces)
        keys: list[SeriesKey] = [("national",)]
        keys += [("platform", p) for p in PLATFORMS]
        keys += [("province", c) for c in provinces]
        keys += [("section", s) for s in SECTIONS]
        for k in keys:
            self._detector(k)
        # A province's alerts cover its total and each platform in it. A platform's series in a
        # province (`pp`) is judged from its first click on: most pairs never carry traffic (a
        # scenario of one platform has 105 of 140 empty), and an empty series judged every minute
        # cost more than half the engine's time and taught the kind's shared burstiness only zeros.
        self._provinces: dict[str, list[SeriesKey]] = {c: [("province", c)] for c in provinces}

    # ---------------------------------------------------------------- input
    def _detector(self, key: SeriesKey) -> SeriesDetector:
        d = self.detectors.get(key)
        if d is None:
            scored = key[0] in ("national", "platform")
            shared = self._dispersions.setdefault(key[0], dispersions(self.cfg.surge))
            province = key[-1] if key[0] in ("province", "pp") else None
            d = SeriesDetector(
                SeasonalBaseline(
                    slot_s=self.cfg.baseline_slot_s,
                    rest_days=self.cfg.calendar.rest_days(province),
                    school_days=self.cfg.calendar.school_days(province),
                    prior=self._prior(key),
                ),
                self.cfg.surge,
                self.cfg.drop,
                anomaly=scored,
                dispersion=shared,
            )
            self.detectors[key] = d
        return d

    def _prior(self, key: SeriesKey) -> SeasonalBaseline | None:
        """The baseline whose shape a young series borrows (scaled by its share): a platform's in a
        province, the national one for everything else but the national series itself."""
        parent: SeriesKey | None = (
            ("platform", key[1]) if key[0] == "pp" else None if key[0] == "national" else ("national",)
        )
        if parent is None:
            return None
        return self._detector(parent).baseline

    def _forget_learnt(self) -> None:
        """Start every series afresh (baselines, shared burstiness, capacity history), keeping the
        series judged and the alert book: an alert still firing from before the gap resolves at the
        first minute after it, its evidence being older than its hold time."""
        self.forgotten += 1
        self._dispersions.clear()
        for key in list(self.detectors):
            del self.detectors[key]
            self._detector(key)
        for history in self._history.values():
            history.clear()
        self._last_forecast.clear()
        self._forecasts.clear()
        self._surging.clear()

    def ingest(self, rows: Iterable[ClickRow]) -> None:
        """Add rate rows (the clicks of a rates batch)."""
        for row in rows:
            m = row.minute // MINUTE * MINUTE
            if self.next_minute is not None and m < self.next_minute:
                self.late_rows += 1
                continue
            acc = self._pending[m]
            clicks, platform, province = row.clicks, row.platform, row.province
            acc[("national",)] += clicks
            acc[("platform", platform)] += clicks
            acc[("province", province)] += clicks
            acc[("section", row.section)] += clicks
            pp = ("pp", platform, province)
            acc[pp] += clicks
            if pp not in self.detectors and clicks > 0 and province in self._provinces:
                self._detector(pp)
                self._provinces[province].append(pp)

    def add(self, minute: int, key: SeriesKey, value: float) -> None:
        """Add to any series directly (e.g. a top resource: ("resource", id))."""
        m = int(minute) // MINUTE * MINUTE
        self._detector(key)
        self._pending[m][key] += value

    @property
    def position(self) -> int | None:
        """The next minute to judge (the earliest held minute before the first judging), or None."""
        if self.next_minute is not None:
            return self.next_minute
        return min(self._pending) if self._pending else None

    def advance(self, watermark_s: float, until: float | None = None) -> list[MinuteResult]:
        """Evaluate every minute that the watermark has closed (end + lateness <= watermark).

        `until`, a `time.monotonic()` deadline, stops after the minute that passes it; the next call
        goes on (the service polls Kafka in between: weeks of backlog in one call once took longer
        than the consumer's poll interval, and its results filled gigabytes)."""
        if self.next_minute is None:
            if not self._pending:
                return []
            self.next_minute = min(self._pending)
        out = []
        while self.next_minute + MINUTE + self.cfg.lateness_s <= watermark_s:
            if self.next_minute not in self._pending and self._pending:
                first = min(self._pending)
                if first - self.next_minute > self.cfg.max_gap_s:
                    self.skipped_minutes += (first - self.next_minute) // MINUTE
                    if first - self.next_minute > self.cfg.stale_after_s:
                        self._forget_learnt()
                    self.next_minute = first
                    continue
            out.append(self.evaluate_minute(self.next_minute))
            self.next_minute += MINUTE
            if until is not None and time.monotonic() >= until:
                break
        if self.metrics is not None:
            self.metrics.lag.set(max(0.0, watermark_s - (self.next_minute or watermark_s)))
        return out

    # ---------------------------------------------------------------- evaluation
    def evaluate_minute(self, minute: int) -> MinuteResult:
        counts = self._pending.pop(minute, {})
        now = float(minute + MINUTE)  # the rules' clock: the end of the closed minute
        res = MinuteResult(float(minute))
        for key, det in self.detectors.items():
            res.readings[key] = det.observe(float(minute), float(counts.get(key, 0.0)))
        r = res.readings
        surge: list[Candidate] = []
        drop: list[Candidate] = []
        outage: list[Candidate] = []
        anomaly = [
            self._candidate(k, r, "anomaly")
            for k in r  # only once a baseline exists (2 days)
            if k[0] in ("national", "platform")
            and r[k].expected is not None
            and r[k].score >= self.cfg.anomaly_threshold
        ]
        surging: list[str] = []  # provinces in a surge this minute
        for code, keys in self._provinces.items():
            if self._judge(("province", code), keys, r, surge, drop, outage, anomaly):
                for k in keys:  # nothing of a province in an episode feeds its baselines
                    self.detectors[k].frozen = True
            else:
                for k in keys:
                    self.detectors[k].frozen = False
            if ("province", code) in self._surging:
                surging.append(code)
        for k in r:
            if k[0] in ("national", "platform", "resource"):
                own: list[Candidate] = []
                self._judge(k, [k], r, own, drop, outage, anomaly)
                if own and self._surge_beyond(k, r, surging):
                    surge += own
        cap_warn, cap_crit, fc = self._capacity(r, now)
        c = self.cfg
        for rule, cands in (
            (c.surge_rule, surge),
            (c.drop_rule, drop),
            (c.outage_rule, outage),
            (c.anomaly_rule, anomaly),
            (c.capacity_warning_rule, cap_warn),
            (c.capacity_critical_rule, cap_crit),
            (c.forecast_rule, fc),
        ):
            ev = self.book.evaluate(rule, cands, now)
            res.changes += ev.changes
            res.notifications += ev.notifications
        for ch in res.changes:
            if self.on_change is not None:
                self.on_change(ch)
        if res.notifications and self.deliver is not None:
            self.deliver(res.notifications)
        self._observe_metrics(res)
        return res

    # ---------------------------------------------------------------- candidates
    def _name(self, key: SeriesKey) -> str:
        zh = self.cfg.language == "zh"
        if key[0] == "national":
            return "全国" if zh else "National"
        if key[0] == "platform":
            return PLATFORMS[key[1]][0 if zh else 1]
        if key[0] == "province":
            p = PROVINCE_BY_CODE.get(key[1])
            return (p.zh if zh else p.en) if p else key[1]
        if key[0] == "section":
            return SECTIONS[key[1]][0 if zh else 1] if key[1] in SECTIONS else key[1]
        if key[0] == "pp":
            return f"{self._name(('province', key[2]))} {self._name(('platform', key[1]))}"
        return "/".join(key[1:])

    @staticmethod
    def _labels(key: SeriesKey) -> dict[str, str]:
        if key[0] == "pp":
            return {"scope": "platform_province", "platform": key[1], "province": key[2]}
        labels = {"scope": key[0]}
        if key[0] in ("platform", "province", "resource"):
            labels[key[0]] = key[1]
        return labels

    def _judge(
        self,
        alert_key: SeriesKey,
        keys: list[SeriesKey],
        r: Mapping[SeriesKey, Reading],
        surge: list[Candidate],
        drop: list[Candidate],
        outage: list[Candidate],
        anomaly: list[Candidate],
    ) -> bool:
        """One alert per kind for a group of series (a province: its total and each platform in it,
        so a closure is one alert whichever series shows it first); True while any is in an episode."""
        best: dict[str, tuple[float, SeriesKey]] = {}
        for k in keys:
            rd = r[k]
            kind = "surge" if rd.surge else "drop" if rd.drop else "outage" if rd.outage else ""
            if kind and (kind not in best or abs(rd.evidence_z) > best[kind][0]):
                best[kind] = (abs(rd.evidence_z), k)
            if rd.spike and ("spike" not in best or rd.value > r[best["spike"][1]].value):
                best["spike"] = (rd.value, k)
        if "surge" in best:
            if alert_key in self._surging:  # a spike inside a surge already under way: the surge says it
                best.pop("spike", None)
            self._surging.add(alert_key)  # (the minute a spike starts the surge, the spike is still news)
        else:
            self._surging.discard(alert_key)
        for kind, out in (("surge", surge), ("drop", drop), ("outage", outage), ("spike", anomaly)):
            if kind in best:
                out.append(self._candidate(best[kind][1], r, kind, alert_key))
        return any(kind in best for kind in ("surge", "drop", "outage"))

    def _surge_beyond(self, key: SeriesKey, r: Mapping[SeriesKey, Reading], provinces: list[str]) -> bool:
        """Whether a national or platform surge stands without the provinces already surging: one
        closure is one alert, and a lockdown lifting the national K-12 series by a third, with noise
        on top, raised national and K-12 surges beside the province's own (four in a spring term at
        1:1000). Judged on the surge's own evidence window: the total less those provinces' excess
        over the same minutes must still be k x its baseline."""
        rd = r[key]
        n, obs, exp = rd.surge_window_min, rd.surge_obs, rd.surge_exp
        if not provinces or not n or exp is None or exp <= 0 or key[0] not in ("national", "platform"):
            return True
        excess = 0.0
        for c in provinces:
            det = self.detectors.get(("province", c) if key[0] == "national" else ("pp", key[1], c))
            if det is not None:
                p_obs, p_exp = det.window_sums(n)
                if p_exp is not None:
                    excess += max(0.0, p_obs - p_exp)
        return obs - excess >= self.cfg.surge.k * exp

    def _candidate(
        self, key: SeriesKey, r: Mapping[SeriesKey, Reading], kind: str, alert_key: SeriesKey | None = None
    ) -> Candidate:
        rd = r[key]
        name = self._name(key)
        ratio = rd.ratio
        obs, exp, minutes = rd.window_obs, rd.window_exp, self.cfg.surge.window_min
        if kind in ("surge", "drop", "outage") and rd.surge_exp is not None:  # the evidence window
            ratio, obs, exp, minutes = rd.surge_ratio, rd.surge_obs, rd.surge_exp, rd.surge_window_min
        if kind == "spike":
            ratio, obs, exp, minutes = (
                rd.value / rd.expected.mean if rd.expected else None,
                rd.value,
                rd.expected.mean if rd.expected else None,
                1,
            )
        ann = {
            "value": f"{rd.value:g}",
            "window_clicks": f"{obs:g}",
            "window_expected": f"{exp:.1f}" if exp is not None else "",
            "window_minutes": f"{minutes}",
            "ratio": f"{ratio:.2f}" if ratio is not None else "",
            "anomaly_score": f"{rd.score:.2f}",
        }
        if ratio is None:
            ann["summary"] = f"{name}: {kind}, too little traffic to judge now"
        elif kind == "surge":
            excess = format_count(obs - (exp or 0.0), signed=True)
            ann["summary"] = f"{name}: {ratio:.1f}x its baseline ({excess} clicks over {minutes} min)"
        elif kind == "drop":
            ann["summary"] = f"{name}: {ratio:.0%} of its baseline"
        elif kind == "outage":
            ann["summary"] = f"{name}: no clicks while {exp or 0.0:.0f} were expected over {minutes} min"
        elif kind == "spike":
            ann["summary"] = f"{name}: {format_count(obs)} clicks in one minute, {ratio or 0.0:.0f}x its baseline"
        else:
            ann["summary"] = f"{name}: anomaly score {rd.score:.2f}"
        ann["evidence_z"] = f"{rd.evidence_z:.1f}"
        if key[0] in ("national", "platform"):
            ann["explanation"] = self.explanation(key, r)
        if alert_key is not None and alert_key != key:  # a province's alert shown by one platform in it
            ann["series"] = name
        value = ratio if ratio is not None else rd.score
        return Candidate(self._labels(alert_key or key), ann, value)

    def explanation(self, key: SeriesKey, r: Mapping[SeriesKey, Reading]) -> str:
        """Who makes up the deviation of a national or platform series (see alerts.explain)."""
        total = r[key].excess

        def parts(kind: str, pick: Callable[[SeriesKey], bool]) -> dict[str, tuple[float, float]]:
            return {
                self._name(("province", k[-1]) if kind == "pp" else k): (r[k].window_obs, r[k].window_exp or 0.0)
                for k in r
                if k[0] == kind and pick(k) and r[k].window_exp is not None
            }

        if key[0] == "national":
            dims = {
                "province": parts("province", lambda k: True),
                "platform": parts("platform", lambda k: True),
                "section": parts("section", lambda k: True),
            }
        else:
            dims = {"province": parts("pp", lambda k: k[1] == key[1]), "section": {}}
        return explain_all(total, {d: p for d, p in dims.items() if p}, unit=" clicks")

    def _capacity(self, r: Mapping[SeriesKey, Reading], now: float) -> tuple[list[Candidate], ...]:
        warn: list[Candidate] = []
        crit: list[Candidate] = []
        fc: list[Candidate] = []
        c = self.cfg
        for p, cap in self.capacities.items():
            rd = r.get(("platform", p))
            if rd is None:
                continue
            hist = self._history[p]
            hist.append((rd.t, rd.value))
            u = utilisation(rd.value, cap)
            labels = {"scope": "platform", "platform": p}
            ann = capacity_annotations(self._name(("platform", p)), rd.value, cap)
            if u >= c.capacity_critical:
                crit.append(Candidate(labels, ann, u))
            elif u >= c.capacity_warning:
                warn.append(Candidate(labels, ann, u))
            if len(hist) >= 60 and now - self._last_forecast.get(p, -1e18) >= c.forecast_every_s:
                self._last_forecast[p] = now
                ts, vs = zip(*hist, strict=False)
                f = forecast_crossing(ts, vs, cap, c.forecast_horizon_s)
                self._forecasts[p] = None if f.crossing_at is None else f.crossing_at
            crossing = self._forecasts.get(p)
            if crossing is not None and crossing - now <= c.lead_time_s and u < c.capacity_critical:
                mins = max(0.0, (crossing - now) / 60)
                summary = f"{self._name(('platform', p))}: forecast to reach capacity {cap:g}/min in {mins:.0f} min"
                ann = {
                    "summary": summary,
                    "crossing_at": f"{crossing:.0f}",
                    "capacity": f"{cap:g}",
                    "minutes_left": f"{mins:.0f}",
                }
                fc.append(Candidate(labels, ann, mins))
        return warn, crit, fc

    def _observe_metrics(self, res: MinuteResult) -> None:
        m = self.metrics
        if m is None:
            return
        r = res.readings
        m.minutes.inc()
        m.national_rate.set(r[("national",)].value)
        for key, rd in r.items():
            if key[0] == "platform":
                m.platform_rate.labels(key[1]).set(rd.value)
                m.platform_expected.labels(key[1]).set(rd.expected.mean if rd.expected else float("nan"))
                m.anomaly_score.labels("platform", key[1]).set(rd.score)
            elif key[0] == "province":
                m.province_rate.labels(key[1]).set(rd.value)
                if rd.ratio is not None:
                    m.province_ratio.labels(key[1]).set(rd.ratio)
            elif key[0] == "national":
                m.anomaly_score.labels("national", "all").set(rd.score)
        for p, cap in self.capacities.items():
            prd = r.get(("platform", p))
            m.capacity.labels(p).set(cap)
            if prd is not None:
                m.utilisation.labels(p).set(utilisation(prd.value, cap))
            crossing = self._forecasts.get(p)
            m.crossing.labels(p).set(float("inf") if crossing is None else max(0.0, crossing - res.minute - MINUTE))
        for ch in res.changes:
            m.transitions.labels(ch.alertname, ch.new_state.value).inc()
        counts: dict[tuple[str, str, State], int] = defaultdict(int)
        for a in self.book.alerts.values():
            counts[(a.name, a.severity.value, a.state)] += 1
        for name, sev, st in list(self._seen_alert_keys):
            counts.setdefault((name, sev, st), 0)
        self._seen_alert_keys.update(counts)
        m.set_alert_counts(counts)

    # ---------------------------------------------------------------- people
    def acknowledge(self, fingerprint: str, author: str, now: float, comment: str = "") -> StateChange:
        ch = self.book.acknowledge(fingerprint, author, now, comment)
        if self.on_change is not None:
            self.on_change(ch)
        return ch

    def silence(
        self, matchers: Mapping[str, str], starts_at: float, ends_at: float, author: str, comment: str = ""
    ) -> Silence:
        return self.book.silence(matchers, starts_at, ends_at, author, comment)


def capacity_annotations(name: str, per_minute: float, capacity: float) -> dict[str, str]:
    """A capacity alert's annotations: the numbers apart, so the cockpit words them in its language."""
    u = utilisation(per_minute, capacity)
    return {
        "summary": f"{name}: {u:.0%} of capacity ({per_minute:g}/{capacity:g} per minute)",
        "utilisation": f"{u:.3f}",
        "per_minute": f"{per_minute:g}",
        "capacity": f"{capacity:g}",
    }


def forecast_annotations(summary: str, crossing_at: float, capacity: float, minutes_left: float) -> dict[str, str]:
    return {
        "summary": summary,
        "crossing_at": f"{crossing_at:.0f}",
        "capacity": f"{capacity:g}",
        "minutes_left": f"{minutes_left:.0f}",
    }
