"""The alerts page: a placeholder until the alert service writes to the store.

It states plainly that alerts are not wired, and shows whether an operator is signed in, because
acknowledge and silence (the page's future actions) will need that login and a CSRF token
(`cockpit.auth`).
"""
from __future__ import annotations

from typing import Any

import dash
from dash import Input, Output, html

from cockpit.auth import is_operator
from cockpit.i18n import t
from cockpit.layout import Ids
from cockpit.pages.common import Key, ordered

PAGE = "alerts"
OUTPUTS: tuple[Key, ...] = (("alerts-title", "children"), ("alerts-status", "children"),
                            ("alerts-body", "children"), (Ids.AUTH, "children"), (Ids.AUTH, "href"))


def layout(lang: str) -> html.Div:
    return html.Div(id=Ids.page(PAGE), className="page hidden", children=[
        html.H2(t("alerts_title", lang), id="alerts-title", className="page-title"),
        html.Div(className="panel panel-na panel-alerts-page", children=[
            html.Div(t("alerts_not_wired", lang), id="alerts-status", className="na-title"),
            html.Div(t("alerts_body", lang), id="alerts-body", className="na-body"),
        ]),
    ])


def render(lang: str, operator: bool) -> dict[Key, Any]:
    """Labels, and the sign-in link's state (no operator name is shown, only whether one is in)."""
    return {
        ("alerts-title", "children"): t("alerts_title", lang),
        ("alerts-status", "children"): t("alerts_not_wired", lang),
        ("alerts-body", "children"): t("alerts_body", lang),
        (Ids.AUTH, "children"): f"{t('signed_in', lang)} · {t('logout', lang)}" if operator else t("login", lang),
        (Ids.AUTH, "href"): "/logout" if operator else "/login",
    }


def register(app: dash.Dash) -> None:
    @app.callback([Output(i, p) for i, p in OUTPUTS], Input(Ids.LANG, "value"), Input(Ids.ROUTE, "data"))
    def _render(lang: str, _route: Any) -> tuple[Any, ...]:
        return ordered(render(lang, is_operator()), OUTPUTS)
