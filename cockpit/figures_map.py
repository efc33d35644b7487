"""The China map: 34 provincial-level divisions coloured by a measure, as a pure figure builder.

Geometry is large (~140 kB) and never changes, so a page sends it once: the layout holds the full
figure from `china_map`, and every refresh sends `map_patch`, which sets only what can change
(values, names in the viewer's language, the colour bar title, the "not available" state): a few
kB. Sending the full figure each tick was measured to starve the page: at a 0.5 s refresh each
response was superseded before it landed. Both draw from `map_values`, so they cannot disagree.
Clicks carry the GB/T 2260 code in `customdata`.
"""
from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

import plotly.graph_objects as go
from dash import Patch

from cockpit.figures import ACCENT, FONT, MUTED, TEXT, _base
from cockpit.i18n import fmt_int, province_name, t
from cockpit.mapdata import NANHAI, SMALL, geojson, label_point, province_codes

COLOURSCALE = [[0.0, "#10263f"], [0.35, "#1f5f8b"], [0.7, "#2fa8d8"], [1.0, "#8ff0ff"]]
BORDER = "rgba(142, 220, 255, 0.55)"
MEASURES: tuple[str, ...] = ("rate", "total", "surge")
AVAILABLE_MEASURES: frozenset[str] = frozenset({"rate", "total"})  # surge needs baselines (not yet)


@lru_cache(maxsize=1)
def provinces_geojson() -> dict[str, Any]:
    """The 34 divisions only: each trace carries its own GeoJSON, so the inset is not sent twice."""
    return {"type": "FeatureCollection",
            "features": [f for f in geojson()["features"] if f["properties"]["code"] != NANHAI]}


@lru_cache(maxsize=1)
def nanhai_geojson() -> dict[str, Any]:
    return {"type": "FeatureCollection",
            "features": [f for f in geojson()["features"] if f["properties"]["code"] == NANHAI]}


def map_values(values: Mapping[str, int], lang: str, measure: str) -> dict[str, Any]:
    """Per-division arrays in `province_codes()` order: z, hover text, the small divisions' colours."""
    codes = province_codes()
    z = [int(values.get(c, 0)) for c in codes]
    names = [province_name(c, lang) for c in codes]
    unit = t("per_min", lang) if measure == "rate" else ""
    hover = [f"{n}<br>{fmt_int(v)} {unit}".rstrip() for n, v in zip(names, z, strict=True)]
    small = [int(values.get(c, 0)) for c in SMALL]
    return {"z": z, "hover": hover, "small": small, "zmax": max([*z, 1]),
            "title": t(f"measure_{measure}", lang)}


def china_map(values: Mapping[str, int], lang: str, measure: str = "rate") -> go.Figure:
    """The full map; a measure without data behind it yet shows the map greyed with a plain note."""
    v = map_values(values, lang, measure)
    codes = list(province_codes())
    fig = go.Figure()
    fig.add_trace(go.Choropleth(
        geojson=provinces_geojson(), featureidkey="properties.code", locations=codes, z=v["z"],
        coloraxis="coloraxis", customdata=codes, text=v["hover"], hovertemplate="%{text}<extra></extra>",
        marker=dict(line=dict(color=BORDER, width=0.6)), name="provinces",
    ))
    fig.add_trace(go.Choropleth(  # the South China Sea islands inset: drawn, not a measured region
        geojson=nanhai_geojson(), featureidkey="properties.code", locations=[NANHAI], z=[0],
        colorscale=[[0, MUTED], [1, MUTED]], showscale=False, hoverinfo="skip",
        marker=dict(line=dict(color=MUTED, width=0.8)), name="nanhai",
    ))
    points = [label_point(c) for c in SMALL]
    fig.add_trace(go.Scattergeo(  # Hong Kong and Macau: a point and a name, coloured by their value
        lon=[p[0] for p in points], lat=[p[1] for p in points], mode="markers+text",
        text=[province_name(c, lang) for c in SMALL], textposition=["middle right", "bottom left"],
        textfont=dict(size=11, color=TEXT), customdata=list(SMALL),
        marker=dict(size=9, color=v["small"], coloraxis="coloraxis", line=dict(color=BORDER, width=1)),
        hovertemplate="%{text}<extra></extra>", name="small",
    ))
    _base(fig)
    fig.update_layout(
        margin=dict(l=0, r=0, t=0, b=0),
        coloraxis=dict(colorscale=COLOURSCALE, cmin=0, cmax=v["zmax"],
                       colorbar=dict(title=dict(text=v["title"], font=dict(size=13, color=MUTED)),
                                     thickness=10, len=0.5, x=0.02, xanchor="left", y=0.05,
                                     yanchor="bottom", tickfont=dict(color=MUTED, size=12),
                                     tickformat=",d", outlinewidth=0)),
        geo=dict(visible=False, fitbounds="locations", projection=dict(type="mercator"),
                 bgcolor="rgba(0,0,0,0)"),
        uirevision="china-map",
        font=dict(family=FONT),
    )
    if measure not in AVAILABLE_MEASURES:
        _grey_out(fig, lang)
    return fig


GREY = [[0, "#1b2b40"], [1, "#1b2b40"]]


def _note(lang: str) -> dict[str, Any]:
    return dict(text=t("surge_unavailable", lang), x=0.5, y=0.5, xref="paper", yref="paper", showarrow=False,
                font=dict(size=18, color=ACCENT), bgcolor="rgba(6,13,26,0.7)")


def _grey_out(fig: go.Figure, lang: str) -> None:
    fig.update_layout(coloraxis=dict(colorscale=GREY, showscale=False))
    fig.add_annotation(**_note(lang))


def map_patch(values: Mapping[str, int], lang: str, measure: str) -> Patch:
    """Everything that can change on a map `china_map` drew, and nothing else (no geometry)."""
    v = map_values(values, lang, measure)
    available = measure in AVAILABLE_MEASURES
    patch = Patch()
    patch["data"][0]["z"] = v["z"]
    patch["data"][0]["text"] = v["hover"]
    patch["data"][2]["marker"]["color"] = v["small"]
    patch["data"][2]["text"] = [province_name(c, lang) for c in SMALL]
    patch["layout"]["coloraxis"]["cmax"] = v["zmax"]
    patch["layout"]["coloraxis"]["colorscale"] = COLOURSCALE if available else GREY
    patch["layout"]["coloraxis"]["showscale"] = available
    patch["layout"]["coloraxis"]["colorbar"]["title"]["text"] = v["title"]
    patch["layout"]["annotations"] = [] if available else [_note(lang)]
    return patch


def patched_values(patch: Patch) -> dict[str, Any]:
    """What a patch sets, keyed by dotted path: for tests and debugging."""
    out: dict[str, Any] = {}
    for op in patch._operations:  # noqa: SLF001 (Patch exposes no public reader)
        if op["operation"] == "Assign":
            out[".".join(str(p) for p in op["location"])] = op["params"]["value"]
    return out

