"""HTML row panels as pure functions: the surge board, firing alerts, top resources, alert tables.

Plain data in (`alert_log.AlertNow`, resource rows), Dash components out; no I/O, so each is
unit-tested directly. Operator names and session ids are never rendered.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache

from dash import dcc, html
from dash.development.base_component import Component

from cockpit.alert_log import ACTIVE_STATES, AlertChange, AlertNow, filter_alerts
from cockpit.i18n import alert_name, alert_summary, fmt_int, platform_name, province_name, section_name, t
from cockpit.queries import TopResource
from cockpit.timeframe import to_beijing
from contracts.geo import PROVINCE_BY_CODE

# What a table cell may hold (Dash's `ComponentSingleType`).
Cell = str | int | float | Component | None


def empty(text: str) -> html.Div:
    return html.Div(text, className="list-empty")


def fmt_time(ts: int) -> str:
    return to_beijing(ts).strftime("%m-%d %H:%M:%S")


def fmt_ratio(ratio: float | None) -> str:
    return "—" if ratio is None else f"{ratio:.2f}×"


def badge(kind: str, value: str, lang: str) -> html.Span:
    """A state or severity badge: `state_firing` → 告警中 / Firing."""
    key = f"{kind}_{value}"
    from cockpit.i18n import TEXT

    return html.Span(t(key, lang) if key in TEXT else value, className=f"badge badge-{value}")


def scope(labels: dict[str, str], lang: str) -> str:
    """What an alert is about, in words: a province, a platform, both, a section, or the nation."""
    parts = []
    if "province" in labels:
        parts.append(province_name(labels["province"], lang))
    if "platform" in labels:
        parts.append(platform_name(labels["platform"], lang))
    if "section" in labels:
        parts.append(section_name(labels["section"], lang))
    if "resource" in labels:
        parts.append(labels["resource"])
    if not parts:
        return t("scope_national", lang) if labels.get("scope", "national") == "national" else labels["scope"]
    return " · ".join(parts)


def alert_title(a: AlertNow | AlertChange, lang: str) -> str:
    """The alert's name and scope in the viewer's language: "访问激增 · 广西"."""
    return f"{alert_name(a.alertname, lang)} · {scope(a.labels, lang)}"


def scope_link(labels: dict[str, str], lang: str) -> Component | str:
    """The scope, linked to its province page when the alert names a province."""
    code = labels.get("province")
    text = scope(labels, lang)
    return dcc.Link(text, href=f"/province/{code}", className="scope-link") if code in PROVINCE_BY_CODE else text


def alert_link(a: AlertNow, lang: str) -> Component:
    code = a.province
    title = alert_summary(a.alertname, a.annotations, lang)
    if code in PROVINCE_BY_CODE:
        return dcc.Link(alert_title(a, lang), href=f"/province/{code}", className="list-main scope-link", title=title)
    return html.Span(alert_title(a, lang), className="list-main", title=title)


def sparkline(values: Sequence[int], title: str = "") -> html.Span:
    """A bar sparkline in plain HTML (one span per point, height relative to the largest): no
    graph per row, so ten rows cost ten small spans, not ten Plotly figures."""
    top = max(values, default=0)
    bars = [html.Span(className="spark-bar", style={"height": f"{(100 * v / top) if top else 0:.0f}%"}) for v in values]
    return html.Span(bars, className="spark", title=title)


def spark_title(values: Sequence[int], lang: str) -> str:
    if not values:
        return ""
    return f"{t('spark_title', lang)}: {fmt_int(min(values))}–{fmt_int(max(values))}"


def surge_list(
    board: Sequence[AlertNow], lang: str, sparks: Mapping[str, Sequence[int]] | None = None
) -> html.Div | list[html.Div]:
    """The surge board: rank, province (a link to its page), its last half hour as a sparkline,
    ratio to baseline, state. A province without stored minutes shows no sparkline."""
    if not board:
        return empty(t("no_surge", lang))
    rows = []
    for i, a in enumerate(board, 1):
        code = a.province or ""
        name = province_name(code, lang)
        link = dcc.Link(name, href=f"/province/{code}") if code in PROVINCE_BY_CODE else html.Span(name)
        series = (sparks or {}).get(code) or []
        rows.append(
            html.Div(
                className="list-row surge-row",
                children=[
                    html.Span(str(i), className="list-rank"),
                    html.Span(link, className="list-main"),
                    sparkline(series, spark_title(series, lang)) if any(series) else html.Span(className="spark"),
                    html.Span(fmt_ratio(a.ratio), className="list-value"),
                    badge("state", a.state, lang),
                ],
            )
        )
    return rows


def alerts_list(alerts: Iterable[AlertNow], lang: str) -> html.Div | list[html.Div]:
    """Firing alerts, most severe and newest first, with a note of how many more are pending."""
    firing = filter_alerts(alerts, ("firing",))
    pending = len(filter_alerts(alerts, ("pending",)))
    rows: list[html.Div] = [
        html.Div(
            className="list-row alert-row",
            children=[
                badge("severity", a.severity, lang),
                alert_link(a, lang),
                html.Span(fmt_time(a.at), className="list-note"),
            ],
        )
        for a in firing
    ]
    if pending:
        rows.append(html.Div(t("pending_note", lang).format(n=pending), className="list-note"))
    return rows if firing else ([empty(t("no_alerts", lang))] + rows)


def province_alerts(alerts: Sequence[AlertNow], lang: str) -> html.Div | list[html.Div]:
    """One province's alerts (firing, pending, then resolved): state, severity, name, since."""
    if not alerts:
        return empty(t("prov_no_alerts", lang))
    return [
        html.Div(
            className="list-row alert-row",
            children=[
                badge("state", a.state, lang),
                badge("severity", a.severity, lang),
                html.Span(
                    alert_title(a, lang), className="list-main", title=alert_summary(a.alertname, a.annotations, lang)
                ),
                html.Span(fmt_ratio(a.ratio) if a.ratio is not None else "", className="list-value"),
                html.Span(fmt_time(a.at), className="list-note"),
            ],
        )
        for a in alerts
    ]


def resource_rows(rows: Sequence[TopResource], lang: str) -> list[list[str]]:
    """Table rows: rank, title (or the id when the catalogue has none), section, platform, counts."""
    out = []
    for i, (platform, _rid, section, views, plays, downloads, title) in enumerate(rows, 1):
        out.append(
            [
                str(i),
                title,
                section_name(section, lang),
                platform_name(platform, lang),
                fmt_int(views),
                fmt_int(plays),
                fmt_int(downloads),
            ]
        )
    return out


def resources_head(lang: str) -> list[str]:
    return [
        t(k, lang)
        for k in ("col_rank", "col_resource", "col_section", "col_platform", "col_views", "col_plays", "col_downloads")
    ]


def table(
    head: list[str], rows: Sequence[Sequence[Cell]], numeric: Iterable[int] = (), class_name: str = ""
) -> html.Table:
    nums = set(numeric)
    return html.Table(
        className=f"data-table {class_name}".strip(),
        children=[
            html.Thead(html.Tr([html.Th(h) for h in head])),
            html.Tbody(
                [html.Tr([html.Td(v, className="num" if i in nums else "") for i, v in enumerate(row)]) for row in rows]
            ),
        ],
    )


def resources_table(rows: Sequence[TopResource], lang: str) -> html.Table | html.Div:
    if not rows:
        return empty(t("empty_chart", lang))
    return table(resources_head(lang), resource_rows(rows, lang), numeric=(0, 4, 5, 6), class_name="resources")


def change_label(c: AlertChange, lang: str) -> str:
    """A history line's change: "待定 → 告警中", or the acknowledgement / silence."""
    if c.kind in ("ack", "silence"):
        return t(f"kind_{c.kind}", lang)
    names = [t(f"state_{s}", lang) if f"state_{s}" in _state_keys() else s for s in (c.old_state, c.new_state)]
    return " → ".join(names)


@lru_cache(maxsize=1)
def _state_keys() -> frozenset[str]:
    from cockpit.i18n import TEXT

    return frozenset(k for k in TEXT if k.startswith("state_"))


def is_active(a: AlertNow) -> bool:
    return a.state in ACTIVE_STATES
