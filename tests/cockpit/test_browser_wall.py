"""The wall screen fits the common wall resolutions: every key panel inside the viewport, nothing to
scroll, no panel squeezed to nothing. Headless Chromium over the fixture morning; waits on
conditions only; a screenshot per size lands in tests/artifacts."""

from __future__ import annotations

from pathlib import Path

import pytest
from dash.testing.errors import TestingTimeoutError
from dash.testing.wait import until
from prometheus_client import CollectorRegistry

from cockpit.app import create_app
from cockpit.i18n import t
from cockpit.layout import Ids
from contracts.settings import Settings
from sinks.store import ChdbStore
from tests.cockpit import data as fx
from tests.cockpit.test_browser import assert_clean_console, set_viewport

pytestmark = pytest.mark.browser

WALL_SIZES = ((1280, 900), (1920, 1080))
MIN_GRAPH_PX = 90  # a chart smaller than this is not readable from across the room

# (selector, what it is): each must lie wholly inside the viewport
KEY_PANELS = (
    (".cockpit.wall .topbar", "top bar"),
    ("#page-overview .kpis", "KPI cards"),
    ("#page-overview .panel-map", "map"),
    (f"#{Ids.chart('national')}", "national line"),
    (f"#{Ids.chart('platforms')}", "platforms"),
    (f"#{Ids.chart('provinces')}", "provinces"),
    (f"#{Ids.chart('sections')}", "sections"),
    (f"#{Ids.chart('abroad')}", "abroad"),
    (f"#{Ids.chart('sessions')}", "sessions"),
    (f"#{Ids.listing('surge')}", "surge board"),
    (f"#{Ids.listing('alerts')}", "firing alerts"),
    (f"#{Ids.listing('resources')}", "top resources"),
    (".cockpit.wall .footer", "footer"),
)

_GEOMETRY = """
const out = {view: [window.innerWidth, window.innerHeight],
             scroll: [document.documentElement.scrollWidth, document.documentElement.scrollHeight],
             boxes: {}};
for (const sel of arguments[0]) {
  const el = document.querySelector(sel);
  if (!el) { out.boxes[sel] = null; continue; }
  const r = el.getBoundingClientRect();
  out.boxes[sel] = [r.left, r.top, r.right, r.bottom];
}
out.clipped = [];  // KPI numbers and units cut off by their card's edge
for (const card of document.querySelectorAll('#page-overview .kpi')) {
  const edge = card.getBoundingClientRect().right;
  for (const part of card.querySelectorAll('.kpi-value, .kpi-unit')) {
    if (part.textContent && part.getBoundingClientRect().right > edge - 1) out.clipped.push(part.id);
  }
}
return out;
"""


def layout_problems(geometry: dict, min_height: int = MIN_GRAPH_PX) -> list[str]:
    """Everything wrong with one measured layout (empty when it fits); a plain function for clarity."""
    width, height = geometry["view"]
    problems = []
    if geometry["scroll"][0] > width or geometry["scroll"][1] > height:
        problems.append(f"page scrolls: {geometry['scroll']} in a {width}x{height} viewport")
    for sel, what in KEY_PANELS:
        box = geometry["boxes"].get(sel)
        if box is None:
            problems.append(f"{what} ({sel}) missing")
            continue
        left, top, right, bottom = box
        if left < 0 or top < 0 or right > width + 0.5 or bottom > height + 0.5:
            problems.append(f"{what} outside the {width}x{height} viewport: {[round(v) for v in box]}")
        if sel.startswith("#chart-") and bottom - top < min_height:
            problems.append(f"{what} squeezed to {bottom - top:.0f} px")
    problems += [f"{part} cut off by its card" for part in geometry.get("clipped", [])]
    return problems


def test_layout_problems_flags_overflow_clipping_and_squeezing() -> None:
    fits = {"view": [100, 100], "scroll": [100, 100], "boxes": {sel: [0, 0, 100, 100] for sel, _ in KEY_PANELS}}
    assert layout_problems(fits, min_height=50) == []
    bad = {
        "view": [100, 100],
        "scroll": [100, 140],
        "boxes": {
            **fits["boxes"],
            f"#{Ids.chart('abroad')}": [0, 60, 50, 130],
            f"#{Ids.chart('sessions')}": [0, 0, 50, 40],
            ".cockpit.wall .footer": None,
        },
        "clipped": ["kpi-today"],
    }
    found = layout_problems(bad, min_height=50)
    assert len(found) == 5 and "scrolls" in found[0] and found[-1] == "kpi-today cut off by its card"


def test_wall_screen_fits_1280x900_and_1920x1080(
    dash_duo, morning_store: ChdbStore, settings: Settings, free_port: int, artifacts: Path
) -> None:
    set_viewport(dash_duo, *WALL_SIZES[0])
    dash_duo.start_server(
        create_app(settings, morning_store, registry=CollectorRegistry(), clock=fx.wall_clock), port=free_port
    )
    dash_duo.driver.get(dash_duo.server_url + "/?wall=1")
    dash_duo.wait_for_class_to_equal(f"#{Ids.SHELL}", "cockpit wall")
    dash_duo.wait_for_text_to_equal(f"#{Ids.STATUS}", t("status_live", "zh"), timeout=20)
    dash_duo.wait_for_element(f"#{Ids.listing('resources')} table")
    selectors = [sel for sel, _ in KEY_PANELS]
    for width, height in WALL_SIZES:
        set_viewport(dash_duo, width, height)
        geometry: dict = {}

        def fits() -> bool:  # Plotly resizes its graphs after the window does: wait for it to settle
            geometry.update(dash_duo.driver.execute_script(_GEOMETRY, selectors))
            return geometry["view"] == [width, height] and not layout_problems(geometry)

        try:
            until(fits, timeout=10)
        except TestingTimeoutError:
            pass  # the assertion below says what does not fit
        dash_duo.driver.save_screenshot(str(artifacts / f"cockpit-wall-{width}x{height}-zh.png"))
        assert geometry["view"] == [width, height]
        assert layout_problems(geometry) == []

    # the rotation's province pages fit too: nothing to scroll, the line and the alerts on screen
    set_viewport(dash_duo, *WALL_SIZES[0])
    dash_duo.driver.get(dash_duo.server_url + "/province/450000?wall=1")
    dash_duo.wait_for_contains_text("#prov-alerts", "访问激增", timeout=20)
    # opened directly, the page's header still says how fresh the data is
    dash_duo.wait_for_text_to_equal(f"#{Ids.EVENT_NOW}", "2022-03-14 10:42", timeout=10)
    province = ("#prov-line", "#prov-platforms", "#prov-sections", "#prov-alerts")
    page: dict = {}

    def province_fits() -> bool:
        page.update(dash_duo.driver.execute_script(_GEOMETRY, province))
        w, h = page["view"]
        return (
            page["scroll"][0] <= w
            and page["scroll"][1] <= h
            and all(
                b is not None and b[3] <= h and b[2] <= w and b[3] - b[1] >= MIN_GRAPH_PX / 2
                for b in page["boxes"].values()
            )
        )

    try:
        until(province_fits, timeout=10)
    except TestingTimeoutError:
        pass
    dash_duo.driver.save_screenshot(str(artifacts / "cockpit-wall-province-1280x900-zh.png"))
    assert province_fits(), page
    assert_clean_console(dash_duo)
