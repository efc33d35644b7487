"""The surge ratio against the seasonal baseline (map measure), the surge board's sparklines and the
province page's alerts: pure functions first, then against the store with known history."""

from __future__ import annotations

import statistics

import pytest

from cockpit import panels
from cockpit.alert_log import AlertNow
from cockpit.figures_map import NO_BASELINE, SURGE_SCALE, china_map, map_patch, patched_values
from cockpit.mapdata import province_codes
from cockpit.pages.overview import SPARK_MINUTES, load_map_values, load_overview, load_sparklines
from cockpit.queries import Queries
from cockpit.seasonal import surge_ratios
from cockpit.surge import SURGE_WINDOW, load_surge, surge_window
from cockpit.timeframe import MINUTE
from sinks.store import ChdbStore
from tests.cockpit import data as fx


def test_surge_ratio_is_current_over_the_median_of_earlier_weeks_with_traffic() -> None:
    history = [{"a": 100, "b": 50}, {"a": 120}, {}, {"a": 80, "b": 60}]  # the empty week stored nothing
    got = surge_ratios({"a": 250, "b": 0, "c": 9}, history)
    assert got == {"a": 2.5, "b": 0.0}  # b's median over three weeks is 50; c has no baseline
    assert surge_ratios({"a": 250}, [{"a": 100}, {}, {}]) == {}  # one week is not a baseline
    assert surge_ratios({"a": 5}, [{"a": 0, "x": 3}, {"x": 4}]) == {"x": 0.0}  # a baseline of 0 divides nothing


def test_surge_window_is_the_quarter_hour_ending_with_the_rate_minute() -> None:
    assert surge_window(fx.NOW - MINUTE) == (fx.NOW - SURGE_WINDOW, fx.NOW)


def test_surge_map_colours_ratios_and_greys_divisions_without_a_baseline() -> None:
    fig = china_map({"450000": 2.5, "370000": 0.5}, "en", "surge")
    z = dict(zip(province_codes(), fig.data[0].z, strict=True))
    assert z["450000"] == 2.5 and z["370000"] == 0.5 and z["110000"] == NO_BASELINE
    text = dict(zip(province_codes(), fig.data[0].text, strict=True))
    assert text["450000"] == "Guangxi<br>2.50×" and text["110000"] == "Beijing<br>no baseline"
    axis = fig.layout.coloraxis
    assert axis.cmin == NO_BASELINE and axis.cmax == 3 and not fig.layout.annotations
    assert list(axis.colorbar.ticktext) == ["0×", "1×", "2×", "≥3×"]
    got = patched_values(map_patch({"450000": 2.5}, "zh", "surge"))
    assert got["layout.coloraxis.colorscale"] == SURGE_SCALE and got["layout.annotations"] == []
    assert got["layout.coloraxis.showscale"] is True and got["data.2.marker.color"] == [NO_BASELINE] * 2
    back = patched_values(map_patch({"450000": 7}, "zh", "rate"))  # switching back restores the rate axis
    assert back["layout.coloraxis.cmin"] == 0 and back["layout.coloraxis.colorbar.tickvals"] is None


def test_sparkline_bars_are_relative_to_the_largest_point() -> None:
    spark = panels.sparkline([0, 5, 10])
    assert [b.style["height"] for b in spark.children] == ["0%", "50%", "100%"]
    assert panels.sparkline([]).children == []
    assert panels.spark_title([3, 9], "en") == "Events per minute, last 30 min: 3–9"


def _surge(code: str, ratio: str, state: str = "firing") -> AlertNow:
    return AlertNow(
        "f" * 16 + code, "TrafficSurge", state, "warning", fx.NOW, 1.0, {"province": code}, {"ratio": ratio}
    )


def test_surge_board_rows_carry_a_sparkline_and_link_to_the_province() -> None:
    rows = panels.surge_list([_surge("450000", "3.1"), _surge("370000", "2.4", "pending")], "zh", {"450000": [1, 2, 3]})
    assert len(rows) == 2
    link, spark = rows[0].children[1].children, rows[0].children[2]
    assert link.href == "/province/450000" and len(spark.children) == 3
    assert rows[1].children[2].children is None  # no stored minutes: no sparkline, not a flat line


def test_province_alerts_list_says_when_there_are_none() -> None:
    assert panels.province_alerts([], "en").children == "No alerts for this province"
    row = panels.province_alerts([_surge("450000", "3.1")], "en")[0]
    assert "Traffic surge" in str(row) and "3.10×" in str(row)


def test_surge_map_values_equal_direct_queries_of_the_stored_weeks(morning_store: ChdbStore) -> None:
    fx.load_history(morning_store)
    q = Queries(morning_store, ttl_s=0)
    start, end = surge_window(fx.NOW - MINUTE)
    current = fx.direct_by_province(morning_store, start, end)
    weeks = [fx.direct_by_province(morning_store, start - k * fx.WEEK, end - k * fx.WEEK) for k in (1, 2, 3, 4)]
    assert [bool(w) for w in weeks] == [True, True, True, False]  # the fourth week predates the store
    got = load_map_values(q, None, "surge")
    assert got is not None and set(got) == {"450000", "370000"}  # the others have no baseline
    assert got["450000"] == pytest.approx(current["450000"] / 100)
    assert got["370000"] == pytest.approx(current["370000"] / statistics.median([50, 0, 60]))


def test_overview_sparklines_equal_the_stored_minutes(morning_store: ChdbStore) -> None:
    q = Queries(morning_store, ttl_s=0)
    ov = load_overview(q)
    assert ov is not None and set(ov.sparks) == {"450000", "370000"}  # the surge board's provinces
    start = fx.NOW - (SPARK_MINUTES - 1) * MINUTE
    direct = [
        fx.direct_by_province(morning_store, ts, ts + MINUTE).get("450000", 0)
        for ts in range(start, fx.NOW + MINUTE, MINUTE)
    ]
    assert ov.sparks["450000"] == direct and len(direct) == SPARK_MINUTES
    assert load_sparklines(q, [], fx.NOW) == {}


def test_surge_ratios_of_one_minute_follow_rows_stored_after_they_were_first_shown(morning_store: ChdbStore) -> None:
    """ "now" is the latest minute stored, and other partitions' rows of the minutes before it may
    still be on their way (a fast replay runs partitions minutes apart). So the ratios of one "now"
    are computed again once the cache's TTL has passed: kept for good, a window first seen
    half-filled stayed on the map for as long as a rehearsal held its last moment."""
    fx.load_history(morning_store)
    clock = [1000.0]
    q = Queries(morning_store, ttl_s=2.0, clock=lambda: clock[0])
    now = q.latest_minute()
    assert now is not None
    start, _ = surge_window(now - MINUTE)
    before = load_surge(q, now)["450000"]  # Guangxi: its earlier weeks' median is 100
    fx.insert_clicks(morning_store, [(start, "k12", "450000", "lessons", "view", 500)])  # late rows of the window
    assert load_surge(q, now)["450000"] == before  # within the TTL: what every viewer was shown
    clock[0] += 2.0
    assert q.latest_minute() == now  # the same "now" ...
    assert load_surge(q, now)["450000"] == pytest.approx(before + 500 / 100)  # ... and the whole window
