"""Scenarios as data files: a date range, a scale, a baseline level and dated events.

A scenario is validated when it is loaded, and every error names the file and line, because the
people who write them are load testers and duty officers editing YAML, not Python.

Event types and what they multiply (per province x platform, over event time):
- closure / surge: ramps from 1 to `factor` over `ramp_hours` from `start`, holds until `end`
  (if given), then returns to 1 over `ramp_down_hours`;
- holiday: `factor` (default 0.7) between `start` and `end`, with the weekend shape of the day;
- workday: a make-up school day on a weekend (as Chinese holidays bring): between `start` and
  `end` the day has a school day's shape and a Monday's level, times `factor` (default 1);
- launch: the platform is absent before `start`, then ramps to `factor` (default 1) over `ramp_hours`;
- outage: zero traffic between `start` and `end`.
Two events of the same type that overlap in time and target contradict each other (which factor
holds?) and are refused, naming both lines.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from contracts.beijing import BEIJING, BEIJING_OFFSET_S
from contracts.calendar import NATIONWIDE, SchoolCalendar
from contracts.geo import ABROAD, DEVICES, PLATFORMS, PROVINCE_BY_CODE, SECTIONS

SCENARIO_DIR = Path(__file__).resolve().parent / "scenarios"
EVENT_TYPES = ("closure", "surge", "holiday", "workday", "launch", "outage")
TZ = BEIJING  # dates without an offset are Beijing time
_HOUR_MS = 3_600_000


class ScenarioError(ValueError):
    """A scenario file is invalid; the message starts with `file:line:`."""


# --------------------------------------------------------------------------- YAML with line numbers
class _LineDict(dict):
    line: int
    key_lines: dict[str, int]


class _LineList(list):
    line: int
    item_lines: list[int]


class _Loader(yaml.SafeLoader):
    """SafeLoader that remembers the line of every mapping key and list item."""


def _map(loader: _Loader, node: yaml.MappingNode) -> _LineDict:
    out = _LineDict()
    out.line = node.start_mark.line + 1
    out.key_lines = {}
    for k_node, v_node in node.value:
        key = str(loader.construct_object(k_node, deep=True))  # province codes may come unquoted
        if key in out:
            raise ScenarioError(f"{{file}}:{k_node.start_mark.line + 1}: duplicate key {key!r}")
        out[key] = loader.construct_object(v_node, deep=True)
        out.key_lines[str(key)] = k_node.start_mark.line + 1
    return out


def _seq(loader: _Loader, node: yaml.SequenceNode) -> _LineList:
    out = _LineList(loader.construct_object(n, deep=True) for n in node.value)
    out.line = node.start_mark.line + 1
    out.item_lines = [n.start_mark.line + 1 for n in node.value]
    return out


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _map)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _seq)


# --------------------------------------------------------------------------- the model of a file
@dataclass(frozen=True)
class ScenarioEvent:
    """One dated event; `provinces`/`platforms` None means all."""

    type: str
    start_ms: int
    end_ms: int | None
    factor: float
    ramp_hours: float
    ramp_down_hours: float
    provinces: frozenset[str] | None
    platforms: frozenset[str] | None
    line: int
    label: str = ""

    def multiplier(self, t_ms: np.ndarray) -> np.ndarray:
        """The factor this event applies at each event time (1 where it has no effect)."""
        t = t_ms.astype(np.float64)
        start, end = float(self.start_ms), float(self.end_ms) if self.end_ms is not None else np.inf
        if self.type == "outage":
            return np.where((t >= start) & (t < end), 0.0, 1.0)
        if self.type in ("holiday", "workday"):
            return np.where((t >= start) & (t < end), self.factor, 1.0)
        lo = 0.0 if self.type == "launch" else 1.0
        up = np.clip((t - start) / max(self.ramp_hours * _HOUR_MS, 1.0), 0.0, 1.0)
        m = lo + (self.factor - lo) * up
        if self.end_ms is not None and self.type != "launch":
            down = np.clip((t - end) / max(self.ramp_down_hours * _HOUR_MS, 1.0), 0.0, 1.0)
            m = m + (1.0 - m) * down
        return np.where(t < start, lo, m)

    def active(self, t_ms: np.ndarray) -> np.ndarray:
        end = self.end_ms if self.end_ms is not None else np.iinfo(np.int64).max
        return (t_ms >= self.start_ms) & (t_ms < end)


@dataclass(frozen=True)
class ModelParams:
    """Behaviour of users and clients; any of these may be overridden under `model:` in a file."""

    zipf_exponent: float = 1.0
    clicks_per_session: float = 10.0
    first_click_s: float = 3.0
    gap_short_s: float = 25.0
    gap_long_s: float = 480.0
    long_gap_share: float = 0.15
    heartbeat_s: float = 300.0
    client_flush_s: dict[str, float] = field(
        default_factory=lambda: {"web": 10.0, "app": 30.0, "tv": 30.0, "other": 10.0}
    )
    max_batch: int = 50
    user_pool: int = 2_000_000
    country_zipf_exponent: float = 1.1
    k12_sections: dict[str, float] = field(
        default_factory=lambda: {
            "lessons": 0.60,
            "topic": 0.12,
            "afterschool": 0.10,
            "teacher": 0.09,
            "family": 0.06,
            "reform": 0.03,
        }
    )


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    start_ms: int
    end_ms: int
    scale: float
    daily_clicks: float
    platforms: dict[str, float]
    devices: dict[str, float]
    abroad_share: float
    province_usage: dict[str, float]
    events: tuple[ScenarioEvent, ...]
    model: ModelParams
    path: Path | None = None

    @property
    def days(self) -> float:
        return (self.end_ms - self.start_ms) / 86_400_000

    def calendar(self) -> SchoolCalendar:
        """The rest days its holidays announce and the school days its make-up days do: each local
        day whose noon the event covers, for the provinces it names (all when it names none).
        Holidays are announced before they come, so the alerting side may know them as a duty
        officer's calendar does (`alerts.replay`)."""
        day_ms, offset_ms = 86_400_000, BEIJING_OFFSET_S * 1000
        days: dict[str, set[tuple[str, int]]] = {"holiday": set(), "workday": set()}
        for ev in self.events:
            if ev.type not in days or ev.end_ms is None:
                continue
            for day in range((ev.start_ms + offset_ms) // day_ms, (ev.end_ms + offset_ms) // day_ms + 1):
                noon = day * day_ms + day_ms // 2 - offset_ms
                if ev.start_ms <= noon < ev.end_ms:
                    days[ev.type].update((p, day) for p in (ev.provinces or (NATIONWIDE,)))
        return SchoolCalendar(rest=frozenset(days["holiday"]), school=frozenset(days["workday"]))


# --------------------------------------------------------------------------- loading
def with_client_flush(scenario: Scenario, seconds: float) -> Scenario:
    """The scenario with every device's SDK flushing every `seconds` (bigger, fewer messages; the
    events and their times are the same, only their grouping into messages and send order change)."""
    if seconds <= 0:
        raise ScenarioError(f"client flush interval must be > 0 s, got {seconds}")
    flush = {d: float(seconds) for d in scenario.model.client_flush_s}
    return dataclasses.replace(scenario, model=dataclasses.replace(scenario.model, client_flush_s=flush))


def scenario_names() -> list[str]:
    """Scenarios shipped with the package (file stems in simulators/scenarios)."""
    return sorted(p.stem for p in SCENARIO_DIR.glob("*.yaml"))


def load_scenario(name_or_path: str | Path) -> Scenario:
    """Load a shipped scenario by name, or any scenario file by path; raises ScenarioError."""
    path = Path(name_or_path)
    if not path.suffix and not path.exists():
        path = SCENARIO_DIR / f"{name_or_path}.yaml"
    if not path.is_file():
        raise ScenarioError(f"{name_or_path}: no such scenario (shipped: {', '.join(scenario_names())})")
    return parse_scenario(path.read_text(encoding="utf-8"), str(path), path)


def parse_scenario(text: str, filename: str = "<scenario>", path: Path | None = None) -> Scenario:
    """Parse and validate scenario text."""
    try:
        doc = yaml.load(text, Loader=_Loader)
    except ScenarioError as err:
        raise ScenarioError(str(err).replace("{file}", filename)) from None
    except yaml.YAMLError as err:
        mark, ctx = getattr(err, "problem_mark", None), getattr(err, "context_mark", None)
        line = mark.line + 1 if mark else 0
        context = getattr(err, "context", None)
        where = f" ({context} at line {ctx.line + 1})" if ctx is not None and context else ""
        raise ScenarioError(f"{filename}:{line}: not valid YAML: {getattr(err, 'problem', err)}{where}") from None
    return _Builder(filename, path).build(doc)


class _Builder:
    def __init__(self, filename: str, path: Path | None) -> None:
        self.file = filename
        self.path = path

    def fail(self, line: int, msg: str) -> ScenarioError:
        return ScenarioError(f"{self.file}:{line}: {msg}")

    def _keys(self, d: _LineDict, allowed: set[str], where: str) -> None:
        for k in d:
            if k not in allowed:
                raise self.fail(
                    d.key_lines[str(k)], f"unknown key {k!r} in {where} (allowed: {', '.join(sorted(allowed))})"
                )

    def _num(
        self, d: _LineDict, key: str, default: float | None = None, *, lo: float = 0.0, strict: bool = False
    ) -> float:
        if key not in d:
            if default is None:
                raise self.fail(d.line, f"missing {key!r}")
            return default
        v, line = d[key], d.key_lines[key]
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise self.fail(line, f"{key} must be a number, got {v!r}")
        if v < lo or (strict and v == lo):
            raise self.fail(
                line, f"{key} must be {'>' if strict else '>='} {lo:g}, got {v!r} (negative rates are meaningless)"
            )
        return float(v)

    def _time(self, d: _LineDict, key: str) -> int:
        v, line = d[key], d.key_lines[key]
        if isinstance(v, dt.datetime):
            t = v if v.tzinfo else v.replace(tzinfo=TZ)
        elif isinstance(v, dt.date):
            t = dt.datetime(v.year, v.month, v.day, tzinfo=TZ)
        elif isinstance(v, str):
            try:
                t = dt.datetime.fromisoformat(v)
            except ValueError:
                raise self.fail(line, f"{key}: not an ISO date or time: {v!r}") from None
            t = t if t.tzinfo else t.replace(tzinfo=TZ)
        else:
            raise self.fail(line, f"{key}: expected a date or time, got {v!r}")
        return int(t.timestamp() * 1000)

    def _shares(self, d: _LineDict, key: str, allowed: Any, default: dict[str, float]) -> dict[str, float]:
        if key not in d:
            return dict(default)
        v = d[key]
        if not isinstance(v, dict) or not v:
            raise self.fail(d.key_lines[key], f"{key} must be a non-empty mapping")
        out = {}
        for k, w in v.items():
            line = v.key_lines[str(k)]  # type: ignore[attr-defined]
            if str(k) not in allowed:
                raise self.fail(
                    line, f"unknown {key[:-1] if key.endswith('s') else key} {k!r} (known: {', '.join(allowed)})"
                )
            if isinstance(w, bool) or not isinstance(w, (int, float)) or w < 0:
                raise self.fail(line, f"{key}.{k} must be a number >= 0, got {w!r}")
            out[str(k)] = float(w)
        if sum(out.values()) <= 0:
            raise self.fail(d.key_lines[key], f"{key}: weights sum to zero")
        return out

    def _province(self, code: Any, line: int) -> str:
        code = str(code)
        if code != ABROAD and code not in PROVINCE_BY_CODE:
            raise self.fail(line, f"unknown province {code!r} (expected a GB/T 2260 code such as '210000' or 'abroad')")
        return code

    def build(self, doc: Any) -> Scenario:
        if not isinstance(doc, _LineDict):
            raise self.fail(1, "a scenario is a mapping (name, start, end, baseline, events)")
        self._keys(doc, {"name", "description", "start", "end", "scale", "baseline", "model", "events"}, "scenario")
        for key in ("name", "start", "end", "baseline"):
            if key not in doc:
                raise self.fail(doc.line, f"missing {key!r}")
        start, end = self._time(doc, "start"), self._time(doc, "end")
        if end <= start:
            raise self.fail(doc.key_lines["end"], "end must be after start")
        base = doc["baseline"]
        if not isinstance(base, _LineDict):
            raise self.fail(doc.key_lines["baseline"], "baseline must be a mapping")
        self._keys(base, {"daily_clicks", "platforms", "devices", "abroad_share", "province_usage"}, "baseline")
        usage: dict[str, float] = {}
        if "province_usage" in base:
            pu = base["province_usage"]
            if not isinstance(pu, _LineDict):
                raise self.fail(base.key_lines["province_usage"], "province_usage must be a mapping")
            for k in pu:
                line = pu.key_lines[str(k)]
                usage[self._province(k, line)] = self._num(pu, str(k))
        abroad = self._num(base, "abroad_share", 0.004)
        if abroad >= 1:
            raise self.fail(base.key_lines["abroad_share"], "abroad_share must be below 1")
        scenario = Scenario(
            name=str(doc["name"]),
            description=str(doc.get("description", "")).strip(),
            start_ms=start,
            end_ms=end,
            scale=self._num(doc, "scale", 0.001, strict=True),
            daily_clicks=self._num(base, "daily_clicks"),
            platforms=self._shares(
                base,
                "platforms",
                tuple(PLATFORMS),
                {"k12": 0.8, "vocational": 0.08, "higher": 0.08, "employment": 0.04},
            ),
            devices=self._shares(base, "devices", DEVICES, {"web": 0.48, "app": 0.44, "tv": 0.05, "other": 0.03}),
            abroad_share=abroad,
            province_usage=usage,
            events=self._events(doc),
            model=self._model(doc),
            path=self.path,
        )
        return scenario

    def _model(self, doc: _LineDict) -> ModelParams:
        if "model" not in doc:
            return ModelParams()
        m = doc["model"]
        if not isinstance(m, _LineDict):
            raise self.fail(doc.key_lines["model"], "model must be a mapping")
        defaults = ModelParams()
        fields = set(defaults.__dataclass_fields__)
        self._keys(m, fields, "model")
        kw: dict[str, Any] = {}
        for k in m:
            if k == "client_flush_s":
                kw[k] = self._shares(m, k, DEVICES, defaults.client_flush_s) | {}
                kw[k] = {**defaults.client_flush_s, **kw[k]}
            elif k == "k12_sections":
                kw[k] = self._shares(m, k, tuple(s for s in SECTIONS), defaults.k12_sections)
            else:
                v = self._num(m, k, strict=True)
                kw[k] = int(v) if k in ("max_batch", "user_pool") else v
        if kw.get("clicks_per_session", 2.0) < 1:
            raise self.fail(m.key_lines["clicks_per_session"], "clicks_per_session must be >= 1")
        if kw.get("long_gap_share", 0.0) > 1:
            raise self.fail(m.key_lines["long_gap_share"], "long_gap_share must be <= 1")
        return ModelParams(**{**defaults.__dict__, **kw})

    def _events(self, doc: _LineDict) -> tuple[ScenarioEvent, ...]:
        raw = doc.get("events") or _LineList()
        if not isinstance(raw, list):
            raise self.fail(doc.key_lines["events"], "events must be a list")
        events = [self._event(e, raw.item_lines[i]) for i, e in enumerate(raw)]  # type: ignore[attr-defined]
        for i, a in enumerate(events):
            for b in events[:i]:
                if self._contradict(a, b):
                    raise self.fail(
                        a.line,
                        f"{a.type} event overlaps the {b.type} event at line {b.line} "
                        "for the same provinces and platforms; merge them or split the dates",
                    )
        return tuple(events)

    @staticmethod
    def _contradict(a: ScenarioEvent, b: ScenarioEvent) -> bool:
        if a.type != b.type:
            return False
        inter = lambda x, y: x is None or y is None or bool(x & y)
        if not (inter(a.provinces, b.provinces) and inter(a.platforms, b.platforms)):
            return False
        if a.type == "launch":
            return True
        a_end = a.end_ms if a.end_ms is not None else 2**62
        b_end = b.end_ms if b.end_ms is not None else 2**62
        return a.start_ms < b_end and b.start_ms < a_end

    def _event(self, e: Any, line: int) -> ScenarioEvent:
        if not isinstance(e, _LineDict):
            raise self.fail(line, "an event is a mapping with at least type and start")
        self._keys(
            e,
            {
                "type",
                "label",
                "start",
                "end",
                "factor",
                "ramp_hours",
                "ramp_down_hours",
                "provinces",
                "province",
                "platforms",
                "platform",
            },
            "event",
        )
        kind = e.get("type")
        if kind not in EVENT_TYPES:
            raise self.fail(
                e.key_lines.get("type", e.line), f"unknown event type {kind!r} (known: {', '.join(EVENT_TYPES)})"
            )
        if "start" not in e:
            raise self.fail(e.line, f"{kind} event needs a start")
        start = self._time(e, "start")
        end = self._time(e, "end") if "end" in e else None
        if end is not None and end <= start:
            raise self.fail(e.key_lines["end"], "event end must be after its start")
        if kind in ("outage", "holiday", "workday") and end is None:
            raise self.fail(e.line, f"{kind} event needs an end")
        provinces = self._targets(e, "provinces", "province", lambda c, ln: self._province(c, ln))
        platforms = self._targets(e, "platforms", "platform", self._platform)
        if kind == "launch" and (platforms is None or provinces is not None):
            raise self.fail(e.line, "launch event needs a platform and applies to all provinces")
        default_factor = {"holiday": 0.7, "workday": 1.0, "launch": 1.0, "outage": 0.0}.get(kind)
        factor = self._num(e, "factor", default_factor)
        return ScenarioEvent(
            kind,
            start,
            end,
            factor,
            self._num(e, "ramp_hours", 0.0),
            self._num(e, "ramp_down_hours", 0.0),
            provinces,
            platforms,
            line,
            str(e.get("label", "")),
        )

    def _platform(self, p: Any, line: int) -> str:
        if p not in PLATFORMS:
            raise self.fail(line, f"unknown platform {p!r} (known: {', '.join(PLATFORMS)})")
        return str(p)

    def _targets(self, e: _LineDict, plural: str, single: str, check: Any) -> frozenset[str] | None:
        if plural in e and single in e:
            raise self.fail(e.key_lines[single], f"give either {plural} or {single}, not both")
        if single in e:
            return frozenset([check(e[single], e.key_lines[single])])
        if plural not in e:
            return None
        v = e[plural]
        if v == "all":
            return None
        if not isinstance(v, _LineList) or not v:
            raise self.fail(e.key_lines[plural], f"{plural} must be a non-empty list or 'all'")
        return frozenset(check(x, v.item_lines[i]) for i, x in enumerate(v))
