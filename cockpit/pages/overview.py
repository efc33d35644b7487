"""The overview (`/`), the wall screen: KPIs, the China map beside the national line and platforms,
rankings, the abroad and sessions panels, the surge board, firing alerts and top resources.

`load_overview` reads one refresh's data through the named queries, every window derived from the
event-time "now" (the latest stored minute), never from the wall clock; `render_*` turn it into
{(component id, property): value} with no SQL and no Dash state, so tests call them directly. The
map has its own callback, so its first, heavy draw never holds up the KPIs.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import dash
from dash import Input, Output, dcc, html

from cockpit import figures, header, panels
from cockpit.alert_log import (
    ACTIVE_STATES,
    AlertChange,
    AlertNow,
    alerts_end,
    chart_episodes,
    parse_current,
    parse_history,
)
from cockpit.figures_map import china_map, map_patch
from cockpit.filters import Filters
from cockpit.i18n import alert_name, fmt_approx, fmt_change, fmt_int, fmt_per_second, t
from cockpit.layout import DASH, LOADING, Ids, placeholder
from cockpit.metrics import CockpitMetrics
from cockpit.pages.common import FILTER_INPUTS, REFRESH_INPUTS, FilterValues, Key, ordered
from cockpit.params import checked_filters, checked_lang, checked_measure
from cockpit.queries import Queries, TopResource
from cockpit.seasonal import load_baseline
from cockpit.series import peak_point, rate_point
from cockpit.surge import load_surge, surging
from cockpit.timeframe import DAY, MINUTE, Span, Windows, fmt_datetime, fmt_minute, windows
from contracts.settings import Settings

log = logging.getLogger(__name__)

PAGE = "overview"
KPIS = ("eps", "today", "rate", "hour", "peak", "sessions", "uniques")
CHARTS = ("national", "platforms", "provinces", "sections", "abroad", "sessions")
LISTS = ("surge", "alerts", "resources")  # HTML lists/tables: surge board, firing alerts, top resources
SESSIONS_SUB = "chart-sessions-sub"
MAP_TITLE = "chart-map-title"
TOP_RESOURCES = 10
TOP_COUNTRIES = 10
SPARK_MINUTES = 30
SURGE = "TrafficSurge"


# -- layout: values start as LOADING and labels in Chinese; the first tick fills both in ----------


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


def _list_panel(name: str, lang: str, extra_class: str = "") -> html.Div:
    """A panel of rows (the surge board, firing alerts, top resources), filled by the refresh."""
    return html.Div(
        className=f"panel panel-list panel-{name} {extra_class}".strip(),
        children=[
            html.H2(t(f"panel_{name}", lang), id=Ids.listing(name, "title"), className="panel-title"),
            html.Div(LOADING, id=Ids.listing(name), className="list-body"),
        ],
    )


def layout(lang: str) -> html.Div:
    return html.Div(
        id=Ids.page(PAGE),
        className="page",
        children=[
            html.Div(id=Ids.NOTICE, className="notice hidden"),
            html.Section(
                className="kpis",
                children=[
                    *[_kpi(name, lang) for name in KPIS],
                ],
            ),
            html.Section(
                className="grid grid-top",
                children=[
                    html.Div(
                        className="panel panel-map",
                        children=[
                            html.H2(t("chart_map", lang), id=MAP_TITLE, className="panel-title"),
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
                    _panel("sessions", lang, sub=SESSIONS_SUB),
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


# -- loaders: plain data from the named queries ----------------------------------------------------


@dataclass(frozen=True)
class Overview:
    win: Windows
    span: Span
    series: list[tuple[int, int]]  # (bucket, events) over the chosen span, as stored
    hour_series: list[tuple[int, int]]  # per minute, last hour: rate and peak come from it
    today_total: int
    late_today: int
    hour_total: int
    span_total: int
    rate_minute: int  # the minute whose count is shown as the current rate
    rate: int
    peak_minute: int
    peak: int
    today_yesterday: int  # yesterday from 00:00 up to the same time of day
    today_last_week: int  # the same day of last week, up to the same time
    rate_yesterday: int  # the same minute yesterday
    by_platform: dict[str, int]  # over the span
    by_province: dict[str, int]  # over the span
    by_section: dict[str, int]  # over the span
    map_rate: dict[str, int]  # per province in `rate_minute`
    # from the storage layer's own named queries (all platforms: they take no platform filter)
    eps: tuple[int, float] | None = None  # (minute, events per second) of the last full minute: rate / 60
    active_sessions: int = 0  # unique sessions with any event in `rate_minute`
    active_sessions_yesterday: int = 0  # the same minute yesterday
    uniques_today: int = 0  # unique users today so far
    uniques_yesterday: int = 0  # yesterday up to the same time
    uniques_last_week: int = 0  # the same day last week up to the same time
    sessions: dict[str, float] = field(default_factory=dict)  # `sessions_between` over the span
    top_resources: list[TopResource] = field(default_factory=list)  # over the span
    countries: list[tuple[str, int]] = field(default_factory=list)  # abroad, over the span
    alerts: list[AlertNow] = field(default_factory=list)  # each alert's current state
    alert_marks: list[AlertChange] = field(default_factory=list)  # alerts that started firing in the span
    history: list[AlertChange] = field(default_factory=list)  # every logged change in the span (annotations)
    platform: str | None = None  # the platform filter the click measures follow (None: all)
    sparks: dict[str, list[int]] = field(default_factory=dict)  # surge board provinces: last 30 minutes
    # the span one..BASELINE_WEEKS weeks earlier, buckets moved onto the span's (`seasonal.load_baseline`)
    baseline: list[list[tuple[int, int]]] | None = None


def per_second_now(rate_minute: int, rate: int) -> tuple[int, float]:
    """The one "events per second now" of the cockpit: the last full minute's events / 60, so the
    KPI, the per-minute rate and the line always agree (10 s tiles jumped with their own noise)."""
    return rate_minute, rate / 60.0


def surge_board(alerts: Iterable[AlertNow]) -> list[AlertNow]:
    """Provinces whose current alert is a TrafficSurge (firing or pending), highest ratio first.

    One row per province (its highest-ratio surge); alerts without a ratio rank last, then by code.
    """
    best: dict[str, AlertNow] = {}
    for a in alerts:
        code = a.province
        if a.alertname != SURGE or a.state not in ACTIVE_STATES or not code:
            continue
        held = best.get(code)
        if held is None or (a.ratio or -1.0) > (held.ratio or -1.0):
            best[code] = a
    return sorted(best.values(), key=lambda a: (a.ratio is None, -(a.ratio or 0.0), a.province or ""))


def load_sparklines(q: Queries, codes: Iterable[str], now: int) -> dict[str, list[int]]:
    """Per division, events in each of the last SPARK_MINUTES minutes up to `now` (0 where a minute
    stored nothing: the store holds every minute since the first of the window for the nation)."""
    wanted = set(codes)
    if not wanted:
        return {}
    start, end = now - (SPARK_MINUTES - 1) * MINUTE, now + MINUTE
    per: dict[str, dict[int, int]] = {c: {} for c in wanted}
    for ts, code, n in q.province_minutes(start, end):
        if code in per:
            per[code][ts] = per[code].get(ts, 0) + n
    return {c: [per[c].get(ts, 0) for ts in range(start, end, MINUTE)] for c in wanted}


def load_overview(q: Queries, filters: Filters | None = None) -> Overview | None:
    """One refresh's data, or None while the store holds no clicks (the page then says so)."""
    f = filters or Filters()
    now = q.latest_minute()
    if now is None:
        return None
    w, span, pf = windows(now), f.span(now), f.platform
    hour_series = q.series(w.hour_start, w.hour_end, platform=pf)
    series = (
        hour_series
        if (span.start, span.end, span.step) == (w.hour_start, w.hour_end, MINUTE)
        else q.series(span.start, span.end, span.step, platform=pf)
    )
    rate_minute, rate = rate_point(hour_series, w.now)
    peak_minute, peak = peak_point(hour_series)
    end = alerts_end(w.now)
    users_today, _ = q.uniques_between(w.day_start, w.day_end)
    _, active = q.uniques_between(rate_minute, rate_minute + MINUTE)
    history = parse_history(q.alerts_history(span.start, min(span.end, end), 500))
    marks = [c for c in history if c.kind == "state" and c.new_state == "firing"]
    alerts = parse_current(q.alerts_current(end))
    sparks = load_sparklines(q, [a.province for a in surge_board(alerts) if a.province], w.now)
    return Overview(
        win=w,
        span=span,
        series=series,
        hour_series=hour_series,
        today_total=q.total_between(w.day_start, w.day_end, platform=pf),
        late_today=q.late_total_between(w.day_start, w.day_end, platform=pf),
        hour_total=sum(n for _, n in hour_series),
        span_total=q.total_between(span.start, span.end, platform=pf),
        rate_minute=rate_minute,
        rate=rate,
        peak_minute=peak_minute,
        peak=peak,
        today_yesterday=q.total_between(w.day_start - DAY, w.hour_end - DAY, platform=pf),
        today_last_week=q.total_between(w.day_start - 7 * DAY, w.hour_end - 7 * DAY, platform=pf),
        rate_yesterday=q.total_between(rate_minute - DAY, rate_minute - DAY + MINUTE, platform=pf),
        by_platform=q.total_by_platform(span.start, span.end, platform=pf),
        by_province=q.total_by_province(span.start, span.end, platform=pf),
        by_section=q.total_by_section(span.start, span.end, platform=pf),
        map_rate=q.total_by_province(rate_minute, rate_minute + MINUTE, platform=pf),
        eps=per_second_now(rate_minute, rate),
        active_sessions=active,
        active_sessions_yesterday=q.uniques_between(rate_minute - DAY, rate_minute - DAY + MINUTE)[1],
        uniques_today=users_today,
        uniques_yesterday=q.uniques_between(w.day_start - DAY, w.hour_end - DAY)[0],
        uniques_last_week=q.uniques_between(w.day_start - 7 * DAY, w.hour_end - 7 * DAY)[0],
        sessions=q.sessions_between(span.start, span.end),
        top_resources=q.top_resources(span.start, span.end, TOP_RESOURCES),
        countries=q.countries_between(span.start, span.end, TOP_COUNTRIES),
        alerts=alerts,
        alert_marks=marks,
        history=history,
        platform=pf,
        sparks=sparks,
        baseline=load_baseline(q, span, pf),
    )


def load_map_values(q: Queries, filters: Filters | None = None, measure: str = "rate") -> dict[str, float] | None:
    """Per-division values of a map measure: events in the last full minute ("rate"), in the chosen
    span ("total"), or the surge ratio against the seasonal baseline ("surge": only divisions that
    have a baseline; {} when none has). None while the store is empty."""
    f = filters or Filters()
    now = q.latest_minute()
    if now is None:
        return None
    if measure == "total":
        span = f.span(now)
        return dict(q.total_by_province(span.start, span.end, platform=f.platform))
    if measure == "surge":
        return dict(load_surge(q, now, f.platform))
    if measure != "rate":
        return {}
    w = windows(now)
    rate_minute, _ = rate_point(q.series(w.hour_start, w.hour_end, platform=f.platform), w.now)
    return dict(q.total_by_province(rate_minute, rate_minute + MINUTE, platform=f.platform))


# -- render: {(component id, property): value}; anything a render does not set stays as it is ------

LABEL_OUTPUTS: tuple[tuple[Key, str], ...] = (
    *(((Ids.kpi(k, "label"), "children"), f"kpi_{k}") for k in KPIS),
    *(((Ids.chart(c, "title"), "children"), f"chart_{c}") for c in CHARTS),
    ((MAP_TITLE, "children"), "chart_map"),
    *(((Ids.listing(n, "title"), "children"), f"panel_{n}") for n in LISTS),
)

# The header rides on the overview's tick (`cockpit.header`): on the other pages only it is set.
DATA_OUTPUTS: tuple[Key, ...] = (
    *header.OUTPUTS,
    *((Ids.kpi(k, part), "children") for k in KPIS for part in ("value", "unit", "sub")),
    *((Ids.chart(c), "figure") for c in CHARTS),
    *((Ids.listing(n), "children") for n in LISTS),
    (SESSIONS_SUB, "children"),
)

MAP_OUTPUTS: tuple[Key, ...] = ((Ids.MAP, "figure"),)


def render_labels(lang: str) -> dict[Key, Any]:
    return {key: t(label, lang) for key, label in LABEL_OUTPUTS}


def render_map(values: Mapping[str, float], lang: str, measure: str, hot: list[str] | None = None) -> dict[Key, Any]:
    """A patch of the map the layout drew: the geometry crosses the wire once per page load.
    `hot`: surging divisions, ringed and named on every measure."""
    return {(Ids.MAP, "figure"): map_patch(values, lang, measure, hot or [])}


def _compare(current: int, earlier: int, key: str, lang: str) -> str:
    change = fmt_change(current, earlier)
    return f"{t(key, lang)} {change}" if change is not None else f"{t(key, lang)} {t('no_comparison', lang)}"


def render_overview(ov: Overview, lang: str, status: str = "live") -> dict[Key, Any]:
    """Every number shown comes from `ov`, which `load_overview` filled from named queries."""
    w = ov.win
    today_sub = " · ".join(
        [
            fmt_approx(ov.today_total, lang),
            _compare(ov.today_total, ov.today_yesterday, "vs_yesterday", lang),
            _compare(ov.today_total, ov.today_last_week, "vs_last_week", lang),
        ]
    )
    if ov.late_today:
        today_sub += " · " + t("late_note", lang).format(n=fmt_int(ov.late_today))
    kpis = {
        "today": (fmt_int(ov.today_total), "", today_sub),
        "rate": (
            fmt_int(ov.rate),
            t("per_min", lang),
            f"{fmt_minute(ov.rate_minute)} · {fmt_per_second(ov.rate)} {t('per_s', lang)} · "
            + _compare(ov.rate, ov.rate_yesterday, "vs_yesterday", lang),
        ),
        "hour": (fmt_int(ov.hour_total), "", f"{fmt_minute(w.hour_start)}–{fmt_minute(w.now)}"),
        "peak": (fmt_int(ov.peak), t("per_min", lang), fmt_minute(ov.peak_minute)),
        # from the storage layer's own tables: all platforms whatever the filter, and said so
        "eps": _eps(ov, lang),
        "sessions": (
            fmt_int(ov.active_sessions),
            "",
            _all(
                ov,
                lang,
                f"{t('sessions_sub', lang).format(time=fmt_minute(ov.rate_minute))} · "
                + _compare(ov.active_sessions, ov.active_sessions_yesterday, "vs_yesterday", lang),
            ),
        ),
        "uniques": (
            fmt_int(ov.uniques_today),
            "",
            _all(
                ov,
                lang,
                " · ".join(
                    [
                        _compare(ov.uniques_today, ov.uniques_yesterday, "vs_yesterday", lang),
                        _compare(ov.uniques_today, ov.uniques_last_week, "vs_last_week", lang),
                    ]
                ),
            ),
        ),
    }
    out: dict[Key, Any] = {(Ids.EVENT_NOW, "children"): fmt_datetime(w.now)}
    for name, (value, unit, sub) in kpis.items():
        out[(Ids.kpi(name), "children")] = value
        out[(Ids.kpi(name, "unit"), "children")] = unit
        out[(Ids.kpi(name, "sub"), "children")] = sub
    span = ov.span
    marks = [(c.at, f"{alert_name(c.alertname, lang)} · {panels.scope(c.labels, lang)}") for c in ov.alert_marks]
    episodes, actions = chart_episodes(ov.history, w.hour_end)
    out[(Ids.chart("national"), "figure")] = figures.national_line(
        ov.series,
        lang,
        span.start,
        min(w.now, span.end - span.step),
        span.step,
        marks,
        baseline=ov.baseline,
        partial=figures.partial_bucket(span.start, span.step, w.now, span.end),
        notes=figures.ChartNotes(episodes, actions),
    )
    out[(Ids.chart("platforms"), "figure")] = figures.platform_bars(ov.by_platform, lang)
    out[(Ids.chart("provinces"), "figure")] = figures.province_bars(ov.by_province, lang)
    out[(Ids.chart("sections"), "figure")] = figures.section_bars(ov.by_section, lang)
    out[(Ids.chart("abroad"), "figure")] = figures.country_bars(ov.countries, lang)
    out[(Ids.chart("sessions"), "figure")] = figures.duration_histogram(ov.sessions, lang)
    out[(SESSIONS_SUB, "children")] = _all(ov, lang, sessions_line(ov.sessions, lang))
    out[(Ids.listing("surge"), "children")] = panels.surge_list(surge_board(ov.alerts), lang, ov.sparks)
    out[(Ids.listing("alerts"), "children")] = panels.alerts_list(ov.alerts, lang)
    out[(Ids.listing("resources"), "children")] = panels.resources_table(ov.top_resources, lang)
    return out | header.status(status, lang) | header.notice("stale" if status == "stale" else None, lang)


def _all(ov: Overview, lang: str, text: str) -> str:
    """Measures without a platform breakdown say so while a platform filter is on."""
    return f"{text} · {t('all_platforms_note', lang)}" if ov.platform else text


def _eps(ov: Overview, lang: str) -> tuple[str, str, str]:
    if ov.eps is None:
        return DASH, "", ""
    minute, per_s = ov.eps
    value = f"{per_s:,.0f}" if per_s >= 100 else f"{per_s:,.1f}"
    return value, t("per_s", lang), t("eps_sub", lang).format(time=fmt_minute(minute))


def sessions_line(s: dict[str, float], lang: str) -> str:
    """Started / ended over the span, and the average length of the sessions that ended."""
    started, ended = int(s.get("started", 0)), int(s.get("ended", 0))
    avg = s.get("duration_s", 0.0) / ended if ended else None
    avg_text = DASH if avg is None else (f"{avg / 60:.1f} 分钟" if lang != "en" else f"{avg / 60:.1f} min")
    return (
        f"{t('sessions_started', lang)} {fmt_int(started)} · {t('sessions_ended', lang)} {fmt_int(ended)}"
        f" · {t('sessions_avg', lang)} {avg_text}"
    )


def render_empty(lang: str) -> dict[Key, Any]:
    """The store has no clicks yet: say so, and show no number at all."""
    out: dict[Key, Any] = {(Ids.EVENT_NOW, "children"): DASH}
    for name in KPIS:
        out[(Ids.kpi(name), "children")] = DASH
        out[(Ids.kpi(name, "unit"), "children")] = ""
        out[(Ids.kpi(name, "sub"), "children")] = ""
    for chart in CHARTS:
        out[(Ids.chart(chart), "figure")] = figures.message_figure(t("no_data_title", lang))
    for name in LISTS:
        out[(Ids.listing(name), "children")] = panels.empty(t("no_data_title", lang))
    out[(SESSIONS_SUB, "children")] = ""
    return out | header.status("empty", lang) | header.notice("no_data", lang)


# -- refresh: load and render, or the empty page, or the error state -------------------------------


def refresh_map(
    queries: Queries, lang: str, filters: Filters | None = None, measure: str = "rate", threshold: float = 2.0
) -> dict[Key, Any]:
    """The map's own tick (its own callback, so the first, heavy draw never holds up the KPIs)."""
    try:
        values = load_map_values(queries, filters, measure)
        now = queries.latest_minute()
        pf = (filters or Filters()).platform
        hot = surging(load_surge(queries, now, pf), threshold) if now is not None else []
    except Exception:
        log.exception("cockpit map refresh failed")
        return {}
    return render_map(values or {}, lang, measure, hot)


def refresh(
    queries: Queries,
    lang: str,
    clock: header.Clock,
    metrics: CockpitMetrics | None = None,
    *,
    filters: Filters | None = None,
    stale_after_s: float = 180.0,
) -> dict[Key, Any]:
    """One tick: load the overview and render it, the empty page, or the error state."""
    try:
        ov = load_overview(queries, filters)
    except Exception:
        log.exception("cockpit refresh failed")
        outcome, out = "error", header.render_error(lang)
    else:
        if ov is None:
            outcome, out = "empty", render_empty(lang)
        else:
            outcome, out = "ok", render_overview(ov, lang, header.freshness(ov.win.now, clock(), stale_after_s))
            if metrics is not None:
                metrics.event_now.set(ov.win.now)
    if metrics is not None:
        metrics.refreshes.labels(outcome).inc()
    return out | header.refreshed(clock, lang)


def register(
    app: dash.Dash,
    queries: Queries,
    clock: header.Clock,
    metrics: CockpitMetrics | None,
    settings: Settings,
) -> None:
    stale_after_s = settings.cockpit_stale_after_s
    label_keys = tuple(key for key, _ in LABEL_OUTPUTS)

    @app.callback([Output(i, p) for i, p in label_keys], Input(Ids.LANG, "value"))
    def _labels(lang: str) -> tuple[Any, ...]:
        return ordered(render_labels(lang), label_keys)

    @app.callback([Output(i, p) for i, p in DATA_OUTPUTS], *REFRESH_INPUTS, *FILTER_INPUTS)
    def _refresh(_n: int, lang: str, route: dict[str, Any] | None, *controls: *FilterValues) -> tuple[Any, ...]:
        if not route:
            raise dash.exceptions.PreventUpdate
        if route.get("page") != PAGE:  # hidden: only the header is refreshed
            return ordered(header.refresh_shell(queries, lang, clock, stale_after_s), DATA_OUTPUTS)
        filters = checked_filters(*controls, settings)
        return ordered(
            refresh(queries, checked_lang(lang), clock, metrics, filters=filters, stale_after_s=stale_after_s),
            DATA_OUTPUTS,
        )

    @app.callback([Output(i, p) for i, p in MAP_OUTPUTS], *REFRESH_INPUTS, *FILTER_INPUTS, Input(Ids.MEASURE, "value"))
    def _map(
        _n: int,
        lang: str,
        route: dict[str, Any] | None,
        range_: str | None,
        c0: str | None,
        c1: str | None,
        platform: str | None,
        measure: str | None,
    ) -> tuple[Any, ...]:
        if not route or route.get("page") != PAGE:
            raise dash.exceptions.PreventUpdate
        filters = checked_filters(range_, c0, c1, platform, settings)
        threshold = settings.cockpit_surge_highlight
        return ordered(
            refresh_map(queries, checked_lang(lang), filters, checked_measure(measure), threshold), MAP_OUTPUTS
        )
