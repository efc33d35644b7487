"""The page skeleton: component ids and static structure, no data and no callbacks.

Values start as "—" and labels in Chinese; the callbacks fill both in on the first tick, so a page
whose store is unreachable never shows a number it did not query.
"""
from __future__ import annotations

from dash import dcc, html

from cockpit.i18n import DEFAULT_LANG, t
from contracts.settings import Settings

DASH = "—"


class Ids:
    """Component ids, shared by the layout, the callbacks and the browser tests."""

    TICK = "tick"
    LANG = "lang"
    TITLE = "title"
    SUBTITLE = "subtitle"
    EVENT_NOW_LABEL = "event-now-label"
    EVENT_NOW = "event-now"
    BEIJING = "beijing-label"
    STATUS = "status"
    NOTICE = "notice"
    REFRESHED = "refreshed"
    FOOTER = "footer-text"
    KPIS = ("today", "rate", "hour", "peak")
    CHARTS = ("national", "platforms", "provinces", "sections")

    @staticmethod
    def kpi(name: str, part: str = "value") -> str:
        """`kpi-today` (the number), `kpi-today-label`, `kpi-today-unit`, `kpi-today-sub`."""
        return f"kpi-{name}" if part == "value" else f"kpi-{name}-{part}"

    @staticmethod
    def chart(name: str, part: str = "graph") -> str:
        return f"chart-{name}" if part == "graph" else f"chart-{name}-{part}"


def _kpi(name: str, lang: str) -> html.Div:
    return html.Div(className=f"kpi kpi-{name}", children=[
        html.Div(t(f"kpi_{name}", lang), id=Ids.kpi(name, "label"), className="kpi-label"),
        html.Div(className="kpi-figure", children=[
            html.Span(DASH, id=Ids.kpi(name), className="kpi-value"),
            html.Span("", id=Ids.kpi(name, "unit"), className="kpi-unit"),
        ]),
        html.Div("", id=Ids.kpi(name, "sub"), className="kpi-sub"),
    ])


def _panel(name: str, lang: str, extra_class: str = "") -> html.Div:
    return html.Div(className=f"panel {extra_class}".strip(), children=[
        html.H2(t(f"chart_{name}", lang), id=Ids.chart(name, "title"), className="panel-title"),
        html.Div(className="panel-body", children=dcc.Graph(
            id=Ids.chart(name), className="panel-graph", style={"height": "100%"},
            config={"displayModeBar": False, "responsive": True},
        )),
    ])


def build_layout(settings: Settings, lang: str = DEFAULT_LANG) -> html.Div:
    """The overview page; refreshes itself every `cockpit_refresh_ms`."""
    return html.Div(className="cockpit", children=[
        html.Header(className="topbar", children=[
            html.Div(className="brand", children=[
                html.Div(className="brand-mark"),
                html.Div(children=[
                    html.H1(t("title", lang), id=Ids.TITLE),
                    html.Div(t("subtitle", lang), id=Ids.SUBTITLE, className="subtitle"),
                ]),
            ]),
            html.Div(className="topbar-right", children=[
                html.Div(className="clock", children=[
                    html.Span(t("event_now", lang), id=Ids.EVENT_NOW_LABEL, className="clock-label"),
                    html.Span(DASH, id=Ids.EVENT_NOW, className="clock-value"),
                    html.Span(t("beijing", lang), id=Ids.BEIJING, className="clock-zone"),
                ]),
                html.Span(DASH, id=Ids.STATUS, className="status status-pending"),
                dcc.RadioItems(
                    id=Ids.LANG,
                    options=[{"label": "中文", "value": "zh"}, {"label": "EN", "value": "en"}],
                    value=lang, inline=True, persistence=True, persistence_type="local",
                    className="lang-switch", inputClassName="lang-input", labelClassName="lang-option",
                ),
            ]),
        ]),
        html.Div(id=Ids.NOTICE, className="notice hidden"),
        html.Section(className="kpis", children=[_kpi(name, lang) for name in Ids.KPIS]),
        html.Section(className="grid grid-top", children=[
            _panel("national", lang, "panel-wide"),
            _panel("platforms", lang),
        ]),
        html.Section(className="grid grid-bottom", children=[
            _panel("provinces", lang),
            _panel("sections", lang),
        ]),
        html.Footer(className="footer", children=[
            html.Span(t("footer", lang), id=Ids.FOOTER),
            html.Span("", id=Ids.REFRESHED),
        ]),
        dcc.Interval(id=Ids.TICK, interval=settings.cockpit_refresh_ms, n_intervals=0),
    ])
