"""The surge measure on the map and the surge board in headless Chromium, over the fixture morning
with three earlier weeks stored: map values equal direct store queries, the board's sparklines are
drawn, and a board row opens the province page with its alerts. Waits on conditions only."""

from __future__ import annotations

import statistics
from pathlib import Path

import pytest
from dash.testing.wait import until
from prometheus_client import CollectorRegistry
from selenium.common.exceptions import StaleElementReferenceException

from cockpit.app import create_app
from cockpit.figures_map import NO_BASELINE
from cockpit.layout import Ids
from cockpit.mapdata import province_codes
from cockpit.pages.overview import SPARK_MINUTES
from cockpit.surge import surge_window
from cockpit.timeframe import MINUTE
from contracts.settings import Settings
from sinks.store import ChdbStore
from tests.cockpit import data as fx
from tests.cockpit.test_browser import VIEWPORT, assert_clean_console, set_viewport
from tests.cockpit.test_browser_pages import MAP_Z

pytestmark = pytest.mark.browser


def expected_surge_z(store: ChdbStore) -> list[float]:
    """The map's colour keys computed from direct queries: ratio to the median of the stored weeks."""
    start, end = surge_window(fx.NOW - MINUTE)
    current = fx.direct_by_province(store, start, end)
    weeks = [
        w for w in (fx.direct_by_province(store, start - k * fx.WEEK, end - k * fx.WEEK) for k in (1, 2, 3, 4)) if w
    ]
    out = []
    for code in province_codes():
        base = statistics.median(w.get(code, 0) for w in weeks)
        out.append(round(current.get(code, 0) / base, 3) if base > 0 else NO_BASELINE)
    return out


# The national line's seasonal baseline as drawn: the band's presence and the dashed median's values.
BASELINE = (
    "var g = document.querySelector('#chart-national .js-plotly-plot'); if (!g || !g.data) return null;"
    " var m = function (name) { return g.data.filter(function (d) { return d.meta === name; }); };"
    " var e = m('baseline-expected');"
    " return {band: m('baseline-band').length,"
    " expected: e.length ? e[0].y.filter(function (v) { return v !== null; }) : []};"
)


def test_overview_line_draws_the_seasonal_band_from_the_stored_weeks(
    dash_duo, morning_store: ChdbStore, settings: Settings, free_port: int, artifacts: Path
) -> None:
    """Three earlier weeks stored one minute each (10:30): the band stands at that minute only, its
    median equal to the median of direct queries of those weeks."""
    fx.load_history(morning_store)
    at = fx.DAY_START + 10 * 3600 + 30 * MINUTE
    weeks = [fx.direct_total(morning_store, at - k * fx.WEEK, at - k * fx.WEEK + MINUTE) for k in (1, 2, 3)]
    want = {"band": 1, "expected": [statistics.median(weeks)]}
    set_viewport(dash_duo, *VIEWPORT)
    dash_duo.start_server(
        create_app(settings, morning_store, registry=CollectorRegistry(), clock=fx.wall_clock), port=free_port
    )
    dash_duo.wait_for_text_to_equal(f"#{Ids.EVENT_NOW}", "2022-03-14 10:42", timeout=20)
    until(lambda: dash_duo.driver.execute_script(BASELINE) == want, timeout=20)
    dash_duo.driver.save_screenshot(str(artifacts / "cockpit-overview-baseline-zh.png"))
    assert_clean_console(dash_duo)


def test_surge_map_and_board_equal_the_store_and_lead_to_the_province(
    dash_duo, morning_store: ChdbStore, settings: Settings, free_port: int, artifacts: Path
) -> None:
    fx.load_history(morning_store)
    expected = expected_surge_z(morning_store)
    assert sum(1 for z in expected if z != NO_BASELINE) == 2  # Guangxi and Shandong have baselines
    set_viewport(dash_duo, *VIEWPORT)
    dash_duo.start_server(
        create_app(settings, morning_store, registry=CollectorRegistry(), clock=fx.wall_clock), port=free_port
    )
    dash_duo.wait_for_text_to_equal(f"#{Ids.EVENT_NOW}", "2022-03-14 10:42", timeout=20)

    dash_duo.select_dcc_dropdown(f"#{Ids.MEASURE}", index=2)  # surge ratio
    until(lambda: dash_duo.driver.execute_script(MAP_Z) == expected, timeout=20)
    dash_duo.wait_for_element(f"#{Ids.listing('surge')} .spark .spark-bar")
    bars = dash_duo.find_elements(f"#{Ids.listing('surge')} .surge-row:first-child .spark-bar")
    assert len(bars) == SPARK_MINUTES
    dash_duo.driver.save_screenshot(str(artifacts / "cockpit-overview-surge-zh.png"))

    def click_first_row() -> bool:
        try:
            dash_duo.find_element(f"#{Ids.listing('surge')} .surge-row:first-child a").click()
            return True
        except StaleElementReferenceException:
            return False  # the board re-rendered (its refresh) between finding the link and clicking it

    until(click_first_row, timeout=10)
    until(lambda: dash_duo.driver.current_url.endswith("/province/450000"), timeout=10)
    dash_duo.wait_for_text_to_equal("#prov-name", "省级监测 · 广西", timeout=15)
    dash_duo.wait_for_contains_text("#prov-alerts", "访问激增", timeout=15)
    assert "访问异常" not in dash_duo.find_element("#prov-alerts").text
    assert "未按省份存储" in dash_duo.find_element("#prov-na-resources-body").text
    dash_duo.driver.save_screenshot(str(artifacts / "cockpit-province-alerts-zh.png"))
    assert_clean_console(dash_duo)
