"""The frame around every page: top bar, controls, routing targets, the refresh and rotation timers.

All pages stay in the DOM and routing only shows one (`cockpit.routing`), so every callback's
inputs and outputs always exist: no "nonexistent object" errors in the console, and a page's
callbacks skip their queries while it is hidden.
"""

from __future__ import annotations

from dash import dcc, html
from dash.development.base_component import Component

from cockpit.i18n import DEFAULT_LANG, t
from cockpit.layout import LOADING, Ids
from cockpit.pages import alerts, overview, province, report
from cockpit.pages.common import picker_texts
from cockpit.rehearsal import layout as rehearsal_layout
from cockpit.timeframe import DEFAULT_RANGE, RANGES
from contracts.geo import PLATFORMS
from contracts.settings import Settings

REFRESH_CHOICES_MS: tuple[int, ...] = (2000, 5000, 10000, 30000, 60000)
MEASURE_CHOICES: tuple[str, ...] = ("rate", "total", "surge")


def range_options(lang: str) -> list[dict[str, str]]:
    return [{"label": t(f"range_{r}", lang), "value": r} for r in RANGES]


def platform_options(lang: str) -> list[dict[str, str]]:
    from cockpit.i18n import platform_name

    return [{"label": t("platform_all", lang), "value": ""}] + [
        {"label": platform_name(p, lang), "value": p} for p in PLATFORMS
    ]


def measure_options(lang: str) -> list[dict[str, str]]:
    return [{"label": t(f"measure_{m}", lang), "value": m} for m in MEASURE_CHOICES]


def refresh_options(settings: Settings) -> list[dict[str, object]]:
    choices = sorted({settings.cockpit_refresh_ms, *REFRESH_CHOICES_MS})
    return [{"label": f"{ms / 1000:g} s", "value": ms} for ms in choices]


# The extension point for pieces shown above the top bar on every page (a rehearsal banner, a
# maintenance notice): functions of (settings, lang) returning a component or None. Each keeps its
# own ids and callbacks; the shell only places them.
TOP_HOOKS: list = []


def top_pieces(settings: Settings, lang: str) -> list:
    return [piece for hook in TOP_HOOKS if (piece := hook(settings, lang)) is not None]


def _control(label_key: str, child: Component, lang: str) -> html.Div:
    return html.Div(
        className="control",
        children=[html.Span(t(label_key, lang), id=f"lbl-{label_key}", className="control-label"), child],
    )


def controls(settings: Settings, lang: str) -> html.Div:
    return html.Div(
        id=Ids.CONTROLS,
        className="controls",
        children=[
            _control(
                "ctl_range",
                dcc.RadioItems(
                    id=Ids.RANGE,
                    options=range_options(lang),
                    value=DEFAULT_RANGE,
                    inline=True,
                    className="seg",
                    labelClassName="seg-option",
                    persistence=True,
                    persistence_type="session",
                ),
                lang,
            ),
            dcc.DatePickerRange(
                id=Ids.CUSTOM,
                display_format="YYYY-MM-DD",
                className="custom-range",
                style={"display": "none"},
                **picker_texts(lang),
            ),
            _control(
                "ctl_platform",
                dcc.Dropdown(
                    id=Ids.PLATFORM,
                    options=platform_options(lang),
                    value="",
                    clearable=False,
                    searchable=False,
                    className="dropdown",
                    persistence=True,
                    persistence_type="session",
                ),
                lang,
            ),
            _control(
                "ctl_measure",
                dcc.Dropdown(
                    id=Ids.MEASURE,
                    options=measure_options(lang),
                    value="rate",
                    clearable=False,
                    searchable=False,
                    className="dropdown dropdown-wide",
                ),
                lang,
            ),
            _control(
                "ctl_refresh",
                dcc.Dropdown(
                    id=Ids.REFRESH,
                    options=refresh_options(settings),
                    value=settings.cockpit_refresh_ms,
                    clearable=False,
                    searchable=False,
                    className="dropdown dropdown-narrow",
                    persistence=True,
                    persistence_type="local",
                ),
                lang,
            ),
            dcc.Checklist(
                id=Ids.PAUSE,
                options=[{"label": t("ctl_pause", lang), "value": "paused"}],
                value=[],
                className="pause",
                labelClassName="pause-option",
            ),
            html.A(t("wall_mode", lang), id="wall-link", href="/?wall=1", className="wall-link"),
        ],
    )


def _nav(lang: str) -> html.Nav:
    return html.Nav(
        className="nav",
        children=[
            dcc.Link(t("nav_overview", lang), id=Ids.nav("overview"), href="/", className="nav-link"),
            dcc.Link(t("nav_alerts", lang), id=Ids.nav("alerts"), href="/alerts", className="nav-link"),
            dcc.Link(t("nav_report", lang), id=Ids.nav("report"), href="/report", className="nav-link"),
        ],
    )


def build_layout(settings: Settings, lang: str = DEFAULT_LANG) -> html.Div:
    """The whole app: every page present, one shown; refreshes every `cockpit_refresh_ms`."""
    rotate_ms = int(getattr(settings, "cockpit_rotate_s", 30) * 1000)
    return html.Div(
        id=Ids.SHELL,
        className="cockpit",
        children=[
            dcc.Location(id=Ids.URL, refresh=False),
            dcc.Store(id=Ids.ROUTE),
            dcc.Store(id=Ids.PICKER_LANG),  # the language the date pickers were last given
            *top_pieces(settings, lang),
            html.Header(
                className="topbar",
                children=[
                    html.Div(
                        className="brand",
                        children=[
                            html.Div(className="brand-mark"),
                            html.Div(
                                children=[
                                    html.H1(t("title", lang), id=Ids.TITLE),
                                    html.Div(t("subtitle", lang), id=Ids.SUBTITLE, className="subtitle"),
                                ]
                            ),
                        ],
                    ),
                    _nav(lang),
                    html.Div(
                        className="topbar-right",
                        children=[
                            html.Div(
                                className="clock",
                                children=[
                                    html.Span(t("event_now", lang), id=Ids.EVENT_NOW_LABEL, className="clock-label"),
                                    html.Span(LOADING, id=Ids.EVENT_NOW, className="clock-value"),
                                    html.Span(t("beijing", lang), id=Ids.BEIJING, className="clock-zone"),
                                ],
                            ),
                            html.Span(LOADING, id=Ids.STATUS, className="status status-pending"),
                            dcc.RadioItems(
                                id=Ids.LANG,
                                options=[{"label": "中文", "value": "zh"}, {"label": "EN", "value": "en"}],
                                value=lang,
                                inline=True,
                                persistence=True,
                                persistence_type="local",
                                className="lang-switch",
                                inputClassName="lang-input",
                                labelClassName="lang-option",
                            ),
                            html.A(t("login", lang), id=Ids.AUTH, href="/login", className="auth-link"),
                            html.Button(
                                t("fullscreen", lang), id=Ids.FULLSCREEN, className="fullscreen-btn", n_clicks=0
                            ),
                        ],
                    ),
                ],
            ),
            *rehearsal_layout(),  # issue 15: the rehearsal banner and the late/refused strip, every page
            controls(settings, lang),
            html.Main(
                className="pages",
                children=[
                    overview.layout(lang),
                    province.layout(lang),
                    alerts.layout(lang),
                    report.layout(lang),
                ],
            ),
            html.Footer(
                className="footer",
                children=[
                    html.Span(t("footer", lang), id=Ids.FOOTER),
                    html.Span("", id=Ids.REFRESHED),
                ],
            ),
            dcc.Interval(id=Ids.TICK, interval=settings.cockpit_refresh_ms, n_intervals=0),
            dcc.Interval(id=Ids.ROTATE, interval=rotate_ms, n_intervals=0, disabled=True),
        ],
    )
