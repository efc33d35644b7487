"""The China map: 34 provincial-level divisions coloured by a measure, as a pure figure builder.

Geometry is large (~140 kB) and never changes, so a page sends it once: the layout holds the full
figure from `china_map`, and every refresh sends `map_patch`, which sets only what can change
(values, names in the viewer's language, the colour bar title, the "not available" state): a few
kB. Sending the full figure each tick was measured to starve the page: at a 0.5 s refresh each
response was superseded before it landed. Both draw from `map_values`, so they cannot disagree.
Clicks carry the GB/T 2260 code in `customdata`.

The surge measure colours each division by its ratio to the seasonal baseline on a fixed diverging
scale (below 1 blue, 1 neutral, 3 and above red). A division without a baseline gets the colour key
`NO_BASELINE`, below the scale and drawn grey, and says "no baseline" on hover: it is not a value,
and no number is shown for it. With no baseline anywhere the map is greyed with a plain note.
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
NO_BASELINE = -0.2  # the surge colour key of a division without a baseline (below the scale: grey)
SURGE_MAX = 3.0  # ratios from here up share the top colour
_P = lambda r: (r - NO_BASELINE) / (SURGE_MAX - NO_BASELINE)
SURGE_SCALE = [
    [0.0, "#33415a"],
    [_P(-0.05), "#33415a"],
    [_P(0.0), "#1e3a8a"],
    [_P(0.6), "#2f7fc1"],
    [_P(1.0), "#d9e4ef"],
    [_P(1.6), "#f6b26b"],
    [_P(2.2), "#ef5b3a"],
    [1.0, "#b3122e"],
]


@lru_cache(maxsize=1)
def provinces_geojson() -> dict[str, Any]:
    """The 34 divisions only: each trace carries its own GeoJSON, so the inset is not sent twice."""
    return {
        "type": "FeatureCollection",
        "features": [f for f in geojson()["features"] if f["properties"]["code"] != NANHAI],
    }


@lru_cache(maxsize=1)
def nanhai_geojson() -> dict[str, Any]:
    return {
        "type": "FeatureCollection",
        "features": [f for f in geojson()["features"] if f["properties"]["code"] == NANHAI],
    }


def available(values: Mapping[str, float], measure: str) -> bool:
    """Whether the map has anything to colour: a surge map needs at least one baseline."""
    return measure in MEASURES and (measure != "surge" or bool(values))


def _colour_key(values: Mapping[str, float], code: str, measure: str) -> float | int:
    if measure == "surge":
        v = values.get(code)
        return NO_BASELINE if v is None else round(float(v), 3)
    return int(values.get(code, 0))


def _hover(name: str, values: Mapping[str, float], code: str, measure: str, lang: str) -> str:
    if measure == "surge":
        v = values.get(code)
        return f"{name}<br>{t('no_baseline', lang) if v is None else f'{v:.2f}×'}"
    unit = t("per_min", lang) if measure == "rate" else ""
    return f"{name}<br>{fmt_int(int(values.get(code, 0)))} {unit}".rstrip()


def map_values(values: Mapping[str, float], lang: str, measure: str) -> dict[str, Any]:
    """Per-division arrays in `province_codes()` order: colour keys, hover text, the small
    divisions' colour keys, and the colour axis of the measure."""
    codes = province_codes()
    z = [_colour_key(values, c, measure) for c in codes]
    hover = [_hover(province_name(c, lang), values, c, measure, lang) for c in codes]
    small = [_colour_key(values, c, measure) for c in SMALL]
    if measure == "surge":
        axis = {
            "cmin": NO_BASELINE,
            "cmax": SURGE_MAX,
            "colorscale": SURGE_SCALE,
            "tickvals": [0, 1, 2, 3],
            "ticktext": ["0×", "1×", "2×", "≥3×"],
            "tickformat": "",
        }
    else:
        axis = {
            "cmin": 0,
            "cmax": max([*z, 1]),
            "colorscale": COLOURSCALE,
            "tickvals": None,
            "ticktext": None,
            "tickformat": ",d",
        }
    return {
        "z": z,
        "hover": hover,
        "small": small,
        "zmax": axis["cmax"],
        "axis": axis,
        "title": t(f"measure_{measure}", lang),
    }


MAP_LON = (72.0, 136.0)  # Kashgar's west to the Wusuli river, with a margin
MAP_LAT = (15.0, 57.0)  # the South China Sea inset and Mohe, with room for the labels


def china_map(values: Mapping[str, int], lang: str, measure: str = "rate") -> go.Figure:
    """The full map; a measure without data behind it yet shows the map greyed with a plain note."""
    v = map_values(values, lang, measure)
    codes = list(province_codes())
    fig = go.Figure()
    fig.add_trace(
        go.Choropleth(
            geojson=provinces_geojson(),
            featureidkey="properties.code",
            locations=codes,
            z=v["z"],
            coloraxis="coloraxis",
            customdata=codes,
            text=v["hover"],
            hovertemplate="%{text}<extra></extra>",
            marker=dict(line=dict(color=BORDER, width=0.6)),
            name="provinces",
        )
    )
    fig.add_trace(
        go.Choropleth(  # the South China Sea islands inset: drawn, not a measured region
            geojson=nanhai_geojson(),
            featureidkey="properties.code",
            locations=[NANHAI],
            z=[0],
            colorscale=[[0, MUTED], [1, MUTED]],
            showscale=False,
            hoverinfo="skip",
            marker=dict(line=dict(color=MUTED, width=0.8)),
            name="nanhai",
        )
    )
    points = [label_point(c) for c in SMALL]
    fig.add_trace(
        go.Scattergeo(  # Hong Kong and Macau: a point and a name, coloured by their value
            lon=[p[0] for p in points],
            lat=[p[1] for p in points],
            mode="markers+text",
            text=[province_name(c, lang) for c in SMALL],
            textposition=["middle right", "bottom left"],
            textfont=dict(size=11, color=TEXT),
            customdata=list(SMALL),
            marker=dict(size=9, color=v["small"], coloraxis="coloraxis", line=dict(color=BORDER, width=1)),
            hovertemplate="%{text}<extra></extra>",
            name="small",
        )
    )
    hot_x, hot_y, hot_text = hot_points([], lang)
    fig.add_trace(
        go.Scattergeo(  # surging divisions: a red ring and the name, on every measure
            lon=hot_x,
            lat=hot_y,
            mode="markers+text",
            text=hot_text,
            textposition="top center",
            textfont=dict(size=15, color=HOT),
            customdata=[],
            meta="surging",
            marker=dict(size=26, color="rgba(239, 68, 68, 0.18)", line=dict(color=HOT, width=3)),
            hovertemplate="%{text}<extra></extra>",
            name="surging",
        )
    )
    _base(fig)
    fig.update_layout(
        margin=dict(l=0, r=0, t=0, b=0),
        coloraxis=dict(
            colorscale=v["axis"]["colorscale"],
            cmin=v["axis"]["cmin"],
            cmax=v["axis"]["cmax"],
            colorbar=dict(
                title=dict(text=v["title"], font=dict(size=13, color=MUTED)),
                thickness=10,
                len=0.5,
                x=0.02,
                xanchor="left",
                y=0.05,
                yanchor="bottom",
                tickfont=dict(color=MUTED, size=12),
                tickformat=v["axis"]["tickformat"],
                tickvals=v["axis"]["tickvals"],
                ticktext=v["axis"]["ticktext"],
                outlinewidth=0,
            ),
        ),
        # China's own box, not `fitbounds`: plotly pads a fitted map by ~20 % on each side, and in a wide
        # panel the map then filled a third of it (measured: 37 % of the width, 63 % of the height).
        geo=dict(
            visible=False,
            projection=dict(type="mercator"),
            lonaxis=dict(range=list(MAP_LON)),
            lataxis=dict(range=list(MAP_LAT)),
            bgcolor="rgba(0,0,0,0)",
        ),
        uirevision="china-map",
        font=dict(family=FONT),
    )
    if not available(values, measure):
        _grey_out(fig, lang)
    return fig


GREY = [[0, "#1b2b40"], [1, "#1b2b40"]]
HOT = "#ff4d4f"


def hot_points(hot: list[str], lang: str) -> tuple[list[float], list[float], list[str]]:
    """Where the surging divisions' rings go (their label points) and their names."""
    codes = [c for c in hot if c in province_codes() or c in SMALL]
    points = [label_point(c) for c in codes]
    return ([p[0] for p in points], [p[1] for p in points], [f"▲ {province_name(c, lang)}" for c in codes])


def border_widths(hot: list[str]) -> tuple[list[float], list[str]]:
    """Per division (in `province_codes()` order) the outline width and colour: surging ones stand out."""
    widths = [3.0 if c in hot else 0.6 for c in province_codes()]
    colours = [HOT if c in hot else BORDER for c in province_codes()]
    return widths, colours


def _note(lang: str) -> dict[str, Any]:
    return dict(
        text=t("surge_no_baselines", lang),
        x=0.5,
        y=0.5,
        xref="paper",
        yref="paper",
        showarrow=False,
        font=dict(size=18, color=ACCENT),
        bgcolor="rgba(6,13,26,0.7)",
    )


def _grey_out(fig: go.Figure, lang: str) -> None:
    fig.update_layout(coloraxis=dict(colorscale=GREY, showscale=False))
    fig.add_annotation(**_note(lang))


def map_patch(values: Mapping[str, float], lang: str, measure: str, hot: list[str] | None = None) -> Patch:
    """Everything that can change on a map `china_map` drew, and nothing else (no geometry).
    `hot`: the surging divisions, highest first, ringed and outlined whatever the measure."""
    v = map_values(values, lang, measure)
    shown = available(values, measure)
    axis = v["axis"]
    patch = Patch()
    hot = list(hot or [])
    hx, hy, htext = hot_points(hot, lang)
    patch["data"][3]["lon"] = hx
    patch["data"][3]["lat"] = hy
    patch["data"][3]["text"] = htext
    patch["data"][3]["customdata"] = [c for c in hot if c in province_codes() or c in SMALL]
    widths, colours = border_widths(hot)
    patch["data"][0]["marker"]["line"]["width"] = widths
    patch["data"][0]["marker"]["line"]["color"] = colours
    patch["data"][0]["z"] = v["z"]
    patch["data"][0]["text"] = v["hover"]
    patch["data"][2]["marker"]["color"] = v["small"]
    patch["data"][2]["text"] = [province_name(c, lang) for c in SMALL]
    patch["layout"]["coloraxis"]["cmin"] = axis["cmin"]
    patch["layout"]["coloraxis"]["cmax"] = axis["cmax"]
    patch["layout"]["coloraxis"]["colorscale"] = axis["colorscale"] if shown else GREY
    patch["layout"]["coloraxis"]["showscale"] = shown
    bar = patch["layout"]["coloraxis"]["colorbar"]
    bar["title"]["text"] = v["title"]
    bar["tickformat"] = axis["tickformat"]
    bar["tickvals"] = axis["tickvals"]
    bar["ticktext"] = axis["ticktext"]
    patch["layout"]["annotations"] = [] if shown else [_note(lang)]
    return patch


def patched_values(patch: Patch) -> dict[str, Any]:
    """What a patch sets, keyed by dotted path: for tests and debugging."""
    out: dict[str, Any] = {}
    for op in patch._operations:
        if op["operation"] == "Assign":
            out[".".join(str(p) for p in op["location"])] = op["params"]["value"]
    return out
