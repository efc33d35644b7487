"""The traffic model: expected clicks per minute for every province x platform, from a scenario.

    clicks(minute, p, f) = daily_clicks x share(p) x mix(f) x weekly(day) x diurnal(minute)
                           x product of the scenario's event factors at that minute

`share(p)` is the province's share of primary and secondary students (data/provinces.yaml, cited
there) times the scenario's usage factor, with a fixed share of users abroad. Everything is a pure
function of the scenario, vectorised over minutes, so calibration is arithmetic, not sampling.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path

import numpy as np
import yaml

from contracts.beijing import BEIJING
from contracts.geo import ABROAD, DEVICES, PLATFORMS, PROVINCES, SECTIONS
from simulators.catalogue import catalogue
from simulators.scenario import Scenario

DATA_DIR = Path(__file__).resolve().parent / "data"
PROVINCE_CODES: tuple[str, ...] = tuple(p.code for p in PROVINCES) + (ABROAD,)
PLATFORM_NAMES: tuple[str, ...] = tuple(PLATFORMS)
SECTION_NAMES: tuple[str, ...] = tuple(SECTIONS)
ABROAD_INDEX = len(PROVINCE_CODES) - 1
UTC_OFFSET_MS = 8 * 3_600_000  # curves and calendar days are Beijing time
MINUTE_MS = 60_000
DAY_MINUTES = 1440

# Action mix per section (view, play, download, search), order as contracts.geo.ACTIONS.
_ACTIONS_BY_SECTION = {
    "lessons": (0.30, 0.58, 0.07, 0.05),
    "jobs": (0.80, 0.00, 0.05, 0.15),
    "mooc": (0.35, 0.55, 0.05, 0.05),
    "vocational_courses": (0.35, 0.52, 0.08, 0.05),
}
_ACTIONS_DEFAULT = (0.72, 0.15, 0.06, 0.07)


@lru_cache(maxsize=1)
def _data() -> tuple[dict, dict, list[str]]:
    provinces = yaml.safe_load((DATA_DIR / "provinces.yaml").read_text(encoding="utf-8"))
    curves = yaml.safe_load((DATA_DIR / "curves.yaml").read_text(encoding="utf-8"))
    countries = yaml.safe_load((DATA_DIR / "countries.yaml").read_text(encoding="utf-8"))["countries"]
    return provinces, curves, countries


def _minute_curve(hourly: list[float]) -> np.ndarray:
    """Per-minute weights (mean 1) interpolated between hour midpoints, wrapping at midnight."""
    h = np.asarray(hourly, dtype=np.float64)
    h = h / h.mean()
    x = np.arange(DAY_MINUTES) / 60.0 - 0.5
    xp = np.arange(-1, 25)
    fp = np.concatenate([[h[-1]], h, [h[0]]])
    curve = np.interp(x, xp, fp)
    return curve / curve.mean()


def _zipf_cdf(n: int, s: float) -> np.ndarray:
    w = np.arange(1, n + 1, dtype=np.float64) ** -s
    c = np.cumsum(w)
    return c / c[-1]


@dataclass
class TrafficModel:
    """Everything the generator samples from, derived once from a scenario."""

    scenario: Scenario

    # ------------------------------------------------------------------ geography and mix
    @cached_property
    def province_share(self) -> np.ndarray:
        """Share of clicks per province code (PROVINCE_CODES order, abroad last), sums to 1."""
        provinces, _, _ = _data()
        students = provinces["students"]
        usage = {
            **{str(k): float(v) for k, v in (provinces.get("usage") or {}).items()},
            **self.scenario.province_usage,
        }
        w = np.array([float(students[c]) * usage.get(c, 1.0) for c in PROVINCE_CODES[:-1]])
        w = w / w.sum() * (1.0 - self.scenario.abroad_share)
        return np.append(w, self.scenario.abroad_share)

    @cached_property
    def platform_mix(self) -> np.ndarray:
        m = np.array([self.scenario.platforms.get(p, 0.0) for p in PLATFORM_NAMES])
        return m / m.sum()

    @cached_property
    def device_cdf(self) -> np.ndarray:
        d = np.array([self.scenario.devices.get(x, 0.0) for x in DEVICES])
        return np.cumsum(d / d.sum())

    @cached_property
    def countries(self) -> list[str]:
        return list(_data()[2])

    @cached_property
    def country_cdf(self) -> np.ndarray:
        return _zipf_cdf(len(self.countries), self.scenario.model.country_zipf_exponent)

    # ------------------------------------------------------------------ time shape
    @cached_property
    def curves(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(school-day curve, weekend curve, weekly factors Mon..Sun)."""
        _, c, _ = _data()
        return _minute_curve(c["school_day"]), _minute_curve(c["weekend"]), np.asarray(c["weekly"], float)

    def clicks_per_minute(self, minute_ms: np.ndarray) -> np.ndarray:
        """Expected real (unscaled) clicks in each minute, shape [T, provinces, platforms]."""
        sc = self.scenario
        t = np.asarray(minute_ms, dtype=np.int64)
        local = t + UTC_OFFSET_MS
        day = local // 86_400_000
        minute_of_day = (local // MINUTE_MS) % DAY_MINUTES
        dow = (day + 3) % 7  # 1970-01-01 was a Thursday (index 3, Monday = 0)
        school, weekend, weekly = self.curves
        is_weekend = dow >= 5
        P, F = len(PROVINCE_CODES), len(PLATFORM_NAMES)
        # holidays switch the day's shape to the weekend curve, make-up workdays a weekend day's to
        # the school day's curve at a Monday's level, per province
        holiday = np.zeros((len(t), P), dtype=bool)
        workday = np.zeros((len(t), P), dtype=bool)
        mult = np.ones((len(t), P, F))
        for ev in sc.events:
            pi = self._province_index(ev.provinces)
            fi = self._platform_index(ev.platforms)
            m = ev.multiplier(t)
            mult[np.ix_(np.arange(len(t)), pi, fi)] *= m[:, None, None]
            if ev.type in ("holiday", "workday"):
                (holiday if ev.type == "holiday" else workday)[np.ix_(np.arange(len(t)), pi)] |= ev.active(t)[:, None]
        made_up = workday & is_weekend[:, None] & ~holiday
        rest = (is_weekend[:, None] | holiday) & ~made_up
        shape = np.where(rest, weekend[minute_of_day][:, None], school[minute_of_day][:, None])
        if made_up.any():  # most blocks have none: no pass over the whole [T, P, F] array for them
            mult *= np.where(made_up, weekly[0] / weekly[dow][:, None], 1.0)[:, :, None]
        base = sc.daily_clicks / DAY_MINUTES * weekly[dow]
        return (
            base[:, None, None]
            * shape[:, :, None]
            * self.province_share[None, :, None]
            * self.platform_mix[None, None, :]
            * mult
        )

    @staticmethod
    def _province_index(codes: frozenset[str] | None) -> np.ndarray:
        if codes is None:
            return np.arange(len(PROVINCE_CODES))
        return np.array(sorted(PROVINCE_CODES.index(c) for c in codes))

    @staticmethod
    def _platform_index(names: frozenset[str] | None) -> np.ndarray:
        if names is None:
            return np.arange(len(PLATFORM_NAMES))
        return np.array(sorted(PLATFORM_NAMES.index(n) for n in names))

    def daily_clicks(self) -> dict[str, np.ndarray]:
        """Expected real clicks per local day over the scenario, [days, provinces] (for calibration)."""
        sc = self.scenario
        minutes = np.arange(sc.start_ms, sc.end_ms, MINUTE_MS)
        out: dict[str, np.ndarray] = {}
        import datetime as dt

        tz = BEIJING
        for i in range(0, len(minutes), DAY_MINUTES):
            block = minutes[i : i + DAY_MINUTES]
            day = dt.datetime.fromtimestamp(block[0] / 1000, tz).date().isoformat()
            per = self.clicks_per_minute(block).sum(axis=(0, 2))
            out[day] = out.get(day, 0) + per
        return out

    # ------------------------------------------------------------------ content
    @cached_property
    def sections(self) -> list[tuple[int, str, float, np.ndarray, list[str]]]:
        """Per (platform, section): platform index, section, share within platform, Zipf CDF, ids."""
        cat = catalogue()
        out = []
        k12_mix = self.scenario.model.k12_sections
        total_k12 = sum(k12_mix.values())
        for (plat, section), sc in cat.items():
            f = PLATFORM_NAMES.index(plat)
            share = k12_mix.get(section, 0.0) / total_k12 if plat == "k12" else 1.0
            if share <= 0:
                continue
            cdf = _zipf_cdf(len(sc.resources), self.scenario.model.zipf_exponent)
            out.append((f, section, share, cdf, [r.id for r in sc.resources]))
        return out

    @cached_property
    def action_cdf(self) -> np.ndarray:
        """[sections, actions] cumulative action probabilities (SECTION_NAMES order)."""
        rows = [np.cumsum(_ACTIONS_BY_SECTION.get(s, _ACTIONS_DEFAULT)) for s in SECTION_NAMES]
        return np.array(rows)

    @cached_property
    def session_events_per_click(self) -> float:
        """Expected session events (start, heartbeats, end) per click; converts event rates to clicks."""
        m = self.scenario.model
        gap = (1 - m.long_gap_share) * m.gap_short_s + m.long_gap_share * m.gap_long_s
        duration = m.first_click_s + m.clicks_per_session * gap  # (K-1) gaps + the final dwell
        heartbeats = max(duration / m.heartbeat_s - 0.5, 0.0)
        return (2.0 + heartbeats) / m.clicks_per_session
