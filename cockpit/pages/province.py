"""The province page (`/province/<code>`): the overview's measures for one division.

Reached by clicking the map, the province ranking or the surge board; follows the same range and
platform controls. Shows the province's alerts (the alert log's alerts labelled with it). Top
resources are not stored per province (the resource table has no province column), and the panel
says so rather than showing the national list under the province's name.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import dash
from dash import Input, Output, dcc, html

from cockpit import figures, panels
from cockpit.i18n import fmt_int, fmt_per_second, province_name, t
from cockpit.layout import DASH, Ids
from cockpit.pages.common import Key, graph_panel, kpi, ordered
from cockpit.params import checked_filters, checked_lang
from cockpit.queries import Queries
from cockpit.snapshots import Filters, ProvinceView, chart_episodes, load_province
from cockpit.timeframe import fmt_minute

PAGE = "province"
NAME = "prov-name"
KPIS = ("prov-span-total", "prov-rate", "prov-share", "prov-today")
LINE, PLATFORMS, SECTIONS = "prov-line", "prov-platforms", "prov-sections"
ALERTS = "prov-alerts"


def layout(lang: str) -> html.Div:
    return html.Div(
        id=Ids.page(PAGE),
        className="page hidden",
        children=[
            html.Div(
                className="page-head",
                children=[
                    html.H2(DASH, id=NAME, className="page-title"),
                    dcc.Link(t("back", lang), id="prov-back", href="/", className="back-link"),
                ],
            ),
            html.Section(className="kpis kpis-4", children=[kpi(k, k.replace("-", "_"), lang) for k in KPIS]),
            html.Section(
                className="grid grid-top",
                children=[
                    graph_panel(LINE, "chart_prov_line", lang, "panel-wide"),
                    graph_panel(PLATFORMS, "chart_prov_platforms", lang),
                ],
            ),
            html.Section(
                className="grid grid-bottom grid-prov",
                children=[
                    graph_panel(SECTIONS, "chart_prov_sections", lang),
                    html.Div(
                        className="panel panel-na",
                        children=[
                            html.H2(t("panel_resources", lang), id="prov-na-resources", className="panel-title"),
                            html.Div(t("prov_resources_na", lang), id="prov-na-resources-body", className="na-body"),
                        ],
                    ),
                    html.Div(
                        className="panel panel-list",
                        children=[
                            html.H2(t("panel_alerts", lang), id="prov-alerts-title", className="panel-title"),
                            html.Div(DASH, id=ALERTS, className="list-body"),
                        ],
                    ),
                ],
            ),
        ],
    )


OUTPUTS: tuple[Key, ...] = (
    (NAME, "children"),
    ("prov-back", "children"),
    *((k, "children") for k in KPIS),
    *((f"{k}-label", "children") for k in KPIS),
    *((f"{k}-sub", "children") for k in KPIS),
    *((g, "figure") for g in (LINE, PLATFORMS, SECTIONS)),
    *((f"{g}-title", "children") for g in (LINE, PLATFORMS, SECTIONS)),
    ("prov-na-resources", "children"),
    ("prov-alerts-title", "children"),
    ("prov-na-resources-body", "children"),
    (ALERTS, "children"),
)


def render_labels(code: str | None, lang: str) -> dict[Key, Any]:
    name = province_name(code, lang) if code else t("unknown_province", lang)
    out: dict[Key, Any] = {
        (NAME, "children"): f"{t('province_title', lang)} · {name}",
        ("prov-back", "children"): t("back", lang),
    }
    for k in KPIS:
        out[(f"{k}-label", "children")] = t(k.replace("-", "_"), lang)
    for g, key in ((LINE, "chart_prov_line"), (PLATFORMS, "chart_prov_platforms"), (SECTIONS, "chart_prov_sections")):
        out[(f"{g}-title", "children")] = t(key, lang)
    out[("prov-na-resources", "children")] = t("panel_resources", lang)
    out[("prov-alerts-title", "children")] = t("panel_alerts", lang)
    out[("prov-na-resources-body", "children")] = t("prov_resources_na", lang)
    return out


def render(pv: ProvinceView | None, code: str | None, lang: str) -> dict[Key, Any]:
    """Numbers from `pv` only; with no data (or an unknown code) the page shows dashes and says why."""
    out = render_labels(code, lang)
    if pv is None:
        for k in KPIS:
            out[(k, "children")] = DASH
            out[(f"{k}-sub", "children")] = ""
        message = figures.message_figure(t("no_data_title" if code else "unknown_province", lang))
        for g in (LINE, PLATFORMS, SECTIONS):
            out[(g, "figure")] = message
        out[(ALERTS, "children")] = panels.empty(t("no_data_title" if code else "unknown_province", lang))
        return out
    share = pv.share
    out |= {
        ("prov-span-total", "children"): fmt_int(pv.span_total),
        ("prov-rate", "children"): fmt_int(pv.rate),
        ("prov-rate-sub", "children"): f"{fmt_minute(pv.rate_minute)} · {fmt_per_second(pv.rate)} {t('per_s', lang)}",
        ("prov-share", "children"): DASH if share is None else f"{share:.1%}",
        ("prov-share-sub", "children"): f"{fmt_int(pv.span_total)} / {fmt_int(pv.national_span_total)}",
        ("prov-today", "children"): fmt_int(pv.today_total),
        ("prov-span-total-sub", "children"): "",
        ("prov-today-sub", "children"): "",
    }
    span = pv.span
    episodes, actions = chart_episodes(pv.history, pv.win.hour_end)
    out[(LINE, "figure")] = figures.national_line(
        pv.series,
        lang,
        span.start,
        min(pv.win.now, span.end - span.step),
        span.step,
        partial=figures.partial_bucket(span.start, span.step, pv.win.now, span.end),
        notes=figures.ChartNotes(episodes, actions),
    )
    out[(PLATFORMS, "figure")] = figures.platform_bars(pv.by_platform, lang)
    out[(SECTIONS, "figure")] = figures.section_bars(pv.by_section, lang)
    out[(ALERTS, "children")] = panels.province_alerts(pv.alerts, lang)
    return out


def refresh(queries: Queries, code: str | None, lang: str, filters: Filters | None = None) -> dict[Key, Any]:
    pv = load_province(queries, code, filters) if code else None
    return render(pv, code, lang)


def register(app: dash.Dash, queries: Queries, clock: Callable[[], float]) -> None:
    @app.callback(
        [Output(i, p) for i, p in OUTPUTS],
        Input(Ids.TICK, "n_intervals"),
        Input(Ids.LANG, "value"),
        Input(Ids.ROUTE, "data"),
        Input(Ids.RANGE, "value"),
        Input(Ids.CUSTOM, "start_date"),
        Input(Ids.CUSTOM, "end_date"),
        Input(Ids.PLATFORM, "value"),
    )
    def _refresh(
        _n: int,
        lang: str,
        route: dict[str, Any] | None,
        range_: str | None,
        c0: str | None,
        c1: str | None,
        platform: str | None,
    ) -> tuple[Any, ...]:
        if not route or route.get("page") != PAGE:
            raise dash.exceptions.PreventUpdate
        filters = checked_filters(range_, c0, c1, platform)
        return ordered(refresh(queries, route.get("province"), checked_lang(lang), filters), OUTPUTS)
