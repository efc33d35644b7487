"""The overview's callbacks as plain functions of (data, language, controls, clock), wired to Dash in
`register_callbacks`, which also registers the shell's and the other pages' callbacks.

`render_*` functions turn a snapshot into {(component id, property): value}; they hold no SQL and no
Dash state, so tests call them directly. The Dash wrappers only map those dicts onto outputs, leaving
anything a render does not set untouched (on a store error the last good figures stay up).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

import dash
from dash import Input, Output

from cockpit import figures, panels, routing
from cockpit.figures_map import map_patch
from cockpit.i18n import alert_name, fmt_approx, fmt_change, fmt_int, fmt_per_second, t
from cockpit.layout import DASH, Ids
from cockpit.metrics import CockpitMetrics
from cockpit.params import checked_filters, checked_lang, checked_measure
from cockpit.queries import Queries
from cockpit.shell import measure_options, platform_options, range_options
from cockpit.snapshots import (
    Filters,
    Overview,
    chart_episodes,
    freshness,
    load_map_values,
    load_overview,
    load_surge,
    surge_board,
    surging,
)
from cockpit.timeframe import fmt_datetime, fmt_minute, to_beijing
from contracts.settings import Settings

log = logging.getLogger(__name__)

Key = tuple[str, str]
Clock = Callable[[], float]

LABEL_OUTPUTS: tuple[tuple[Key, str], ...] = (
    ((Ids.TITLE, "children"), "title"),
    ((Ids.SUBTITLE, "children"), "subtitle"),
    ((Ids.EVENT_NOW_LABEL, "children"), "event_now"),
    ((Ids.BEIJING, "children"), "beijing"),
    ((Ids.FOOTER, "children"), "footer"),
    *(((Ids.kpi(k, "label"), "children"), f"kpi_{k}") for k in Ids.KPIS),
    *(((Ids.chart(c, "title"), "children"), f"chart_{c}") for c in Ids.CHARTS),
    ((Ids.MAP_TITLE, "children"), "chart_map"),
    *(((Ids.listing(n, "title"), "children"), f"panel_{n}") for n in Ids.LISTS),
    *(((Ids.unavailable(k), "children"), f"kpi_{k}") for k in Ids.UNAVAILABLE_KPIS),
    *(((Ids.unavailable(k, "value"), "children"), "unavailable") for k in Ids.UNAVAILABLE_KPIS),
    *(((Ids.unavailable(k, "sub"), "children"), "unavailable_kpi") for k in Ids.UNAVAILABLE_KPIS),
    *(((Ids.unavailable(k), "children"), f"panel_{k}") for k in Ids.UNAVAILABLE_PANELS),
    *(((Ids.unavailable(k, "body"), "children"), "unavailable_body") for k in Ids.UNAVAILABLE_PANELS),
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

MAP_OUTPUTS: tuple[Key, ...] = ((Ids.MAP, "figure"),)

DATA_OUTPUTS: tuple[Key, ...] = (
    (Ids.EVENT_NOW, "children"),
    (Ids.STATUS, "children"),
    (Ids.STATUS, "className"),
    (Ids.NOTICE, "children"),
    (Ids.NOTICE, "className"),
    (Ids.REFRESHED, "children"),
    *((Ids.kpi(k, part), "children") for k in Ids.KPIS for part in ("value", "unit", "sub")),
    *((Ids.chart(c), "figure") for c in Ids.CHARTS),
    *((Ids.listing(n), "children") for n in Ids.LISTS),
    (Ids.SESSIONS_SUB, "children"),
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


def render_map(values: Mapping[str, float], lang: str, measure: str, hot: list[str] | None = None) -> dict[Key, Any]:
    """A patch of the map the layout drew: the geometry crosses the wire once per page load.
    `hot`: surging divisions, ringed and named on every measure."""
    return {(Ids.MAP, "figure"): map_patch(values, lang, measure, hot or [])}


def _compare(current: int, earlier: int, key: str, lang: str) -> str:
    change = fmt_change(current, earlier)
    return f"{t(key, lang)} {change}" if change is not None else f"{t(key, lang)} {t('no_comparison', lang)}"


def _freshness(now: int | None, clock: Clock, stale_after_s: float, lang: str) -> dict[Key, Any]:
    return _status(freshness(now, clock(), stale_after_s), lang)


def _status(kind: str, lang: str) -> dict[Key, Any]:
    return {(Ids.STATUS, "children"): t(f"status_{kind}", lang), (Ids.STATUS, "className"): f"status status-{kind}"}


def _notice(kind: str | None, lang: str) -> dict[Key, Any]:
    if kind is None:
        return {(Ids.NOTICE, "children"): [], (Ids.NOTICE, "className"): "notice hidden"}
    body = [
        dash.html.Div(t(f"{kind}_title", lang), className="notice-title"),
        dash.html.Div(t(f"{kind}_body", lang), className="notice-body"),
    ]
    return {(Ids.NOTICE, "children"): body, (Ids.NOTICE, "className"): f"notice notice-{kind}"}


def _refreshed(clock: Clock, lang: str) -> dict[Key, Any]:
    return {(Ids.REFRESHED, "children"): f"{t('refreshed', lang)} {to_beijing(int(clock())):%H:%M:%S}"}


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
    out[(Ids.SESSIONS_SUB, "children")] = _all(ov, lang, sessions_line(ov.sessions, lang))
    out[(Ids.listing("surge"), "children")] = panels.surge_list(surge_board(ov.alerts), lang, ov.sparks)
    out[(Ids.listing("alerts"), "children")] = panels.alerts_list(ov.alerts, lang)
    out[(Ids.listing("resources"), "children")] = panels.resources_table(ov.top_resources, lang)
    return out | _status(status, lang) | _notice("stale" if status == "stale" else None, lang)


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
    for name in Ids.KPIS:
        out[(Ids.kpi(name), "children")] = DASH
        out[(Ids.kpi(name, "unit"), "children")] = ""
        out[(Ids.kpi(name, "sub"), "children")] = ""
    for chart in Ids.CHARTS:
        out[(Ids.chart(chart), "figure")] = figures.message_figure(t("no_data_title", lang))
    for name in Ids.LISTS:
        out[(Ids.listing(name), "children")] = panels.empty(t("no_data_title", lang))
    out[(Ids.SESSIONS_SUB, "children")] = ""
    return out | _status("empty", lang) | _notice("no_data", lang)


def render_error(lang: str) -> dict[Key, Any]:
    """The store failed: flag it and leave the last good values on screen, marked stale."""
    return _status("error", lang) | _notice("error", lang)


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
    clock: Clock,
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
        outcome, out = "error", render_error(lang)
    else:
        if ov is None:
            outcome, out = "empty", render_empty(lang)
        else:
            outcome, out = "ok", render_overview(ov, lang, freshness(ov.win.now, clock(), stale_after_s))
            if metrics is not None:
                metrics.event_now.set(ov.win.now)
    if metrics is not None:
        metrics.refreshes.labels(outcome).inc()
    return out | _refreshed(clock, lang)


def refresh_shell(queries: Queries, lang: str, clock: Clock, stale_after_s: float = 180.0) -> dict[Key, Any]:
    """The header on the other pages (province, alerts, report): data time, status and refresh
    time, from one cheap query, so a page opened directly says how fresh its numbers are."""
    try:
        now = queries.latest_minute()
    except Exception:
        log.exception("cockpit shell refresh failed")
        return render_error(lang) | _refreshed(clock, lang)
    if now is None:
        return (
            {(Ids.EVENT_NOW, "children"): DASH}
            | _status("empty", lang)
            | _notice("no_data", lang)
            | _refreshed(clock, lang)
        )
    kind = freshness(now, clock(), stale_after_s)
    return (
        {(Ids.EVENT_NOW, "children"): fmt_datetime(now)}
        | _status(kind, lang)
        | _notice("stale" if kind == "stale" else None, lang)
        | _refreshed(clock, lang)
    )


def _ordered(values: dict[Key, Any], keys: tuple[Key, ...]) -> tuple[Any, ...]:
    return tuple(values.get(k, dash.no_update) for k in keys)


def register_callbacks(
    app: dash.Dash,
    queries: Queries,
    clock: Clock,
    metrics: CockpitMetrics | None = None,
    default_refresh_ms: int = 2000,
    settings: Settings | None = None,
) -> None:
    cfg = settings or Settings()
    stale_after_s = cfg.cockpit_stale_after_s
    from cockpit.pages import alerts, province, report  # the other pages register their own

    label_keys = tuple(key for key, _ in LABEL_OUTPUTS)

    @app.callback([Output(i, p) for i, p in label_keys + OPTION_OUTPUTS], Input(Ids.LANG, "value"))
    def _labels(lang: str) -> tuple[Any, ...]:
        return _ordered(render_labels(lang) | render_options(lang), label_keys + OPTION_OUTPUTS)

    @app.callback(
        [Output(i, p) for i, p in DATA_OUTPUTS],
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
        if not route:
            raise dash.exceptions.PreventUpdate
        if route.get("page") != "overview":  # hidden: only the header is refreshed
            return _ordered(refresh_shell(queries, lang, clock, stale_after_s), DATA_OUTPUTS)
        filters = checked_filters(range_, c0, c1, platform, cfg)
        return _ordered(
            refresh(queries, checked_lang(lang), clock, metrics, filters=filters, stale_after_s=stale_after_s),
            DATA_OUTPUTS,
        )

    @app.callback(
        [Output(i, p) for i, p in MAP_OUTPUTS],
        Input(Ids.TICK, "n_intervals"),
        Input(Ids.LANG, "value"),
        Input(Ids.ROUTE, "data"),
        Input(Ids.RANGE, "value"),
        Input(Ids.CUSTOM, "start_date"),
        Input(Ids.CUSTOM, "end_date"),
        Input(Ids.PLATFORM, "value"),
        Input(Ids.MEASURE, "value"),
    )
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
        if not route or route.get("page") != "overview":
            raise dash.exceptions.PreventUpdate
        filters = checked_filters(range_, c0, c1, platform, cfg)
        return _ordered(
            refresh_map(queries, checked_lang(lang), filters, checked_measure(measure), cfg.cockpit_surge_highlight),
            MAP_OUTPUTS,
        )

    routing.register(app, queries, default_refresh_ms, cfg)
    province.register(app, queries, clock)
    alerts.register(app, queries, cfg)
    report.register(app, queries, cfg)
