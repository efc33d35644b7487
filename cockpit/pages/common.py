"""Small layout pieces and helpers the pages share."""
from __future__ import annotations

from typing import Any

import dash
from dash import dcc, html

from cockpit.i18n import t
from cockpit.layout import DASH

Key = tuple[str, str]


def kpi(id_: str, label_key: str, lang: str) -> html.Div:
    return html.Div(className="kpi", children=[
        html.Div(t(label_key, lang), id=f"{id_}-label", className="kpi-label"),
        html.Div(className="kpi-figure", children=[html.Span(DASH, id=id_, className="kpi-value")]),
        html.Div("", id=f"{id_}-sub", className="kpi-sub"),
    ])


def graph_panel(id_: str, label_key: str, lang: str, extra: str = "") -> html.Div:
    return html.Div(className=f"panel {extra}".strip(), children=[
        html.H2(t(label_key, lang), id=f"{id_}-title", className="panel-title"),
        html.Div(className="panel-body", children=dcc.Graph(
            id=id_, className="panel-graph", style={"height": "100%"},
            config={"displayModeBar": False, "responsive": True})),
    ])


def ordered(values: dict[Key, Any], keys: tuple[Key, ...]) -> tuple[Any, ...]:
    return tuple(values.get(k, dash.no_update) for k in keys)
