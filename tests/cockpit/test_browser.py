"""The cockpit in headless Chromium over stored fixture data (dash[testing]; run with --headless).

Waits on conditions only: the page's own dcc.Interval brings new data in, and the test waits for the
text it expects, so it neither sleeps nor depends on how fast the machine is.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from cockpit.app import create_app
from cockpit.i18n import fmt_int, t
from cockpit.layout import Ids
from contracts.settings import Settings
from sinks.store import ChdbStore
from tests.cockpit import data as fx

pytestmark = pytest.mark.browser

VIEWPORT = (1280, 900)


def set_viewport(dash_duo, width: int, height: int) -> None:
    """Size the viewport (not the window, whose frame takes some height even when headless)."""
    driver = dash_duo.driver
    driver.set_window_size(width, height)
    inner = driver.execute_script("return [window.innerWidth, window.innerHeight]")
    driver.set_window_size(2 * width - inner[0], 2 * height - inner[1])


def assert_clean_console(dash_duo) -> None:
    logs = dash_duo.get_logs()
    assert logs == [], logs


def test_overview_shows_the_stored_total_and_refreshes_itself(
    dash_duo, empty_store: ChdbStore, settings: Settings, free_port: int, artifacts: Path
) -> None:
    set_viewport(dash_duo, *VIEWPORT)
    app = create_app(settings, empty_store, registry=CollectorRegistry(), clock=fx.wall_clock)
    dash_duo.start_server(app, port=free_port)

    # an empty store: a plain message, no numbers
    dash_duo.wait_for_text_to_equal(".notice-title", t("no_data_title", "zh"))
    assert dash_duo.find_element(f"#{Ids.kpi('today')}").text == "—"
    dash_duo.driver.save_screenshot(str(artifacts / "cockpit-no-data-zh.png"))

    # data lands while the page is open: the next tick shows it, equal to a direct query
    fx.load_morning(empty_store)
    expected = fx.direct_total(empty_store, fx.DAY_START, fx.DAY_START + 86400)
    dash_duo.wait_for_text_to_equal(f"#{Ids.kpi('today')}", fmt_int(expected), timeout=15)
    dash_duo.wait_for_text_to_equal(f"#{Ids.EVENT_NOW}", "2022-03-14 10:42")
    dash_duo.wait_for_text_to_equal(
        f"#{Ids.kpi('hour')}", fmt_int(fx.direct_total(empty_store, fx.NOW - 59 * 60, fx.NOW + 60))
    )
    dash_duo.wait_for_text_to_equal(f"#{Ids.kpi('rate')}", fmt_int(fx.direct_total(empty_store, fx.NOW - 60, fx.NOW)))
    dash_duo.wait_for_element(f"#{Ids.chart('national')} .scatterlayer .trace")
    dash_duo.wait_for_element(f"#{Ids.chart('provinces')} .barlayer .trace")
    assert dash_duo.find_element(".notice").get_attribute("class") == "notice hidden"
    dash_duo.driver.save_screenshot(str(artifacts / "cockpit-overview-zh.png"))

    # the language switch relabels the page; the numbers stay the stored ones
    dash_duo.find_elements(".lang-option")[1].click()
    dash_duo.wait_for_text_to_equal(f"#{Ids.kpi('today', 'label')}", "Page views today")
    dash_duo.wait_for_text_to_equal(f"#{Ids.STATUS}", "Live", timeout=30)
    assert dash_duo.find_element(f"#{Ids.kpi('today')}").text == fmt_int(expected)
    dash_duo.driver.save_screenshot(str(artifacts / "cockpit-overview-en.png"))

    assert_clean_console(dash_duo)
