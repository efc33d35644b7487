"""Issue 14: every page fits 1280x800, 1366x768, 1920x1080 and 3840x2160 in both languages, and a
Chinese page shows no Latin text outside names and units. One browser session per language; the
sizes are set inside it. Bounding boxes decide: no horizontal scroll, every panel and KPI inside the
viewport's width (the wall screen inside its height too), no title or number cut off by its box.
A screenshot of every page, size and language lands in tests/artifacts/pages/.
"""

from __future__ import annotations

import re
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

SIZES = ((1280, 800), (1366, 768), (1920, 1080), (3840, 2160))
# (name, URL path and query, an element that is filled once the page has its data)
PAGES = (
    ("wall", "/?wall=1&rotate=3600", f"#{Ids.kpi('today')}"),  # no rotation while measured
    ("overview", "/", f"#{Ids.kpi('today')}"),
    ("province", "/province/450000", "#prov-today"),
    ("alerts", "/alerts", "#alerts-counts"),
    ("report", "/report", "#report-total"),
)
# Latin words allowed on a Chinese page: units, product and format names, ids of the data itself
ALLOWED_LATIN = {"CSV", "K12", "MOOC", "EN", "min", "ms", "ID", "UTC"}

_GEOMETRY = """
const W = window.innerWidth, H = window.innerHeight;
const page = document.querySelector('.page:not(.hidden)');
const out = {view: [W, H], scroll: [document.documentElement.scrollWidth, document.documentElement.scrollHeight],
             outside: [], cut: []};
const boxes = Array.from(document.querySelectorAll('.topbar, .controls, .footer'))
  .concat(page ? Array.from(page.querySelectorAll('.panel, .kpi, .page-head')) : []);
for (const el of boxes) {
  if (!el.offsetParent && getComputedStyle(el).position !== 'fixed') continue;  // not displayed
  const r = el.getBoundingClientRect();
  if (r.width === 0 && r.height === 0) continue;
  const tall = arguments[0] ? r.bottom > H + 0.5 : false;
  if (r.left < -0.5 || r.right > W + 0.5 || tall) out.outside.push((el.id || el.className) + ' ' + [r.left, r.top, r.right, r.bottom].map(Math.round));
}
const texts = page ? Array.from(page.querySelectorAll('.panel-title, .kpi-value, .kpi-label, .page-title')) : [];
for (const el of texts.concat(Array.from(document.querySelectorAll('.brand h1')))) {
  if (el.offsetParent && el.scrollWidth > el.clientWidth + 1 && getComputedStyle(el).overflow !== 'visible')
    out.cut.push((el.id || el.className) + ' ' + el.scrollWidth + '>' + el.clientWidth);
}
out.text = document.body.innerText;
return out;
"""


def problems(g: dict, wall: bool) -> list[str]:
    width, height = g["view"]
    found = []
    if g["scroll"][0] > width:
        found.append(f"scrolls sideways: {g['scroll'][0]} in {width}")
    if wall and g["scroll"][1] > height:
        found.append(f"wall screen scrolls: {g['scroll'][1]} in {height}")
    found += [f"outside the viewport: {o}" for o in g["outside"]]
    found += [f"cut off: {c}" for c in g["cut"]]
    return found


def latin_words(text: str) -> set[str]:
    """Latin words of a page's visible text, less the allowed names and units (and resource ids,
    which are the data's own names)."""
    words = set(re.findall(r"[A-Za-z][A-Za-z0-9_-]+", text))
    return {
        w for w in words if w not in ALLOWED_LATIN and not re.fullmatch(r"res-[a-z0-9-]+|[a-z]+-\d+|[A-Z]{2}\d*", w)
    }


@pytest.mark.timeout(1500)  # 5 pages x 4 sizes; ~7 min a language on this shared machine (load ~40 on 2 cores)
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_page_fits_four_sizes_and_speaks_one_language(
    dash_duo, morning_store: ChdbStore, tmp_path: Path, free_port: int, artifacts: Path, lang: str
) -> None:
    out_dir = artifacts / "pages"
    out_dir.mkdir(parents=True, exist_ok=True)
    # 10 s refresh: see test_browser_truth; a day's stale threshold: this test runs for minutes past the
    # fixture's minute, and the pill is test_browser_truth's subject, not this one's
    settings = Settings(data_dir=tmp_path, cockpit_refresh_ms=10000, cockpit_cache_s=5.0, cockpit_stale_after_s=86400)
    set_viewport(dash_duo, *SIZES[0])
    dash_duo.start_server(
        create_app(settings, morning_store, registry=CollectorRegistry(), clock=fx.wall_clock), port=free_port
    )
    failures: list[str] = []
    for name, path, filled in PAGES:
        sep = "&" if "?" in path else "?"
        dash_duo.driver.get(f"{dash_duo.server_url}{path}{sep}lang={lang}")
        dash_duo.wait_for_text_to_equal(f"#{Ids.STATUS}", t("status_live", lang), timeout=120)
        until(lambda: dash_duo.find_element(filled).text not in ("", "—"), timeout=120)
        for width, height in SIZES:
            set_viewport(dash_duo, width, height)
            g: dict = {}

            def settled() -> bool:  # Plotly resizes after the window does
                g.update(dash_duo.driver.execute_script(_GEOMETRY, name == "wall"))
                return g["view"] == [width, height] and not problems(g, name == "wall")

            try:
                until(settled, timeout=8)
            except TestingTimeoutError:
                pass
            dash_duo.driver.save_screenshot(str(out_dir / f"{name}-{width}x{height}-{lang}.png"))
            failures += [f"{name} {width}x{height} {lang}: {p}" for p in problems(g, name == "wall")]
            if lang == "zh":
                failures += (
                    [f"{name} {width}x{height}: Latin text {sorted(latin_words(g['text']))}"]
                    if latin_words(g["text"])
                    else []
                )
    (out_dir / f"problems-{lang}.txt").write_text("\n".join(failures) + "\n", encoding="utf-8")
    assert failures == []
    assert_clean_console(dash_duo)
