"""The alerts page: firing, pending and resolved alerts with filters, acknowledge, and the history.

Alerts come from the alert log (`alerts_current`: each alert's latest state change; `alerts_history`:
every change over the chosen range), written by the sink from the alerts topic. Operators see an
acknowledge form and a silence form (duration and comment) on each firing or pending alert: plain
HTML POSTs to `/api/alerts/<fp>/ack` and `/silence` carrying the session's CSRF token
(`cockpit.auth`), which answer with a redirect back here. No operator name is ever shown: an
acknowledgement reads "acknowledged", a silence "silenced until 11:42", not who.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import dash
from dash import Input, Output, State, dcc, html

from cockpit import panels
from cockpit.alert_log import (
    ACTIVE_STATES,
    SILENCE_ENDS,
    SILENCE_STARTS,
    AlertChange,
    AlertNow,
    alerts_end,
    as_float,
    filter_alerts,
    parse_current,
    parse_history,
)
from cockpit.auth import CSRF_FIELD, csrf_token, is_operator
from cockpit.filters import Filters
from cockpit.i18n import alert_name, alert_summary, fmt_int, t
from cockpit.layout import DASH, Ids
from cockpit.pages.common import RANGE_INPUTS, REFRESH_INPUTS, Key, ordered
from cockpit.params import checked_filters, checked_lang
from cockpit.queries import Queries
from cockpit.timeframe import DAY, MINUTE

log = logging.getLogger(__name__)

PAGE = "alerts"
STATES: tuple[str, ...] = ("firing", "pending", "resolved")
SEVERITIES: tuple[str, ...] = ("critical", "warning", "info")
STATE_FILTER, SEVERITY_FILTER = "alerts-state", "alerts-severity"
CURRENT, HISTORY = "alerts-current", "alerts-history"
HISTORY_LIMIT = 200

LABEL_OUTPUTS: tuple[Key, ...] = (
    ("alerts-title", "children"),
    ("alerts-current-title", "children"),
    ("alerts-history-title", "children"),
    ("lbl-filter-state", "children"),
    ("lbl-filter-severity", "children"),
    (STATE_FILTER, "options"),
    (SEVERITY_FILTER, "options"),
    ("alerts-hint", "children"),
    (Ids.AUTH, "children"),
    (Ids.AUTH, "href"),
)
SILENCES, SIGNATURE = "alerts-silences", "alerts-signature"
DATA_OUTPUTS: tuple[Key, ...] = (
    ("alerts-counts", "children"),
    (CURRENT, "children"),
    (HISTORY, "children"),
    (SILENCES, "children"),
    ("alerts-silences-title", "children"),
)


def layout(lang: str) -> html.Div:
    return html.Div(
        id=Ids.page(PAGE),
        className="page hidden",
        children=[
            html.Div(
                className="page-head",
                children=[
                    html.H2(t("alerts_title", lang), id="alerts-title", className="page-title"),
                    html.Span(DASH, id="alerts-counts", className="alerts-counts"),
                ],
            ),
            html.Div(
                className="alerts-controls",
                children=[
                    html.Span(t("filter_state", lang), id="lbl-filter-state", className="control-label"),
                    dcc.Checklist(
                        id=STATE_FILTER,
                        options=state_options(lang),
                        value=list(STATES),
                        inline=True,
                        className="alerts-filter",
                    ),
                    html.Span(t("filter_severity", lang), id="lbl-filter-severity", className="control-label"),
                    dcc.Checklist(
                        id=SEVERITY_FILTER,
                        options=severity_options(lang),
                        value=list(SEVERITIES),
                        inline=True,
                        className="alerts-filter",
                    ),
                    html.Span("", id="alerts-hint", className="alerts-hint"),
                ],
            ),
            html.Div(
                className="alerts-tables",
                children=[
                    html.Div(
                        className="panel",
                        children=[
                            html.H2(t("alerts_current", lang), id="alerts-current-title", className="panel-title"),
                            html.Div(DASH, id=CURRENT, className="table-wrap"),
                        ],
                    ),
                    html.Div(
                        className="panel",
                        children=[
                            html.H2(t("silences_title", lang), id="alerts-silences-title", className="panel-title"),
                            html.Div(DASH, id=SILENCES, className="table-wrap"),
                        ],
                    ),
                    html.Div(
                        className="panel",
                        children=[
                            html.H2(t("alerts_history", lang), id="alerts-history-title", className="panel-title"),
                            html.Div(DASH, id=HISTORY, className="table-wrap"),
                        ],
                    ),
                ],
            ),
            dcc.Store(id=SIGNATURE),
        ],
    )


def state_options(lang: str) -> list[dict[str, str]]:
    return [{"label": t(f"state_{s}", lang), "value": s} for s in STATES]


def severity_options(lang: str) -> list[dict[str, str]]:
    return [{"label": t(f"severity_{s}", lang), "value": s} for s in SEVERITIES]


@dataclass(frozen=True)
class AlertsView:
    """The alerts page: every alert's current state and the log of changes over the chosen span."""

    end: int
    current: list[AlertNow]
    history: list[AlertChange]

    def acknowledged(self) -> set[str]:
        """Fingerprints acknowledged since their latest state change (within the history shown)."""
        since = {a.fingerprint: a.at for a in self.current}
        return {c.fingerprint for c in self.history if c.kind == "ack" and c.at >= since.get(c.fingerprint, 2**31)}

    def silenced(self) -> dict[str, int]:
        """{fingerprint: end of its silence (epoch s)} for silences still running at the view's end
        (event time), within the history shown; the latest end when there are several."""
        now = self.end - MINUTE  # the event-time "now" minute the view was loaded at
        out: dict[str, int] = {}
        for c in self.history:
            if c.kind != "silence":
                continue
            start, end = as_float(c.annotations.get(SILENCE_STARTS)), as_float(c.annotations.get(SILENCE_ENDS))
            if start is not None and end is not None and start <= now < end:
                out[c.fingerprint] = max(out.get(c.fingerprint, 0), int(end))
        return out

    def silences(self) -> list[tuple[AlertChange, int]]:
        """(the silence record, its end) for each silence still running at the view's "now", the
        soonest to expire first; a later silence of the same alert replaces an earlier one."""
        now = self.end - MINUTE
        latest: dict[str, tuple[AlertChange, int]] = {}
        for c in sorted(self.history, key=lambda c: c.at):
            if c.kind != "silence":
                continue
            start, end = as_float(c.annotations.get(SILENCE_STARTS)), as_float(c.annotations.get(SILENCE_ENDS))
            if start is not None and end is not None:
                latest[c.fingerprint] = (c, int(end))
        return sorted(((c, end) for c, end in latest.values() if end > now), key=lambda p: (p[1], p[0].fingerprint))


def load_alerts(q: Queries, filters: Filters | None = None) -> AlertsView:
    """Alerts as of the event-time "now"; the history covers the chosen range (7 days before the
    latest change while no clicks are stored)."""
    f = filters or Filters()
    now = q.latest_minute()
    end = alerts_end(now)
    current = parse_current(q.alerts_current(end))
    if now is not None:
        start = f.span(now).start
    else:
        start = (max(a.at for a in current) if current else 0) - 7 * DAY
    return AlertsView(end, current, parse_history(q.alerts_history(max(0, start), end, HISTORY_LIMIT)))


def render_labels(lang: str, operator: bool) -> dict[Key, Any]:
    """Labels, and the sign-in link's state (no operator name is shown, only whether one is in)."""
    return {
        ("alerts-title", "children"): t("alerts_title", lang),
        ("alerts-current-title", "children"): t("alerts_current", lang),
        ("alerts-history-title", "children"): t("alerts_history", lang),
        ("lbl-filter-state", "children"): t("filter_state", lang),
        ("lbl-filter-severity", "children"): t("filter_severity", lang),
        (STATE_FILTER, "options"): state_options(lang),
        (SEVERITY_FILTER, "options"): severity_options(lang),
        ("alerts-hint", "children"): "" if operator else t("alerts_login_hint", lang),
        (Ids.AUTH, "children"): f"{t('signed_in', lang)} · {t('logout', lang)}" if operator else t("login", lang),
        (Ids.AUTH, "href"): "/logout" if operator else "/login",
    }


def ack_form(fingerprint: str, token: str, lang: str) -> html.Form:
    """A plain POST form: the endpoint checks the token and the login, then redirects back here."""
    return html.Form(
        action=f"/api/alerts/{fingerprint}/ack",
        method="POST",
        className="ack-form",
        children=[
            dcc.Input(type="hidden", name=CSRF_FIELD, value=token, id=f"ack-token-{fingerprint}"),
            dcc.Input(
                type="text",
                name="comment",
                placeholder=t("ack_comment", lang),
                maxLength=200,
                id=f"ack-comment-{fingerprint}",
                debounce=True,
                persistence=True,
                persistence_type="session",
            ),
            html.Button(t("ack_button", lang), type="submit", className="ack-button"),
        ],
    )


def fmt_duration(seconds: int, lang: str) -> str:
    key = f"dur_{seconds}"
    from cockpit.i18n import TEXT

    if key in TEXT:
        return t(key, lang)
    if seconds % 3600 == 0:
        return f"{seconds // 3600}小时" if lang != "en" else f"{seconds // 3600} h"
    return f"{seconds // 60}分钟" if lang != "en" else f"{seconds // 60} min"


def silence_form(fingerprint: str, token: str, lang: str, durations: Sequence[int] | None = None) -> html.Form:
    """Duration (one of `cockpit_silence_durations_s`) and an optional reason, then POST."""
    from cockpit.acks import SILENCE_DURATIONS_S

    SILENCE_DURATIONS_S = tuple(durations or SILENCE_DURATIONS_S)
    return html.Form(
        action=f"/api/alerts/{fingerprint}/silence",
        method="POST",
        className="ack-form silence-form",
        children=[
            dcc.Input(type="hidden", name=CSRF_FIELD, value=token, id=f"silence-token-{fingerprint}"),
            html.Select(
                [html.Option(fmt_duration(d, lang), value=str(d)) for d in SILENCE_DURATIONS_S],
                name="duration_s",
                id=f"silence-duration-{fingerprint}",
                title=t("silence_duration", lang),
            ),
            dcc.Input(
                type="text",
                name="comment",
                placeholder=t("silence_comment", lang),
                maxLength=200,
                id=f"silence-comment-{fingerprint}",
                debounce=True,
                persistence=True,
                persistence_type="session",
            ),
            html.Button(t("silence_button", lang), type="submit", className="ack-button silence-button"),
        ],
    )


def current_table(
    alerts: Sequence[AlertNow],
    acked: set[str],
    lang: str,
    token: str | None,
    silenced: dict[str, int] | None = None,
    durations: Sequence[int] | None = None,
) -> Any:
    if not alerts:
        return panels.empty(t("no_alerts", lang))
    head = [
        t(k, lang)
        for k in ("col_state", "col_severity", "col_alert", "col_scope", "col_summary", "col_value", "col_since")
    ]
    if token is not None:
        head.append(t("col_action", lang))
    rows: list[list[Any]] = []
    for a in alerts:
        state: Any = [panels.badge("state", a.state, lang)]
        if a.fingerprint in acked and a.state in ACTIVE_STATES:
            state.append(html.Span(t("acked", lang), className="badge badge-acked"))
        until = (silenced or {}).get(a.fingerprint)
        if until is not None and a.state in ACTIVE_STATES:
            state.append(
                html.Span(
                    t("silenced_until", lang).format(time=panels.fmt_time(until)), className="badge badge-silenced"
                )
            )
        row: list[Any] = [
            state,
            panels.badge("severity", a.severity, lang),
            alert_name(a.alertname, lang),
            panels.scope_link(a.labels, lang),
            alert_summary(a.alertname, a.annotations, lang),
            f"{a.value:g}",
            panels.fmt_time(a.at),
        ]
        if token is not None:
            actions = []
            if a.state in ACTIVE_STATES and a.fingerprint not in acked:
                actions.append(ack_form(a.fingerprint, token, lang))
            if a.state in ACTIVE_STATES and until is None:
                actions.append(silence_form(a.fingerprint, token, lang, durations))
            row.append(html.Div(actions, className="alert-actions") if actions else "")
        rows.append(row)
    return panels.table(head, rows, numeric=(5,), class_name="alerts-current")


def history_table(view: AlertsView, lang: str) -> Any:
    if not view.history:
        return panels.empty(t("no_history", lang))
    head = [
        t(k, lang)
        for k in ("col_time", "col_alert", "col_scope", "col_change", "col_severity", "col_value", "col_comment")
    ]
    rows: list[list[panels.Cell]] = [
        [
            panels.fmt_time(c.at),
            alert_name(c.alertname, lang),
            panels.scope_link(c.labels, lang),
            panels.change_label(c, lang),
            panels.badge("severity", c.severity, lang),
            f"{c.value:g}",
            c.comment,
        ]
        for c in view.history
    ]
    return panels.table(head, rows, numeric=(5,), class_name="alerts-history")


def silences_table(view: AlertsView, lang: str, operator: bool) -> Any:
    """Silences still running at the view's event-time "now": the alert, until when, how long is
    left, who set it (shown to signed-in operators only) and why."""
    running = view.silences()
    if not running:
        return panels.empty(t("no_silences", lang))
    now = view.end - 60
    head = [t(k, lang) for k in ("col_alert", "col_scope", "col_until", "col_left", "col_author", "col_comment")]
    rows: list[list[panels.Cell]] = [
        [
            alert_name(c.alertname, lang),
            panels.scope_link(c.labels, lang),
            panels.fmt_time(until),
            t("minutes_left", lang).format(n=max(1, -(-(until - now) // 60))),
            c.author if operator else DASH,
            c.comment,
        ]
        for c, until in running
    ]
    return panels.table(head, rows, class_name="alerts-silences")


def render(
    view: AlertsView | None,
    lang: str,
    states: Sequence[str] | None = None,
    severities: Sequence[str] | None = None,
    token: str | None = None,
    durations: Sequence[int] | None = None,
) -> dict[Key, Any]:
    """The page's data: counts, the filtered current alerts (with acknowledge forms when `token`, the
    operator's CSRF token, is given) and the history. None (the store failed) shows dashes."""
    if view is None:
        return {
            ("alerts-counts", "children"): DASH,
            (CURRENT, "children"): DASH,
            (HISTORY, "children"): DASH,
            (SILENCES, "children"): DASH,
        }
    counts = {s: sum(1 for a in view.current if a.state == s) for s in STATES}
    shown = filter_alerts(view.current, STATES if states is None else states, severities)
    return {
        ("alerts-counts", "children"): t("alerts_counts", lang).format(
            f=fmt_int(counts["firing"]), p=fmt_int(counts["pending"]), r=fmt_int(counts["resolved"])
        ),
        (CURRENT, "children"): current_table(shown, view.acknowledged(), lang, token, view.silenced(), durations),
        (HISTORY, "children"): history_table(view, lang),
        (SILENCES, "children"): silences_table(view, lang, token is not None),
        ("alerts-silences-title", "children"): t("silences_title", lang),
    }


def signature(
    view: AlertsView | None, lang: str, states: Sequence[str] | None, severities: Sequence[str] | None, operator: bool
) -> str:
    """What the current-alerts table shows: while it is unchanged the table is not re-sent, so an
    operator's half-typed comment survives every refresh."""
    import hashlib

    if view is None:
        return "none"
    shown = filter_alerts(view.current, STATES if states is None else states, severities)
    key = repr(
        (
            [(a.fingerprint, a.state, a.severity, a.at, a.value) for a in shown],
            sorted(view.acknowledged()),
            sorted(view.silenced().items()),
            lang,
            operator,
        )
    )
    return hashlib.sha256(key.encode()).hexdigest()


def register(app: dash.Dash, queries: Queries, settings: Any = None) -> None:
    durations = tuple(getattr(settings, "cockpit_silence_durations_s", ()) or ())

    @app.callback([Output(i, p) for i, p in LABEL_OUTPUTS], Input(Ids.LANG, "value"), Input(Ids.ROUTE, "data"))
    def _labels(lang: str, _route: Any) -> tuple[Any, ...]:
        return ordered(render_labels(lang, is_operator()), LABEL_OUTPUTS)

    @app.callback(
        [Output(i, p) for i, p in DATA_OUTPUTS] + [Output(SIGNATURE, "data")],
        *REFRESH_INPUTS,
        *RANGE_INPUTS,  # alerts are not per platform
        Input(STATE_FILTER, "value"),
        Input(SEVERITY_FILTER, "value"),
        State(SIGNATURE, "data"),
    )
    def _refresh(
        _n: int,
        lang: str,
        route: dict[str, Any] | None,
        range_: str | None,
        c0: str | None,
        c1: str | None,
        states: list[str] | None,
        severities: list[str] | None,
        shown_sig: str | None,
    ) -> tuple[Any, ...]:
        if not route or route.get("page") != PAGE:
            raise dash.exceptions.PreventUpdate
        lang = checked_lang(lang)
        filters = checked_filters(range_, c0, c1, None, settings)
        try:
            view = load_alerts(queries, filters)
        except Exception:  # keep the last good tables up
            log.exception("alerts page refresh failed")
            return ordered({}, DATA_OUTPUTS) + (dash.no_update,)
        operator = is_operator()
        token = csrf_token() if operator else None
        out = render(view, lang, states or [], severities or [], token, durations or None)
        sig = signature(view, lang, states or [], severities or [], operator)
        if sig == shown_sig:
            out.pop((CURRENT, "children"), None)  # unchanged: keep the forms (and what is typed) as they are
        return ordered(out, DATA_OUTPUTS) + (sig,)
