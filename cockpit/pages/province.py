"""The province page (`/province/<code>`): the overview's measures for one division.

Reached by clicking the map, the province ranking or the surge board; follows the same range and
platform controls. Shows the province's alerts (the alert log's alerts labelled with it). Top
resources are not stored per province (the resource table has no province column), and the panel
says so rather than showing the national list under the province's name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import dash
from dash import Output, dcc, html

from cockpit import figures, panels
from cockpit.alert_log import (
    AlertChange,
    AlertNow,
    alerts_end,
    chart_episodes,
    filter_alerts,
    parse_current,
    parse_history,
)
from cockpit.filters import Filters
from cockpit.i18n import fmt_int, fmt_per_second, province_name, t
from cockpit.layout import DASH, Ids
from cockpit.pages.common import FILTER_INPUTS, REFRESH_INPUTS, FilterValues, Key, graph_panel, kpi, ordered
from cockpit.params import checked_filters, checked_lang
from cockpit.queries import Queries
from cockpit.series import rate_point
from cockpit.timeframe import MINUTE, Span, Windows, fmt_minute, windows
from contracts.settings import Settings

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


@dataclass(frozen=True)
class ProvinceView:
    code: str
    win: Windows
    span: Span
    series: list[tuple[int, int]]
    span_total: int
    national_span_total: int
    today_total: int
    rate_minute: int
    rate: int
    by_platform: dict[str, int]
    by_section: dict[str, int]
    alerts: list[AlertNow] = field(default_factory=list)  # alerts labelled with this province, current state
    history: list[AlertChange] = field(default_factory=list)  # this province's logged changes in the span

    @property
    def share(self) -> float | None:
        return self.span_total / self.national_span_total if self.national_span_total else None


def load_province(q: Queries, code: str, filters: Filters | None = None) -> ProvinceView | None:
    """The overview's measures for one province (validated code), or None while the store is empty."""
    f = filters or Filters()
    now = q.latest_minute()
    if now is None:
        return None
    w, span, pf = windows(now), f.span(now), f.platform
    hour = q.series(w.hour_start, w.hour_end, platform=pf, province=code)
    rate_minute, rate = rate_point(hour, w.now)
    if not hour:  # nothing this hour in the province: the last full minute stored nothing
        rate_minute, rate = w.now - MINUTE, 0
    return ProvinceView(
        code=code,
        win=w,
        span=span,
        series=q.series(span.start, span.end, span.step, platform=pf, province=code),
        span_total=q.total_between(span.start, span.end, platform=pf, province=code),
        national_span_total=q.total_between(span.start, span.end, platform=pf),
        today_total=q.total_between(w.day_start, w.day_end, platform=pf, province=code),
        rate_minute=rate_minute,
        rate=rate,
        by_platform=q.total_by_platform(span.start, span.end, platform=pf, province=code),
        by_section=q.total_by_section(span.start, span.end, platform=pf, province=code),
        alerts=filter_alerts(a for a in parse_current(q.alerts_current(alerts_end(w.now))) if a.province == code),
        history=[
            c
            for c in parse_history(q.alerts_history(span.start, min(span.end, alerts_end(w.now)), 500))
            if c.labels.get("province") == code
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


def register(app: dash.Dash, queries: Queries, settings: Settings | None = None) -> None:
    @app.callback([Output(i, p) for i, p in OUTPUTS], *REFRESH_INPUTS, *FILTER_INPUTS)
    def _refresh(_n: int, lang: str, route: dict[str, Any] | None, *controls: *FilterValues) -> tuple[Any, ...]:
        if not route or route.get("page") != PAGE:
            raise dash.exceptions.PreventUpdate
        filters = checked_filters(*controls, settings)
        return ordered(refresh(queries, route.get("province"), checked_lang(lang), filters), OUTPUTS)
