"""The national line's seasonal baseline band: the pure band function on hand-computed values, the
figure's traces and notes, and the overview's band against direct queries of a store holding five
weeks of the fixture hour."""

from __future__ import annotations

import statistics

import pytest

from cockpit import figures, seasonal
from cockpit.filters import Filters
from cockpit.layout import Ids
from cockpit.pages.overview import load_overview, render_overview
from cockpit.queries import Queries
from cockpit.seasonal import BASELINE_WEEKS
from cockpit.timeframe import HOUR, MINUTE, to_beijing
from sinks.store import ChdbStore
from tests.cockpit import data as fx

T0 = 1647223200  # 2022-03-14 10:00 Beijing


def by_meta(fig, meta: str):  # type: ignore[no-untyped-def]
    return [tr for tr in fig.data if tr.meta == meta]


def test_band_is_the_median_and_range_of_the_weeks_with_data_for_each_bucket() -> None:
    weeks = [
        [(T0, 10), (T0 + 60, 20), (T0 + 120, 30)],
        [(T0 + 60, 40), (T0 + 180, 50)],  # 10:02 stored nothing between stored minutes: 0 events
        [],  # before the store's history
        [(T0 + 120, 6)],
    ]
    band = seasonal.seasonal_band(weeks)
    # 10:00 and 10:03: one week each, no band; 10:01: [20, 40]; 10:02: [30, 0, 6]
    assert band == [seasonal.BandPoint(T0 + 60, 30.0, 20, 40, 2), seasonal.BandPoint(T0 + 120, 6.0, 0, 30, 3)]
    assert seasonal.seasonal_band([[(T0, 5)], [], [], []]) == []
    assert seasonal.seasonal_band([]) == []


@pytest.mark.parametrize(
    "lang, band_label, expected_label",
    [
        ("zh", "基线范围（最小–最大）", "季节基线（前几周同时段中位数）"),
        ("en", "Baseline range (min–max)", "Seasonal baseline (median of earlier weeks)"),
    ],
)
def test_national_line_draws_the_band_behind_the_line_with_gaps_where_no_baseline(
    lang: str, band_label: str, expected_label: str
) -> None:
    series = [(T0 + i * 60, 100 + i) for i in range(5)]
    weeks = [[(T0 + i * 60, 90) for i in range(5)], [(T0, 110), (T0 + 60, 80)], [(T0 + 180, 70), (T0 + 240, 130)], []]
    fig = figures.national_line(series, lang, start=T0, now=T0 + 240, baseline=weeks)
    (band,) = by_meta(fig, "baseline-band")
    (expected,) = by_meta(fig, "baseline-expected")
    assert fig.data[0] is band and fig.data[1] is expected  # drawn first: behind the line
    assert band.fill == "toself" and band.name == band_label and expected.name == expected_label
    assert expected.line.dash == "dash" and expected_label in expected.hovertemplate
    # 10:00-10:01 two weeks, 10:02 one week (no band), 10:03-10:04 two weeks: two runs
    t = [to_beijing(T0 + i * 60) for i in range(5)]
    assert list(expected.x) == [t[0], t[1], None, t[3], t[4], None]
    assert list(expected.y) == [100, 85, None, 80, 110, None]
    assert list(band.y) == [110, 90, 80, 90, None, 90, 130, 90, 70, None]  # highs, then lows back
    assert fig.layout.showlegend is True
    assert not [tr for tr in fig.data if tr.showlegend is not False and tr.meta is None]  # only the band in the legend
    assert not fig.layout.annotations


def test_national_line_says_when_there_is_no_baseline() -> None:
    series = [(T0, 10), (T0 + 60, 20)]
    fig = figures.national_line(series, "en", T0, T0 + 60, baseline=[[(T0, 5)], [], [], []])
    assert not by_meta(fig, "baseline-band") and len(fig.data) == 2
    assert fig.layout.annotations[0].text.startswith("No seasonal baseline yet")
    fig = figures.national_line(series, "zh", T0, T0 + 60, baseline=None, baseline_note="note")
    assert fig.layout.annotations[0].text == "note" and len(fig.data) == 2
    assert not figures.national_line(series, "zh", T0, T0 + 60).layout.annotations  # the province page


def expected_band(store: ChdbStore, platform: str | None = None) -> dict[int, tuple[float, int, int]]:
    """{minute: (median, min, max)} from direct per-minute queries of each earlier week, counting a
    week for a minute only between its first and last stored minute."""
    start, end = fx.HOUR_FIRST, fx.NOW + MINUTE
    weeks = []
    for k in range(1, BASELINE_WEEKS + 1):
        stored = fx.direct_minutes(store, start - k * fx.WEEK, end - k * fx.WEEK, platform)
        weeks.append(
            {ts + k * fx.WEEK: stored.get(ts, 0) for ts in range(min(stored), max(stored) + MINUTE, MINUTE)}
            if stored
            else {}
        )
    out = {}
    for ts in range(start, end, MINUTE):
        values = [w[ts] for w in weeks if ts in w]
        if len(values) >= 2:
            out[ts] = (statistics.median(values), min(values), max(values))
    return out


@pytest.mark.parametrize("platform", [None, "higher"])
def test_overview_band_equals_direct_queries_of_five_stored_weeks(empty_store: ChdbStore, platform: str | None) -> None:
    fx.load_weeks(empty_store)
    ov = load_overview(Queries(empty_store, ttl_s=0), Filters(platform=platform))
    assert ov is not None and ov.baseline is not None and len(ov.baseline) == BASELINE_WEEKS
    band = seasonal.seasonal_band(ov.baseline)
    want = expected_band(empty_store, platform)
    assert min(want) == fx.WEEKS_FROM[2] and len(want) == 40  # 09:43-10:02: one week only
    assert {p.ts: (p.expected, p.low, p.high) for p in band} == want
    assert {p.ts: p.weeks for p in band} == {ts: 2 if ts < fx.WEEKS_FROM[3] else 3 for ts in want}

    fig = render_overview(ov, "zh")[(Ids.chart("national"), "figure")]
    (expected,) = by_meta(fig, "baseline-expected")
    drawn = {x: y for x, y in zip(expected.x, expected.y, strict=False) if x is not None}
    assert drawn == {to_beijing(ts): m for ts, (m, _, _) in want.items()}


def test_seven_day_line_and_band_come_from_the_hourly_rollup_and_equal_the_minutes(empty_store: ChdbStore) -> None:
    """The 7-day view draws hour buckets from `clicks_hour` (the last, partial hour from the minute
    table) and gets the seasonal band too; both equal direct sums of the stored minutes."""
    fx.load_weeks(empty_store)
    ov = load_overview(Queries(empty_store, ttl_s=0), Filters(range="7d"))
    assert ov is not None and ov.baseline is not None and len(ov.baseline) == BASELINE_WEEKS
    span = ov.span
    assert span.step == HOUR and span.end % HOUR != 0  # the current hour is partial

    def hourly(start: int, end: int, shift: int) -> dict[int, int]:
        out: dict[int, int] = {}
        for ts, n in fx.direct_minutes(empty_store, start, end).items():
            out[ts // HOUR * HOUR + shift] = out.get(ts // HOUR * HOUR + shift, 0) + n
        return out

    assert dict(ov.series) == hourly(span.start, span.end, 0)
    weeks = [
        hourly(span.start - k * fx.WEEK, span.end - k * fx.WEEK, k * fx.WEEK) for k in range(1, BASELINE_WEEKS + 1)
    ]
    want = {}
    for ts in sorted(set().union(*weeks)):
        values = [w[ts] for w in weeks if ts in w]
        if len(values) >= 2:
            want[ts] = (statistics.median(values), min(values), max(values))
    assert want, "the fixture's weeks overlap in some hours"
    band = seasonal.seasonal_band(ov.baseline)
    assert {p.ts: (p.expected, p.low, p.high) for p in band} == want
    fig = render_overview(ov, "en")[(Ids.chart("national"), "figure")]
    assert by_meta(fig, "baseline-band")
