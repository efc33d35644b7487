"""The province weights agree with the published figures recorded in data/provinces.yaml."""

from __future__ import annotations

import yaml

from contracts.geo import PROVINCES
from simulators.model import DATA_DIR

MAINLAND_EXCLUDED = {"710000", "810000", "820000"}  # Taiwan, Hong Kong, Macau: not in MoE totals


def _data() -> dict:  # type: ignore[type-arg]
    return yaml.safe_load((DATA_DIR / "provinces.yaml").read_text(encoding="utf-8"))


def test_every_province_has_a_positive_figure() -> None:
    students = _data()["students"]
    assert set(students) == {p.code for p in PROVINCES}
    assert all(v > 0 for v in students.values())


def test_mainland_sum_matches_the_confirmed_national_total() -> None:
    d = _data()
    mainland = sum(v for k, v in d["students"].items() if k not in MAINLAND_EXCLUDED)
    national = d["confirmed"]["national_2020"]
    assert national["total"] == round(national["primary"] + national["junior"] + national["regular_senior"], 2)
    assert mainland == national["file_mainland_sum"]
    assert abs(mainland - national["total"]) / national["total"] < 0.01


def test_confirmed_parts_fit_inside_the_estimates() -> None:
    """Where primary + junior are confirmed, the estimate leaves a plausible senior share (regular
    senior secondary is about 14 % of primary + secondary nationally)."""
    d = _data()
    for code, c in d["confirmed"].items():
        if not code.isdigit():
            continue
        value = d["students"][code]
        if "primary_junior_2020" in c:
            senior = value - c["primary_junior_2020"]
            assert 0.08 < senior / value < 0.20, (code, value, c)
        else:  # a 2021/22 primary figure only: primary is 55-75 % of primary + secondary
            assert 0.55 < c["primary_2021"] / value < 0.75, (code, value, c)
