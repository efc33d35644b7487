"""Two things a duty officer sees at once: the map fills its panel (it once filled a third of it),
and the report's date pickers name months and weekdays in the page's language (they were English on
Chinese pages)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from dash.testing.wait import until
from prometheus_client import CollectorRegistry

from cockpit.app import create_app
from cockpit.layout import Ids
from contracts.settings import Settings
from sinks.store import ChdbStore
from tests.cockpit import data as fx
from tests.cockpit.test_browser import assert_clean_console, set_viewport

pytestmark = pytest.mark.browser

_FILL = """
const body = document.querySelector('.panel-map .panel-body').getBoundingClientRect();
const land = document.querySelector('#chart-map .choroplethlayer').getBoundingClientRect();
return [land.width / body.width, land.height / body.height];
"""


def calendar_text(dash_duo) -> str:  # type: ignore[no-untyped-def]
    return dash_duo.driver.execute_script(
        "var p = document.querySelector('.dash-datepicker-calendar-wrapper'); return p ? p.innerText : '';"
    )


@pytest.mark.parametrize("size", [(1920, 1080), (1280, 800)])
def test_the_map_fills_its_panel_and_the_pickers_speak_the_page_language(
    dash_duo, morning_store: ChdbStore, settings: Settings, free_port: int, artifacts: Path, size: tuple[int, int]
) -> None:
    set_viewport(dash_duo, *size)
    app = create_app(settings, morning_store, registry=CollectorRegistry(), clock=fx.wall_clock)
    dash_duo.start_server(app, port=free_port)
    dash_duo.wait_for_element(f"#{Ids.MAP} .choroplethlayer path")
    # China is wider than tall: in a wide panel its height is the limit, its width follows
    until(lambda: dash_duo.driver.execute_script(_FILL)[1] >= 0.8, timeout=15)
    width, height = dash_duo.driver.execute_script(_FILL)
    assert width >= 0.4 and height >= 0.8, f"the map covers {width:.0%} x {height:.0%} of its panel"

    dash_duo.driver.get(dash_duo.server_url + "/report")
    dash_duo.wait_for_element("#report-period").click()
    until(lambda: "日" in calendar_text(dash_duo), timeout=15)
    text = calendar_text(dash_duo)
    assert not re.search(r"\b(Mo|Tu|We|Th|Fr|Sa|Su|January|February|March|December)\b", text), text
    assert all(d in text for d in "一二三四五六日")
    dash_duo.driver.save_screenshot(str(artifacts / f"report-picker-{size[0]}x{size[1]}-zh.png"))
    # the language switch reaches the picker too
    dash_duo.find_elements(".lang-option")[1].click()
    dash_duo.wait_for_text_to_equal("#report-title", "Daily report", timeout=15)
    dash_duo.wait_for_element("#report-period").click()
    until(lambda: "Mo" in calendar_text(dash_duo), timeout=15)
    assert "日" not in calendar_text(dash_duo)
    assert_clean_console(dash_duo)
