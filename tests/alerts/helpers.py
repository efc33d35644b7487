"""Synthetic traffic for the alert tests: pure, seeded, no simulator run and no services.

The daily shapes are the simulators' own (simulators/data/curves.yaml: lesson hours, lunch dip,
evening peak, night trough), interpolated per minute and Poisson-sampled with a fixed seed, so the
detectors are tested against the curve the cockpit will really see.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import yaml

CURVES = Path(__file__).resolve().parents[2] / "simulators" / "data" / "curves.yaml"
MONDAY = 1_667_750_400  # Monday 7 November 2022 00:00 Beijing time (the simulators' school week)
DAY = 86_400


def _curve(name: str) -> np.ndarray:
    hourly = np.asarray(yaml.safe_load(CURVES.read_text(encoding="utf-8"))[name], dtype=float)
    x = np.arange(1440) / 60.0 - 0.5
    xp = np.arange(-1, 25)
    fp = np.concatenate([[hourly[-1]], hourly, [hourly[0]]])
    c = np.interp(x, xp, fp)
    return c / c.mean()


def school_day_curve() -> np.ndarray:
    return _curve("school_day")


def weekend_curve() -> np.ndarray:
    return _curve("weekend")


def minutes(days: int, start: int = MONDAY) -> np.ndarray:
    return start + 60 * np.arange(days * 1440)


def school_days(days: int, per_day: float) -> np.ndarray:
    """Expected clicks per minute over `days` school days (tests start on a Monday, stay on weekdays)."""
    return np.tile(school_day_curve(), days) * per_day / 1440.0


def poisson(lam: np.ndarray, seed: int = 7) -> np.ndarray:
    return np.random.default_rng(seed).poisson(lam).astype(float)


def sessions(
    lam: np.ndarray,
    seed: int = 7,
    clicks_per_session: float = 10.0,
    gap_short_s: float = 25.0,
    gap_long_s: float = 480.0,
    long_gap_share: float = 0.15,
) -> np.ndarray:
    """Clicks per minute when clicks come in sessions, as the simulators draw them: sessions start as
    a Poisson process at lam / clicks_per_session a minute, each with a geometric number of clicks
    separated by short (browsing) or long (watching) gaps. Same mean as `poisson(lam)`, far burstier."""
    rng = np.random.default_rng(seed)
    n = len(lam)
    starts = rng.poisson(lam / clicks_per_session)
    s_min = np.repeat(np.arange(n), starts)
    k = rng.geometric(1.0 / clicks_per_session, len(s_min))
    sid = np.repeat(np.arange(len(s_min)), k)
    gap = rng.exponential(1.0, len(sid)) * np.where(rng.random(len(sid)) < long_gap_share, gap_long_s, gap_short_s)
    firsts = np.concatenate([[0], np.cumsum(k)[:-1]]).astype(int)
    gap[firsts] = rng.random(len(s_min)) * 60.0  # the first click within its start minute
    offset = np.cumsum(gap)
    offset -= np.repeat(offset[firsts] - gap[firsts], k)  # seconds since the session's start minute
    minute = s_min[sid] + (offset // 60).astype(int)
    return np.bincount(minute[minute < n], minlength=n).astype(float)
