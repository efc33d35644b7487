"""Small layout pieces and helpers the pages share."""

from __future__ import annotations

from typing import Any

import dash
from dash import Input, dcc, html

from cockpit.i18n import t
from cockpit.layout import LOADING, Ids, placeholder

Key = tuple[str, str]  # a component property: (id, property)

# What every page's refresh listens to: the timer, the language and the route (in that order).
REFRESH_INPUTS = (Input(Ids.TICK, "n_intervals"), Input(Ids.LANG, "value"), Input(Ids.ROUTE, "data"))
# The shared filters, in `params.checked_filters`' order: range, custom start and end, then platform.
RANGE_INPUTS = (Input(Ids.RANGE, "value"), Input(Ids.CUSTOM, "start_date"), Input(Ids.CUSTOM, "end_date"))
FILTER_INPUTS = (*RANGE_INPUTS, Input(Ids.PLATFORM, "value"))
FilterValues = tuple[str | None, str | None, str | None, str | None]  # FILTER_INPUTS' values


def kpi(id_: str, label_key: str, lang: str) -> html.Div:
    return html.Div(
        className="kpi",
        children=[
            html.Div(t(label_key, lang), id=f"{id_}-label", className="kpi-label"),
            html.Div(className="kpi-figure", children=[html.Span(LOADING, id=id_, className="kpi-value")]),
            html.Div("", id=f"{id_}-sub", className="kpi-sub"),
        ],
    )


def graph_panel(id_: str, label_key: str, lang: str, extra: str = "") -> html.Div:
    return html.Div(
        className=f"panel {extra}".strip(),
        children=[
            html.H2(t(label_key, lang), id=f"{id_}-title", className="panel-title"),
            html.Div(
                className="panel-body",
                children=dcc.Graph(
                    id=id_,
                    className="panel-graph",
                    style={"height": "100%"},
                    figure=placeholder(),
                    config={"displayModeBar": False, "responsive": True},
                ),
            ),
        ],
    )


def ordered(values: dict[Key, Any], keys: tuple[Key, ...]) -> tuple[Any, ...]:
    return tuple(values.get(k, dash.no_update) for k in keys)


def picker_texts(lang: str) -> dict[str, Any]:
    """A date picker's own words in `lang`: placeholders and the month title (numbers only)."""
    return {
        "start_date_placeholder_text": t("date_start", lang),
        "end_date_placeholder_text": t("date_end", lang),
        "month_format": "YYYY-MM",
        "first_day_of_week": 1,
    }
