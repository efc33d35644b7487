"""Issue 14: the wall screen tells the truth, in headless Chromium over the fixture morning (its
"now" minute, 10:42, still filling) with a surge added in Jilin. One browser session per test;
waits on conditions only.

- the national line's last point is the last full minute; the partial one is drawn apart;
- "events per second now" is the last full minute / 60, the same minute as the per-minute KPI;
- the pill says Live, then Stale once the wall clock runs on without new data;
- the surging province is ringed on the map from day one (no earlier week stored) and the wall
  rotation, set up by a kiosk URL, visits it first;
- the first paint is themed within a second: no white Plotly axes, no unthemed loading text.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from dash.testing.wait import until
from prometheus_client import CollectorRegistry

from cockpit.app import create_app
from cockpit.i18n import fmt_int, t
from cockpit.layout import Ids
from cockpit.mapdata import province_codes
from cockpit.surge import SURGE_WINDOW
from cockpit.timeframe import MINUTE
from contracts.settings import Settings
from sinks.store import ChdbStore
from tests.cockpit import data as fx
from tests.cockpit.test_browser import assert_clean_console, set_viewport

pytestmark = pytest.mark.browser

JILIN = "220000"

LINE = (
    "var g = document.querySelector('#chart-national .js-plotly-plot'); if (!g || !g.data) return null;"
    " var main = g.data.filter(function (d) { return d.name === 'events'; })[0];"
    " var part = g.data.filter(function (d) { return d.meta === 'partial'; })[0];"
    " if (!main) return null;"
    " return {last: main.x[main.x.length - 1], partial: part ? part.x[part.x.length - 1] : null};"
)
MAP_HOT = (
    "var g = document.querySelector('#chart-map .js-plotly-plot'); if (!g || !g.data || !g.data[3]) return null;"
    " return {hot: g.data[3].customdata, widths: g.data[0].marker.line.width};"
)


class Wall:
    """The fixture's wall clock, which a test can move on (data stops arriving, time does not)."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return fx.wall_clock() + self.offset


def add_jilin_surge(store: ChdbStore) -> None:
    """Jilin at about four times its usual share over the surge window (ending with 10:41)."""
    start = fx.NOW - SURGE_WINDOW
    per_minute = fx.direct_by_province(store, start, fx.NOW).get(JILIN, 0) // (SURGE_WINDOW // MINUTE)
    rows = [
        (m, "k12", JILIN, "lessons", "view", max(30, 4 * per_minute)) for m in range(start, fx.NOW + MINUTE, MINUTE)
    ]
    fx.insert_clicks(store, rows)


def test_wall_screen_tells_the_truth(
    dash_duo, morning_store: ChdbStore, tmp_path: Path, free_port: int, artifacts: Path
) -> None:
    add_jilin_surge(morning_store)
    usual = fx.direct_by_province(morning_store, fx.DAY_START + 8 * 3600, fx.DAY_START + 10 * 3600)
    now = fx.direct_by_province(morning_store, fx.NOW - SURGE_WINDOW, fx.NOW)
    share = (now[JILIN] / sum(now.values())) / (usual[JILIN] / sum(usual.values()))
    assert share > 2.5  # the surge as direct queries see it: the map must single Jilin out

    wall = Wall()
    # 10 s: on this shared machine (load average ~40 on 2 cores) one overview refresh took 6-9 s, and a
    # tick that comes before the response supersedes it; the product's 2 s is for a machine of its own
    settings = Settings(data_dir=tmp_path, cockpit_refresh_ms=10000, cockpit_cache_s=1.0, cockpit_stale_after_s=180)
    set_viewport(dash_duo, 1920, 1080)
    dash_duo.start_server(create_app(settings, morning_store, registry=CollectorRegistry(), clock=wall), port=free_port)

    dash_duo.driver.get(dash_duo.server_url + "/?wall=1&lang=en")
    dash_duo.wait_for_text_to_equal(f"#{Ids.STATUS}", t("status_live", "en"), timeout=90)
    # the last point of the line is the last full minute; 10:42, still filling, is drawn apart
    try:
        until(lambda: dash_duo.driver.execute_script(LINE) is not None, timeout=90)
    except Exception:
        raise AssertionError(
            dash_duo.driver.execute_script(
                "var g = document.querySelector('#chart-national .js-plotly-plot'); return g ? JSON.stringify((g.data||[]).map(function(d){return [d.name, d.meta, (d.x||[]).length]})) + JSON.stringify(g.layout && g.layout.annotations) : 'no graph'"
            )
            + str(dash_duo.get_logs())
        ) from None
    line = dash_duo.driver.execute_script(LINE)
    assert line["last"].replace("T", " ").startswith("2022-03-14 10:41") and line["partial"].replace(
        "T", " "
    ).startswith("2022-03-14 10:42"), line
    # one "per second now": the last full minute's events / 60
    rate = fx.direct_total(morning_store, fx.NOW - MINUTE, fx.NOW)
    dash_duo.wait_for_text_to_equal(f"#{Ids.kpi('rate')}", fmt_int(rate))
    assert dash_duo.find_element(f"#{Ids.kpi('eps')}").text == f"{rate / 60:,.0f}"
    assert "10:41" in dash_duo.find_element(f"#{Ids.kpi('eps', 'sub')}").text
    # Jilin is ringed and outlined on the default (rate) map, with no earlier week stored
    until(lambda: (dash_duo.driver.execute_script(MAP_HOT) or {}).get("hot", [None])[:1] == [JILIN], timeout=90)
    widths = dash_duo.driver.execute_script(MAP_HOT)["widths"]
    assert widths[list(province_codes()).index(JILIN)] > max(
        w for c, w in zip(province_codes(), widths, strict=False) if c != JILIN
    )
    dash_duo.driver.save_screenshot(str(artifacts / "truth-wall-live-1920x1080-en.png"))

    # the data stops: the wall clock runs on, the pill turns Stale and a notice says so
    wall.offset = 600.0
    dash_duo.wait_for_text_to_equal(f"#{Ids.STATUS}", t("status_stale", "en"), timeout=90)
    dash_duo.wait_for_text_to_equal(".notice-title", t("stale_title", "en"), timeout=90)
    dash_duo.driver.save_screenshot(str(artifacts / "truth-wall-stale-1920x1080-en.png"))
    wall.offset = 0.0

    # a kiosk URL sets language, platform, range and rotation; the rotation goes to Jilin first
    dash_duo.driver.get(dash_duo.server_url + "/?wall=1&lang=zh&platform=k12&range=1h&rotate=5")
    dash_duo.wait_for_text_to_equal(f"#{Ids.TITLE}", t("title", "zh"), timeout=90)
    until(lambda: dash_duo.driver.current_url.split("?")[0].endswith(f"/province/{JILIN}"), timeout=90)
    dash_duo.wait_for_contains_text("#prov-name", "吉林", timeout=90)
    assert (
        dash_duo.driver.execute_script(
            "var r = document.querySelector('#range input:checked'); return r ? r.value : null;"
        )
        == "1h"
    )
    # themed from the first paint of a (re)load: dark page, placeholder figures without white axes, within 1 s
    dash_duo.driver.get(dash_duo.server_url + "/alerts?lang=en")  # a reload, as a wall screen does
    # the theme is a render-blocking stylesheet in <head>: whatever is painted first is painted themed,
    # so "themed within 1 s" is: the document was interactive and the stylesheet in within 1 s
    first = dash_duo.driver.execute_script(
        "var n = performance.getEntriesByType('navigation')[0];"
        " var css = performance.getEntriesByType('resource').filter(function (e) { return e.name.indexOf('cockpit.css') >= 0; });"
        " return {html: n.responseEnd, css: css.length ? css[0].responseEnd : null,"
        " bg: getComputedStyle(document.body).backgroundImage + getComputedStyle(document.body).backgroundColor};"
    )
    assert first["css"] is not None and first["css"] < 1000, first
    assert "255, 255, 255" not in first["bg"] and "gradient" in first["bg"]
    until(
        lambda: dash_duo.driver.execute_script("return document.querySelectorAll('.js-plotly-plot .main-svg').length")
        > 0,
        timeout=90,
    )
    whites = dash_duo.driver.execute_script(
        "return Array.from(document.querySelectorAll('.js-plotly-plot .main-svg, .js-plotly-plot .bg'))"
        ".map(function (e) { return getComputedStyle(e).backgroundColor + '|' + (e.getAttribute('style') || '') + '|' + (e.getAttribute('fill') || ''); })"
        ".filter(function (s) { return s.indexOf('255, 255, 255') >= 0 || s.indexOf('rgb(255,255,255)') >= 0 || s.indexOf('#fff') >= 0; });"
    )
    assert whites == []

    assert_clean_console(dash_duo)
