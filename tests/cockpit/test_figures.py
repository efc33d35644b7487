"""Figure functions are pure: plain rows in, a Plotly figure out."""

from __future__ import annotations

from datetime import datetime

import plotly.graph_objects as go
import pytest

from cockpit import figures
from cockpit.series import fill_gaps
from contracts.geo import PLATFORMS

T0 = 1647223200  # 2022-03-14 10:00 Beijing


def test_fill_gaps_counts_missing_interior_minutes_as_zero_but_invents_nothing_before() -> None:
    series = [(T0 + 120, 5), (T0, 3), (T0 + 300, 1)]
    assert fill_gaps(series) == [
        (T0, 3),
        (T0 + 60, 0),
        (T0 + 120, 5),
        (T0 + 180, 0),
        (T0 + 240, 0),
        (T0 + 300, 1),
    ]
    assert fill_gaps([]) == []


def test_national_line_plots_the_stored_counts_in_beijing_time() -> None:
    fig = figures.national_line([(T0, 10), (T0 + 120, 30)], "zh", start=T0 - 600, now=T0 + 120)
    line, latest = fig.data
    assert list(line.y) == [10, 0, 30]
    assert list(line.x) == [datetime(2022, 3, 14, 10, 0), datetime(2022, 3, 14, 10, 1), datetime(2022, 3, 14, 10, 2)]
    assert list(latest.y) == [30] and latest.x[0] == datetime(2022, 3, 14, 10, 2)
    lo, hi = fig.layout.xaxis.range
    assert lo == datetime(2022, 3, 14, 9, 50) and hi > datetime(2022, 3, 14, 10, 2)
    assert "访问量" in line.hovertemplate


def test_empty_inputs_give_a_message_panel_not_axes() -> None:
    for fig in (
        figures.national_line([], "en", T0, T0),
        figures.platform_bars({}, "en"),
        figures.province_bars({}, "en"),
        figures.section_bars({"lessons": 0}, "en"),
    ):
        assert fig.data == ()
        assert fig.layout.annotations[0].text == "No data in this period"
        assert fig.layout.xaxis.visible is False


def test_platform_bars_show_all_four_platforms_even_when_one_is_zero() -> None:
    fig = figures.platform_bars({"k12": 60, "higher": 40}, "en")
    (bar,) = fig.data
    assert list(bar.y) == ["Employment", "Higher education", "Vocational", "K-12"]
    assert list(bar.x) == [0, 40, 0, 60]
    assert list(bar.text) == ["0", "40", "0", "60"]
    ticks = dict(zip(fig.layout.yaxis.tickvals, fig.layout.yaxis.ticktext, strict=True))
    assert "60%" in ticks["K-12"] and "0%" in ticks["Employment"]
    assert len(bar.y) == len(PLATFORMS)


def test_province_bars_rank_the_top_provinces_largest_first_in_the_chosen_language() -> None:
    totals = {"450000": 50, "370000": 70, "abroad": 10, "110000": 50, "650000": 0}
    fig = figures.province_bars(totals, "zh", top=3)
    (bar,) = fig.data
    # drawn bottom-up, so the largest is last; ties are broken by code (北京 110000 before 广西)
    assert list(bar.y) == ["广西", "北京", "山东"]
    assert list(bar.x) == [50, 50, 70]
    assert list(bar.text) == ["50", "50", "70"]
    assert list(fig.layout.yaxis.tickvals) == ["广西", "北京", "山东"]  # every bar labelled
    fig_en = figures.province_bars(totals, "en", top=10)
    assert list(fig_en.data[0].y) == ["Abroad", "Guangxi", "Beijing", "Shandong"]  # zero omitted


def test_section_bars_name_sections_from_the_contract() -> None:
    fig = figures.section_bars({"lessons": 1_234_567, "afterschool": 3}, "zh")
    assert list(fig.data[0].y) == ["课后服务", "课程教学"]
    assert list(fig.data[0].text) == ["3", "1,234,567"]


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_figure_serialises_for_the_browser(lang: str) -> None:
    built = [
        figures.national_line([(T0, 1)], lang, T0, T0),
        figures.platform_bars({"k12": 1}, lang),
        figures.province_bars({"abroad": 1}, lang),
        figures.section_bars({"mooc": 1}, lang),
        figures.message_figure("x"),
    ]
    for fig in built:
        assert isinstance(fig, go.Figure)
        assert fig.to_json()
        assert fig.layout.paper_bgcolor == "rgba(0,0,0,0)"
