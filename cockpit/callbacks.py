"""The shell's callbacks, and the one place every page's callbacks are registered.

The shell's own: its labels and the controls' choices in the chosen language (`render_labels`,
`render_options`: plain functions, so tests call them directly), routing and the timers
(`cockpit.routing`). Each page (`cockpit.pages.*`) registers its own layout's callbacks; the
header's data time and status ride on the overview's tick (`cockpit.header`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import dash
from dash import Input, Output

from cockpit import routing
from cockpit.i18n import t
from cockpit.layout import Ids
from cockpit.metrics import CockpitMetrics
from cockpit.pages import alerts, overview, province, report
from cockpit.pages.common import Key, ordered
from cockpit.queries import Queries
from cockpit.shell import measure_options, platform_options, range_options
from contracts.settings import Settings

LABEL_OUTPUTS: tuple[tuple[Key, str], ...] = (
    ((Ids.TITLE, "children"), "title"),
    ((Ids.SUBTITLE, "children"), "subtitle"),
    ((Ids.EVENT_NOW_LABEL, "children"), "event_now"),
    ((Ids.BEIJING, "children"), "beijing"),
    ((Ids.FOOTER, "children"), "footer"),
    *(((Ids.nav(k), "children"), f"nav_{k}") for k in ("overview", "alerts", "report")),
    *((("lbl-" + k, "children"), k) for k in ("ctl_range", "ctl_platform", "ctl_measure", "ctl_refresh")),
    (("wall-link", "children"), "wall_mode"),
    ((Ids.FULLSCREEN, "children"), "fullscreen"),
)

OPTION_OUTPUTS: tuple[Key, ...] = (
    (Ids.RANGE, "options"),
    (Ids.PLATFORM, "options"),
    (Ids.MEASURE, "options"),
    (Ids.PAUSE, "options"),
)


def render_labels(lang: str) -> dict[Key, Any]:
    return {key: t(label, lang) for key, label in LABEL_OUTPUTS}


def render_options(lang: str) -> dict[Key, Any]:
    """The controls' choices in `lang` (their values never change with the language)."""
    return {
        (Ids.RANGE, "options"): range_options(lang),
        (Ids.PLATFORM, "options"): platform_options(lang),
        (Ids.MEASURE, "options"): measure_options(lang),
        (Ids.PAUSE, "options"): [{"label": t("ctl_pause", lang), "value": "paused"}],
    }


def register_callbacks(
    app: dash.Dash,
    queries: Queries,
    clock: Callable[[], float],
    metrics: CockpitMetrics | None = None,
    default_refresh_ms: int = 2000,
    settings: Settings | None = None,
) -> None:
    cfg = settings or Settings()
    label_keys = tuple(key for key, _ in LABEL_OUTPUTS)

    @app.callback([Output(i, p) for i, p in label_keys + OPTION_OUTPUTS], Input(Ids.LANG, "value"))
    def _labels(lang: str) -> tuple[Any, ...]:
        return ordered(render_labels(lang) | render_options(lang), label_keys + OPTION_OUTPUTS)

    routing.register(app, queries, default_refresh_ms, cfg)
    overview.register(app, queries, clock, metrics, cfg)
    province.register(app, queries, cfg)
    alerts.register(app, queries, cfg)
    report.register(app, queries, cfg)
