"""The daily report (`/report`), in the seed article's terms: total views, the average per day, the
peak day, and each province's daily average against an earlier period the reader chooses.

Periods are whole Beijing days from two date pickers; left empty, the period is the last 7 days up
to the data's today and the comparison the 7 days before. Days after the data's "now" are not
counted (an average over days that have not happened would understate it). Each table shown has a
CSV export built from the same `Report`, so the file equals the screen. Daily totals and the growth
table read the hourly rollup `clicks_hour` (`daily_totals`, `daily_by_province`), which outlives the
minute table's retention.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from typing import Any

import dash
from dash import Input, Output, State, dcc, html

from cockpit import figures
from cockpit.i18n import fmt_int, fmt_ratio, province_name, t
from cockpit.layout import DASH, LOADING, Ids
from cockpit.pages.common import REFRESH_INPUTS, Key, graph_panel, ordered, picker_texts
from cockpit.params import BadParameter, checked_day, checked_lang, checked_platform
from cockpit.queries import Queries
from cockpit.timeframe import DAY, beijing_day_start, day_label, parse_day, to_beijing

PAGE = "report"
PERIOD, BASE = "report-period", "report-base"
STATS = ("report_total", "report_avg", "report_peak", "report_national_growth")
DAILY_TABLE, GROWTH_TABLE = "table-daily", "table-growth"


def stat_id(key: str) -> str:
    return key.replace("_", "-")


def layout(lang: str) -> html.Div:
    return html.Div(
        id=Ids.page(PAGE),
        className="page hidden",
        children=[
            html.H2(t("report_title", lang), id="report-title", className="page-title"),
            html.Div(
                className="report-controls",
                children=[
                    html.Span(t("report_period", lang), id="report-period-label", className="control-label"),
                    dcc.DatePickerRange(id=PERIOD, display_format="YYYY-MM-DD", **picker_texts(lang)),
                    html.Span(t("report_base", lang), id="report-base-label", className="control-label"),
                    dcc.DatePickerRange(id=BASE, display_format="YYYY-MM-DD", **picker_texts(lang)),
                    html.Span("", id="report-resolved", className="report-resolved"),
                ],
            ),
            html.Section(
                className="kpis kpis-4",
                children=[
                    html.Div(
                        className="kpi",
                        children=[
                            html.Div(t(k, lang), id=f"{stat_id(k)}-label", className="kpi-label"),
                            html.Div(
                                className="kpi-figure",
                                children=[html.Span(LOADING, id=stat_id(k), className="kpi-value")],
                            ),
                            html.Div("", id=f"{stat_id(k)}-sub", className="kpi-sub"),
                        ],
                    )
                    for k in STATS
                ],
            ),
            html.Section(className="grid grid-report", children=[graph_panel("report-daily", "table_daily", lang)]),
            html.Section(
                className="tables",
                children=[
                    _table_panel(DAILY_TABLE, "table_daily", lang),
                    _table_panel(GROWTH_TABLE, "table_growth", lang),
                ],
            ),
        ],
    )


def _table_panel(id_: str, label_key: str, lang: str) -> html.Div:
    return html.Div(
        className="panel table-panel",
        children=[
            html.Div(
                className="table-head",
                children=[
                    html.H2(t(label_key, lang), id=f"{id_}-title", className="panel-title"),
                    html.Button(t("export_csv", lang), id=f"{id_}-export", className="export-btn", n_clicks=0),
                ],
            ),
            html.Div(id=id_, className="table-wrap"),
            dcc.Download(id=f"{id_}-download"),
        ],
    )


# -- the report's data: whole Beijing days from the hourly rollup ----------------------------------


@dataclass(frozen=True)
class Period:
    start: int  # 00:00 Beijing of the first day
    end: int  # 00:00 Beijing after the last day

    @property
    def days(self) -> int:
        return max(0, (self.end - self.start) // DAY)


@dataclass(frozen=True)
class GrowthRow:
    code: str
    base_avg: float  # events per day in the earlier period
    avg: float  # events per day in the reported period
    ratio: float | None  # avg / base_avg; None when the earlier period stored nothing


@dataclass(frozen=True)
class Report:
    period: Period
    base: Period
    days_counted: int  # days of the period up to the data's today: the divisor of the average
    daily: list[tuple[int, int]]  # (YYYYMMDD, events), every day counted, 0 where nothing stored
    total: int
    average: float
    peak_day: int | None
    peak: int
    national: GrowthRow
    growth: list[GrowthRow] = field(default_factory=list)  # largest ratio first
    days_with_data: int = 0  # days of the period that stored any traffic: the divisor of `average`


def counted(period: Period, now: int) -> Period:
    """The part of a period that has begun by the data's "now": future days are not averaged in."""
    return Period(period.start, max(period.start, min(period.end, beijing_day_start(now) + DAY)))


def _yyyymmdd(ts: int) -> int:
    d = to_beijing(ts)
    return d.year * 10000 + d.month * 100 + d.day


def growth_by_code(base: dict[str, int], cur: dict[str, int], base_days: int, days: int) -> list[GrowthRow]:
    """Per-code daily averages and their ratio; codes with traffic in either period, largest first."""
    rows = []
    for code in sorted(set(base) | set(cur)):
        b = base.get(code, 0) / base_days if base_days else 0.0
        a = cur.get(code, 0) / days if days else 0.0
        rows.append(GrowthRow(code, b, a, a / b if b else None))
    return sorted(rows, key=lambda r: (r.ratio is None, -(r.ratio or 0.0), r.code))


def load_report(q: Queries, period: Period, base: Period, platform: str | None = None) -> Report | None:
    now = q.latest_minute()
    if now is None:
        return None
    p, b = counted(period, now), counted(base, now)
    stored = dict(q.daily_totals(p.start, p.end, platform=platform))
    daily = [(_yyyymmdd(ts), stored.get(_yyyymmdd(ts), 0)) for ts in range(p.start, p.end, DAY)]
    total = sum(n for _, n in daily)
    peak_day, peak = max(daily, key=lambda d: (d[1], -d[0])) if daily else (None, 0)
    cur = q.daily_by_province(p.start, p.end, platform=platform)
    old = q.daily_by_province(b.start, b.end, platform=platform)
    national = growth_by_code({"all": sum(old.values())}, {"all": total}, b.days, p.days)[0]
    with_data = sum(1 for _, n in daily if n > 0)
    return Report(
        period=period,
        base=base,
        days_counted=p.days,
        daily=daily,
        total=total,
        average=total / with_data if with_data else 0.0,
        peak_day=peak_day if total else None,
        peak=peak,
        national=national,
        growth=growth_by_code(old, cur, b.days, p.days),
        days_with_data=with_data,
    )


def periods(p0: str | None, p1: str | None, b0: str | None, b1: str | None, now: int) -> tuple[Period, Period]:
    """The chosen periods, or the defaults (last 7 days through the data's today; the 7 before)."""

    def pick(a: str | None, b: str | None) -> Period | None:
        first, last = parse_day(a), parse_day(b)
        return Period(first, last + DAY) if first is not None and last is not None and last >= first else None

    today = beijing_day_start(now)
    period = pick(p0, p1) or Period(today - 6 * DAY, today + DAY)
    default_base = Period(period.start - (period.end - period.start), period.start)
    return period, pick(b0, b1) or default_base


# -- tables and CSV: rows first, then the two renderings of the same rows --------------------------


def daily_rows(r: Report, lang: str) -> tuple[list[str], list[list[str]]]:
    head = [t("col_day", lang), t("col_views", lang)]
    return head, [[f"{d // 10000}-{d // 100 % 100:02d}-{d % 100:02d}", fmt_int(n)] for d, n in r.daily]


def growth_rows(r: Report, lang: str) -> tuple[list[str], list[list[str]]]:
    head = [t("col_province", lang), t("col_base_avg", lang), t("col_avg", lang), t("col_ratio", lang)]
    rows = [[province_name(g.code, lang), f"{g.base_avg:,.1f}", f"{g.avg:,.1f}", fmt_ratio(g.ratio)] for g in r.growth]
    return head, rows


def to_csv(head: list[str], rows: list[list[str]]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(head)
    writer.writerows(rows)
    return buf.getvalue()


def to_table(head: list[str], rows: list[list[str]], numeric_from: int = 1) -> html.Table:
    return html.Table(
        className="data-table",
        children=[
            html.Thead(html.Tr([html.Th(h) for h in head])),
            html.Tbody(
                [
                    html.Tr([html.Td(v, className="num" if i >= numeric_from else "") for i, v in enumerate(row)])
                    for row in rows
                ]
            ),
        ],
    )


OUTPUTS: tuple[Key, ...] = (
    ("report-title", "children"),
    ("report-period-label", "children"),
    ("report-base-label", "children"),
    ("report-resolved", "children"),
    *((stat_id(k), "children") for k in STATS),
    *((f"{stat_id(k)}-label", "children") for k in STATS),
    *((f"{stat_id(k)}-sub", "children") for k in STATS),
    ("report-daily", "figure"),
    ("report-daily-title", "children"),
    (DAILY_TABLE, "children"),
    (GROWTH_TABLE, "children"),
    (f"{DAILY_TABLE}-title", "children"),
    (f"{GROWTH_TABLE}-title", "children"),
    (f"{DAILY_TABLE}-export", "children"),
    (f"{GROWTH_TABLE}-export", "children"),
)


def render(r: Report | None, lang: str) -> dict[Key, Any]:
    out: dict[Key, Any] = {
        ("report-title", "children"): t("report_title", lang),
        ("report-period-label", "children"): t("report_period", lang),
        ("report-base-label", "children"): t("report_base", lang),
        ("report-daily-title", "children"): t("table_daily", lang),
        (f"{DAILY_TABLE}-title", "children"): t("table_daily", lang),
        (f"{GROWTH_TABLE}-title", "children"): t("table_growth", lang),
        (f"{DAILY_TABLE}-export", "children"): t("export_csv", lang),
        (f"{GROWTH_TABLE}-export", "children"): t("export_csv", lang),
    }
    for k in STATS:
        out[(f"{stat_id(k)}-label", "children")] = t(k, lang)
    if r is None:
        for k in STATS:
            out[(stat_id(k), "children")] = DASH
            out[(f"{stat_id(k)}-sub", "children")] = ""
        out[("report-resolved", "children")] = t("no_data_title", lang)
        out[("report-daily", "figure")] = figures.message_figure(t("no_data_title", lang))
        out[(DAILY_TABLE, "children")] = out[(GROWTH_TABLE, "children")] = []
        return out
    days = t("report_days", lang)
    out[("report-resolved", "children")] = (
        f"{day_label(r.period.start)} – {day_label(r.period.end - DAY)} ({days.format(n=r.days_counted)}) · "
        f"{t('report_base', lang)} {day_label(r.base.start)} – {day_label(r.base.end - DAY)}"
    )
    peak_day = r.peak_day
    out |= {
        ("report-total", "children"): fmt_int(r.total),
        ("report-total-sub", "children"): days.format(n=r.days_counted),
        ("report-avg", "children"): fmt_int(round(r.average)),
        ("report-avg-sub", "children"): (
            f"{t('report_days_with_data', lang).format(n=r.days_with_data)} · "
            f"{t('report_base', lang)} {fmt_int(round(r.national.base_avg))}"
        ),
        ("report-peak", "children"): fmt_int(r.peak) if peak_day else DASH,
        ("report-peak-sub", "children"): f"{peak_day // 10000}-{peak_day // 100 % 100:02d}-{peak_day % 100:02d}"
        if peak_day
        else "",
        ("report-national-growth", "children"): fmt_ratio(r.national.ratio),
        (
            "report-national-growth-sub",
            "children",
        ): f"{fmt_int(round(r.national.base_avg))} → {fmt_int(round(r.national.avg))}",
    }
    out[("report-daily", "figure")] = figures.daily_bars(r.daily, lang)
    out[(DAILY_TABLE, "children")] = to_table(*daily_rows(r, lang))
    out[(GROWTH_TABLE, "children")] = to_table(*growth_rows(r, lang))
    return out


class TooLong(Exception):
    """A period over `cockpit_max_report_days`: refused before any query."""


# The report's pickers, in `build`'s order: period start and end, base start and end, platform.
Controls = tuple[str | None, str | None, str | None, str | None, str | None]


def build(
    queries: Queries,
    p0: str | None,
    p1: str | None,
    b0: str | None,
    b1: str | None,
    platform: str | None,
    max_days: int = 92,
) -> Report | None:
    """The report, every value checked (`BadParameter`: 400); a period longer than `max_days`
    raises `TooLong`, which the page shows as a note and the export refuses."""
    p0, p1 = checked_day("period start", p0), checked_day("period end", p1)
    b0, b1 = checked_day("base start", b0), checked_day("base end", b1)
    platform = checked_platform(platform)
    now = queries.latest_minute()
    if now is None:
        return None
    period, base = periods(p0, p1, b0, b1, now)
    if max(period.days, base.days) > max_days:
        raise TooLong(max_days)
    return load_report(queries, period, base, platform or None)


def export(which: str, r: Report | None, lang: str) -> dict[str, Any] | None:
    """The `dcc.Download` payload of one table, or None when there is nothing to export."""
    if r is None:
        return None
    head, rows = daily_rows(r, lang) if which == DAILY_TABLE else growth_rows(r, lang)
    stem = "daily" if which == DAILY_TABLE else "growth"
    name = f"report-{stem}-{day_label(r.period.start)}_{day_label(r.period.end - DAY)}.csv"
    return {"content": "\ufeff" + to_csv(head, rows), "filename": name, "type": "text/csv"}  # BOM: Excel reads UTF-8


def register(app: dash.Dash, queries: Queries, settings: Any = None) -> None:
    max_days = int(getattr(settings, "cockpit_max_report_days", 92))
    pickers = (
        Input(PERIOD, "start_date"),
        Input(PERIOD, "end_date"),
        Input(BASE, "start_date"),
        Input(BASE, "end_date"),
        Input(Ids.PLATFORM, "value"),
    )

    @app.callback(
        [Output(i, p) for i, p in OUTPUTS],
        *REFRESH_INPUTS,
        *pickers,
    )
    def _refresh(_n: int, lang: str, route: dict[str, Any] | None, *controls: *Controls) -> tuple[Any, ...]:
        if not route or route.get("page") != PAGE:
            raise dash.exceptions.PreventUpdate
        lang = checked_lang(lang)
        try:
            report = build(queries, *controls, max_days=max_days)
        except TooLong:
            out = render(None, lang)
            out[("report-resolved", "children")] = t("report_too_long", lang).format(n=max_days)
            return ordered(out, OUTPUTS)
        return ordered(render(report, lang), OUTPUTS)

    for table in (DAILY_TABLE, GROWTH_TABLE):

        @app.callback(
            Output(f"{table}-download", "data"),
            Input(f"{table}-export", "n_clicks"),
            State(Ids.LANG, "value"),
            *(State(p.component_id, p.component_property) for p in pickers),
            prevent_initial_call=True,
        )
        def _export(_clicks: int, lang: str, *controls: *Controls, _table: str = table) -> Any:
            try:
                payload = export(_table, build(queries, *controls, max_days=max_days), checked_lang(lang))
            except TooLong:
                raise BadParameter("period", "…", f"at most {max_days} days") from None
            return payload if payload is not None else dash.no_update
