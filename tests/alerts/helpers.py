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
