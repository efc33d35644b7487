"""Component ids shared by every page, and the overview page's static structure (no data, no callbacks).

Values start as "—" and labels in Chinese; the callbacks fill both in on the first tick, so a page
whose store is unreachable never shows a number it did not query. The frame around the pages (top
bar, controls, routing) is `cockpit.shell`.
"""

from __future__ import annotations

from dash import dcc, html

from cockpit.figures_map import china_map
from cockpit.i18n import DEFAULT_LANG, t

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
    KPIS = ("eps", "today", "rate", "hour", "peak", "sessions", "uniques")
    CHARTS = ("national", "platforms", "provinces", "sections", "abroad", "sessions")
    LISTS = ("surge", "alerts", "resources")  # HTML lists/tables: surge board, firing alerts, top resources
    SESSIONS_SUB = "chart-sessions-sub"
    UNAVAILABLE_KPIS: tuple[str, ...] = ()  # every KPI has its data source now
    UNAVAILABLE_PANELS: tuple[str, ...] = ()
    MAP = "chart-map"
    MAP_TITLE = "chart-map-title"
    # the shell
    URL = "url"
    ROUTE = "route"
    SHELL = "shell"
    CONTROLS = "controls"
    RANGE = "range"
    CUSTOM = "custom-range"
    REFRESH = "refresh-ms"
    PAUSE = "pause"
    PLATFORM = "platform"
    MEASURE = "map-measure"
    ROTATE = "rotate"
    FULLSCREEN = "fullscreen"
    PICKER_LANG = "picker-lang"
    AUTH = "auth-link"
    PAGES = ("overview", "province", "alerts", "report")

    @staticmethod
    def page(name: str) -> str:
        return f"page-{name}"

    @staticmethod
    def nav(name: str) -> str:
        return f"nav-{name}"

    @staticmethod
    def unavailable(name: str, part: str = "label") -> str:
        return f"na-{name}-{part}"

    @staticmethod
    def listing(name: str, part: str = "body") -> str:
        """`list-surge` (the body), `list-surge-title`."""
        return f"list-{name}" if part == "body" else f"list-{name}-{part}"

    @staticmethod
    def kpi(name: str, part: str = "value") -> str:
        """`kpi-today` (the number), `kpi-today-label`, `kpi-today-unit`, `kpi-today-sub`."""
        return f"kpi-{name}" if part == "value" else f"kpi-{name}-{part}"

    @staticmethod
    def chart(name: str, part: str = "graph") -> str:
        return f"chart-{name}" if part == "graph" else f"chart-{name}-{part}"


LOADING = ""  # a value before the first refresh: empty, drawn as a themed skeleton bar by the CSS


def placeholder() -> dict:
    """The figure every graph starts with: the dark theme, no axes, no text, so the first paint is
    never Plotly's white default axes (the first refresh replaces it)."""
    from cockpit.figures import message_figure

    return message_figure("").to_plotly_json()


def _kpi(name: str, lang: str) -> html.Div:
    return html.Div(
        className=f"kpi kpi-{name}",
        children=[
            html.Div(t(f"kpi_{name}", lang), id=Ids.kpi(name, "label"), className="kpi-label"),
            html.Div(
                className="kpi-figure",
                children=[
                    html.Span(LOADING, id=Ids.kpi(name), className="kpi-value"),
                    html.Span("", id=Ids.kpi(name, "unit"), className="kpi-unit"),
                ],
            ),
            html.Div("", id=Ids.kpi(name, "sub"), className="kpi-sub"),
        ],
    )


def _panel(name: str, lang: str, extra_class: str = "", sub: str | None = None) -> html.Div:
    return html.Div(
        className=f"panel {extra_class}".strip(),
        children=[
            html.H2(t(f"chart_{name}", lang), id=Ids.chart(name, "title"), className="panel-title"),
            *([html.Div("", id=sub, className="panel-sub")] if sub else []),
            html.Div(
                className="panel-body",
                children=dcc.Graph(
                    id=Ids.chart(name),
                    className="panel-graph",
                    style={"height": "100%"},
                    figure=placeholder(),
                    config={"displayModeBar": False, "responsive": True},
                ),
            ),
        ],
    )


def _unavailable_kpi(name: str, lang: str) -> html.Div:
    """A KPI whose data source does not exist yet: its label and a plain "not available" note."""
    return html.Div(
        className=f"kpi kpi-na kpi-{name}",
        children=[
            html.Div(t(f"kpi_{name}", lang), id=Ids.unavailable(name), className="kpi-label"),
            html.Div(t("unavailable", lang), id=Ids.unavailable(name, "value"), className="kpi-na-value"),
            html.Div(t("unavailable_kpi", lang), id=Ids.unavailable(name, "sub"), className="kpi-sub"),
        ],
    )


def _unavailable_panel(name: str, lang: str) -> html.Div:
    return html.Div(
        className=f"panel panel-na panel-{name}",
        children=[
            html.H2(t(f"panel_{name}", lang), id=Ids.unavailable(name), className="panel-title"),
            html.Div(t("unavailable_body", lang), id=Ids.unavailable(name, "body"), className="na-body"),
        ],
    )


def _list_panel(name: str, lang: str, extra_class: str = "") -> html.Div:
    """A panel of rows (the surge board, firing alerts, top resources), filled by the refresh."""
    return html.Div(
        className=f"panel panel-list panel-{name} {extra_class}".strip(),
        children=[
            html.H2(t(f"panel_{name}", lang), id=Ids.listing(name, "title"), className="panel-title"),
            html.Div(LOADING, id=Ids.listing(name), className="list-body"),
        ],
    )


def overview_page(lang: str = DEFAULT_LANG) -> html.Div:
    """The wall screen: KPIs, the China map beside the national line and platforms, rankings, the
    abroad and sessions panels, the surge board, firing alerts and top resources."""
    return html.Div(
        id=Ids.page("overview"),
        className="page",
        children=[
            html.Div(id=Ids.NOTICE, className="notice hidden"),
            html.Section(
                className="kpis",
                children=[
                    *[_kpi(name, lang) for name in Ids.KPIS],
                ],
            ),
            html.Section(
                className="grid grid-top",
                children=[
                    html.Div(
                        className="panel panel-map",
                        children=[
                            html.H2(t("chart_map", lang), id=Ids.MAP_TITLE, className="panel-title"),
                            html.Div(
                                className="panel-body",
                                children=dcc.Graph(
                                    id=Ids.MAP,
                                    className="panel-graph",
                                    style={"height": "100%"},
                                    figure=china_map({}, lang, "rate"),  # geometry once; refreshes patch values
                                    config={
                                        "displayModeBar": False,
                                        "responsive": True,
                                        "scrollZoom": False,
                                        "topojsonURL": "/assets/topojson/",
                                    },  # no CDN on the intranet
                                ),
                            ),
                        ],
                    ),
                    html.Div(
                        className="stack",
                        children=[
                            _panel("national", lang, "panel-wide"),
                            _panel("platforms", lang),
                        ],
                    ),
                ],
            ),
            html.Section(
                className="grid grid-bottom",
                children=[
                    _panel("provinces", lang),
                    _panel("sections", lang),
                    _panel("abroad", lang),
                    _panel("sessions", lang, sub=Ids.SESSIONS_SUB),
                ],
            ),
            html.Section(
                className="grid grid-lists",
                children=[
                    _list_panel("surge", lang),
                    _list_panel("alerts", lang),
                    _list_panel("resources", lang, "panel-resources-wide"),
                ],
            ),
        ],
    )
