"""Every page in headless Chromium over the fixture morning: the map equals direct queries, a map
click opens the province page, the language switch relabels, wall-screen mode hides the controls,
the report exports CSV. Waits on conditions only; a screenshot of each page lands in tests/artifacts."""

from __future__ import annotations

from pathlib import Path

import pytest
from dash.testing.wait import until
from prometheus_client import CollectorRegistry
from selenium.webdriver.common.action_chains import ActionChains

from cockpit.app import create_app
from cockpit.i18n import fmt_int, t
from cockpit.layout import Ids
from cockpit.mapdata import province_codes
from contracts.settings import Settings
from sinks.store import ChdbStore
from tests.cockpit import data as fx
from tests.cockpit.test_browser import VIEWPORT, assert_clean_console, set_viewport

pytestmark = pytest.mark.browser

MAP_Z = "var g = document.querySelector('#chart-map .js-plotly-plot'); return g && g.data ? g.data[0].z : null"


def direct_by_province(store: ChdbStore, start: int, end: int) -> dict[str, int]:
    rows = store.query(
        f"SELECT toString(province), sum(clicks) FROM {store.database}.clicks_minute "
        "WHERE minute >= toDateTime(%(s)s) AND minute < toDateTime(%(e)s) GROUP BY province",
        {"s": start, "e": end},
    )
    return {str(p): int(n) for p, n in rows}


@pytest.fixture
def started(dash_duo, morning_store: ChdbStore, settings: Settings, free_port: int):  # type: ignore[no-untyped-def]
    set_viewport(dash_duo, *VIEWPORT)
    dash_duo.start_server(
        create_app(settings, morning_store, registry=CollectorRegistry(), clock=fx.wall_clock), port=free_port
    )
    return dash_duo


def test_map_equals_the_store_and_a_click_opens_the_province(
    started, morning_store: ChdbStore, artifacts: Path
) -> None:
    dash_duo = started
    dash_duo.wait_for_text_to_equal(f"#{Ids.EVENT_NOW}", "2022-03-14 10:42")
    rate = direct_by_province(morning_store, fx.NOW - 60, fx.NOW)  # the last full minute
    expected = [rate.get(c, 0) for c in province_codes()]
    until(lambda: dash_duo.driver.execute_script(MAP_Z) == expected, timeout=15)
    dash_duo.wait_for_element("#chart-map .choroplethlocation")
    dash_duo.driver.save_screenshot(str(artifacts / "cockpit-overview-map-zh.png"))

    # the other measure: events over the chosen range (the last hour by default)
    dash_duo.select_dcc_dropdown(f"#{Ids.MEASURE}", index=1)
    hour = direct_by_province(morning_store, fx.NOW - 59 * 60, fx.NOW + 60)
    until(lambda: dash_duo.driver.execute_script(MAP_Z) == [hour.get(c, 0) for c in province_codes()], timeout=15)

    # click Sichuan's area on the map: the province page opens with its own numbers
    path = dash_duo.driver.execute_script(
        "return Array.from(document.querySelectorAll('#chart-map .choroplethlocation'))"
        ".find(p => p.__data__ && p.__data__.loc === '510000')"
    )
    assert path is not None
    ActionChains(dash_duo.driver).move_to_element(path).click().perform()
    until(lambda: dash_duo.driver.current_url.endswith("/province/510000"), timeout=10)
    dash_duo.wait_for_text_to_equal("#prov-name", "省级监测 · 四川")
    dash_duo.wait_for_text_to_equal("#prov-span-total", fmt_int(hour["510000"]))
    dash_duo.wait_for_element("#prov-line .scatterlayer .trace")
    dash_duo.driver.save_screenshot(str(artifacts / "cockpit-province-zh.png"))
    assert_clean_console(dash_duo)


def test_language_switch_relabels_every_page_part(started) -> None:
    dash_duo = started
    dash_duo.wait_for_text_to_equal(f"#{Ids.STATUS}", t("status_live", "zh"))
    assert dash_duo.find_element(f"#{Ids.nav('report')}").text == "日报"
    dash_duo.find_elements(".lang-option")[1].click()
    dash_duo.wait_for_text_to_equal(f"#{Ids.nav('report')}", "Daily report")
    dash_duo.wait_for_text_to_equal("#lbl-ctl_range", "Range")
    dash_duo.wait_for_text_to_equal(f"#{Ids.kpi('sessions', 'label')}", "Active sessions")
    dash_duo.wait_for_text_to_equal(f"#{Ids.listing('surge', 'title')}", "Surges vs baseline")
    dash_duo.find_elements(".lang-option")[0].click()  # back, so later tests start in Chinese
    dash_duo.wait_for_text_to_equal(f"#{Ids.nav('report')}", "日报")
    assert_clean_console(dash_duo)


def test_wall_screen_mode_hides_the_controls(started, artifacts: Path) -> None:
    dash_duo = started
    dash_duo.wait_for_text_to_equal(f"#{Ids.STATUS}", t("status_live", "zh"))
    assert dash_duo.find_element(f"#{Ids.CONTROLS}").is_displayed()
    dash_duo.driver.get(dash_duo.server_url + "/?wall=1")
    dash_duo.wait_for_class_to_equal(f"#{Ids.SHELL}", "cockpit wall")
    until(lambda: not dash_duo.find_element(f"#{Ids.CONTROLS}").is_displayed(), timeout=5)
    assert not dash_duo.find_element(".nav").is_displayed()
    dash_duo.wait_for_text_to_equal(f"#{Ids.STATUS}", t("status_live", "zh"))
    dash_duo.driver.save_screenshot(str(artifacts / "cockpit-wall-zh.png"))
    assert_clean_console(dash_duo)


def test_overview_kpis_and_panels_equal_the_store(started, morning_store: ChdbStore, artifacts: Path) -> None:
    dash_duo = started
    users, _ = fx.direct_uniques(morning_store, fx.DAY_START, fx.DAY_START + 86400)
    _, active = fx.direct_uniques(morning_store, fx.NOW - 60, fx.NOW)
    dash_duo.wait_for_text_to_equal(f"#{Ids.kpi('uniques')}", fmt_int(users), timeout=15)
    dash_duo.wait_for_text_to_equal(f"#{Ids.kpi('sessions')}", fmt_int(active))
    dash_duo.wait_for_contains_text(f"#{Ids.listing('surge')}", "广西")
    dash_duo.wait_for_contains_text(f"#{Ids.listing('surge')}", "3.10×")
    dash_duo.wait_for_contains_text(f"#{Ids.listing('alerts')}", "访问异常 · 全国")
    dash_duo.wait_for_element(f"#{Ids.listing('resources')} table")
    dash_duo.wait_for_element(f"#{Ids.chart('abroad')} .barlayer .trace")
    dash_duo.wait_for_element(f"#{Ids.chart('sessions')} .barlayer .trace")
    dash_duo.driver.save_screenshot(str(artifacts / "cockpit-overview-panels-zh.png"))
    assert_clean_console(dash_duo)


def test_alerts_page_renders_the_stored_alerts_and_filters_them(started, artifacts: Path) -> None:
    dash_duo = started
    dash_duo.find_element(f"#{Ids.nav('alerts')}").click()
    dash_duo.wait_for_text_to_equal("#alerts-counts", "告警中 2 · 待定 1 · 已恢复 1", timeout=15)
    assert not dash_duo.find_element(f"#{Ids.page('overview')}").is_displayed()
    dash_duo.wait_for_contains_text("#alerts-current", "访问异常")
    for name in ("访问激增", "访问骤降"):
        assert name in dash_duo.find_element("#alerts-current").text
    assert "待定 → 告警中" in dash_duo.find_element("#alerts-history").text
    assert "确认" not in dash_duo.find_element("#alerts-current").text  # no operator: no forms
    dash_duo.driver.save_screenshot(str(artifacts / "cockpit-alerts-zh.png"))
    # untick "resolved": Beijing's drop leaves the table
    dash_duo.find_elements("#alerts-state label")[2].click()
    until(lambda: "访问骤降" not in dash_duo.find_element("#alerts-current").text, timeout=10)
    assert "访问激增" in dash_duo.find_element("#alerts-current").text
    assert_clean_console(dash_duo)


def test_report_page_shows_stored_totals_and_exports_csv(started, morning_store: ChdbStore, artifacts: Path) -> None:
    dash_duo = started
    dash_duo.find_element(f"#{Ids.nav('report')}").click()
    week = fx.direct_total(morning_store, fx.DAY_START - 6 * 86400, fx.DAY_START + 86400)
    dash_duo.wait_for_text_to_equal("#report-total", fmt_int(week))
    dash_duo.wait_for_element("#table-growth table")
    dash_duo.driver.save_screenshot(str(artifacts / "cockpit-report-zh.png"))
    assert_clean_console(dash_duo)
