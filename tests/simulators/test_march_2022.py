"""march-2022 at 1:1000, generated to a file, reproduces the seed article's figures within 5%.

The seed's "above X" figures (peak provinces) are read as lower bounds: the scaled-up count must be
at least 0.95 X and, to stay calibrated rather than merely large, at most 1.15 X.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from simulators.files import NdjsonWriter, read_messages
from simulators.generator import generate_batches
from simulators.truth import GroundTruth

SCALE = 1000


@pytest.fixture(scope="module")
def march(tmp_path_factory: pytest.TempPathFactory) -> tuple[GroundTruth, Path]:
    path = tmp_path_factory.mktemp("march") / "march-2022.ndjson.gz"
    gt = GroundTruth()
    with NdjsonWriter(path) as out:
        for batch in generate_batches("march-2022", seed=20220314, scale=1 / SCALE):
            out.write(batch)
            gt.add_batch(batch)
    return gt, path


def _days(gt: GroundTruth) -> tuple[list[str], np.ndarray, dict[str, np.ndarray]]:
    by_day = gt.clicks_by_day()
    days = sorted(by_day)
    totals = np.array([sum(by_day[d].values()) for d in days], dtype=float) * SCALE
    per_prov = {
        p: np.array([by_day[d].get(p, 0) for d in days], dtype=float) * SCALE
        for p in {p for d in days for p in by_day[d]}
    }
    return days, totals, per_prov


def test_file_holds_what_truth_counted(march: tuple[GroundTruth, Path]) -> None:
    gt, path = march
    assert sum(m.events for m in read_messages(path)) == gt.total_events


def test_national_figures(march: tuple[GroundTruth, Path]) -> None:
    days, totals, _ = _days(march[0])
    assert days[0] == "2022-03-01" and days[-1] == "2022-03-25" and len(days) == 25
    checks = {
        "total 720 M": (totals.sum(), 720e6),
        "daily average 28.88 M": (totals.mean(), 28.88e6),
        "first two weeks 12.91 M/day": (totals[:13].mean(), 12.91e6),
        "last two weeks 46.19 M/day": (totals[13:].mean(), 46.19e6),
        "peak day 64.33 M": (totals.max(), 64.33e6),
    }
    for name, (got, want) in checks.items():
        assert abs(got / want - 1) < 0.05, f"{name}: got {got / 1e6:.2f} M"


def test_province_figures(march: tuple[GroundTruth, Path]) -> None:
    _, _, prov = _days(march[0])
    for code, name, floor in [
        ("450000", "Guangxi", 50e6),
        ("610000", "Shaanxi", 21e6),
        ("620000", "Gansu", 21e6),
        ("150000", "Inner Mongolia", 10e6),
        ("530000", "Yunnan", 10e6),
    ]:
        got = prov[code].sum()
        assert 0.95 * floor <= got <= 1.15 * floor, f"{name}: {got / 1e6:.1f} M vs above {floor / 1e6:.0f} M"
    for code, name in [("210000", "Liaoning"), ("220000", "Jilin"), ("350000", "Fujian"), ("370000", "Shandong")]:
        ratio = prov[code][13:].mean() / prov[code][:13].mean()
        assert ratio >= 6.5 * 0.95, f"{name}: closure rise {ratio:.2f}x, seed says above 6.5x"
    assert "abroad" in prov and len(prov) >= 33  # every province (Macau: a few dozen clicks), users abroad
