"""Which page a URL shows, wall-screen mode, rotation and the controls' own callbacks.

Pure functions (`route`, `next_rotation`, `timer_settings`, `navigate_target`) decide; the
`register` wrapper maps them onto Dash outputs. URLs: `/` overview, `/province/<GB/T 2260 code>`,
`/alerts`, `/report`; `?wall=1` on any of them is the wall screen.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import parse_qs

import dash
from dash import ClientsideFunction, Input, Output, State, ctx

from cockpit.layout import Ids
from cockpit.queries import Queries
from cockpit.surge import load_surge, surging
from cockpit.timeframe import windows
from contracts.geo import PROVINCE_BY_CODE


@dataclass(frozen=True)
class Route:
    page: str  # one of Ids.PAGES
    province: str | None = None  # on the province page: a valid code, or None (unknown code)
    wall: bool = False


def route(pathname: str | None, search: str | None) -> Route:
    path = (pathname or "/").rstrip("/") or "/"
    wall = parse_qs((search or "").lstrip("?")).get("wall", ["0"])[0] in ("1", "true", "yes")
    if path.startswith("/province/"):
        code = path.rsplit("/", 1)[1]
        return Route("province", code if code in PROVINCE_BY_CODE or code == "abroad" else None, wall)
    if path in ("/alerts", "/report"):
        return Route(path[1:], None, wall)
    return Route("overview", None, wall)


def render_route(r: Route) -> dict[tuple[str, str], Any]:
    """Show one page, mark its nav link, switch the wall-screen frame and its rotation timer."""
    out: dict[tuple[str, str], Any] = {(Ids.ROUTE, "data"): asdict(r)}
    for name in Ids.PAGES:
        out[(Ids.page(name), "className")] = "page" if name == r.page else "page hidden"
    for name in ("overview", "alerts", "report"):
        out[(Ids.nav(name), "className")] = "nav-link active" if name == r.page else "nav-link"
    out[(Ids.SHELL, "className")] = "cockpit wall" if r.wall else "cockpit"
    out[(Ids.ROTATE, "disabled")] = not r.wall
    return out


ROUTE_OUTPUTS: tuple[tuple[str, str], ...] = tuple(render_route(Route("overview")).keys())


def next_rotation(pathname: str | None, top_codes: list[str]) -> str:
    """The wall screen's next page: overview, then the first three of `top_codes` (surging provinces
    first, then the busiest: `top_provinces`), round again."""
    cycle = ["/"] + [f"/province/{c}" for c in top_codes[:3]]
    current = (pathname or "/").rstrip("/") or "/"
    return cycle[(cycle.index(current) + 1) % len(cycle)] if current in cycle else cycle[0]


def click_code(click: dict[str, Any] | None) -> str | None:
    """The division a map or bar click names (the code rides in `customdata`)."""
    if not click or not click.get("points"):
        return None
    point = click["points"][0]
    code = point.get("customdata") or point.get("location")
    if isinstance(code, list):
        code = code[0] if code else None
    return str(code) if code in PROVINCE_BY_CODE or code == "abroad" else None


def timer_settings(refresh_ms: int | None, paused: list[str] | None, default_ms: int) -> tuple[int, bool]:
    """(interval, disabled) of the refresh timer: pausing stops it, the chosen interval drives it."""
    return int(refresh_ms or default_ms), bool(paused and "paused" in paused)


def top_provinces(q: Queries, threshold: float = 2.0) -> list[str]:
    """The rotation's provinces: the surging ones first (highest ratio first, see
    `surge.load_surge`), then the busiest of today."""
    now = q.latest_minute()
    if now is None:
        return []
    w = windows(now)
    hot = [c for c in surging(load_surge(q, now), threshold) if c in PROVINCE_BY_CODE]
    totals = q.total_by_province(w.day_start, w.day_end)
    busiest = [c for c, _ in sorted(totals.items(), key=lambda p: (-p[1], p[0])) if c in PROVINCE_BY_CODE]
    return hot + [c for c in busiest if c not in hot]


KIOSK_OUTPUTS: tuple[tuple[str, str], ...] = (
    (Ids.LANG, "value"),
    (Ids.PLATFORM, "value"),
    (Ids.RANGE, "value"),
    (Ids.ROTATE, "interval"),
)


def kiosk(search: str | None) -> dict[tuple[str, str], Any]:
    """A kiosk URL's settings (`?wall=1&lang=zh&platform=k12&range=1h&rotate=30`) as control
    values; parameters not given leave their control alone. Bad values raise `BadParameter` (the
    page itself already answered 400 for them, see `cockpit.hardening`)."""
    from cockpit.params import checked_kiosk

    args = {k: v[-1] for k, v in parse_qs((search or "").lstrip("?"), keep_blank_values=True).items()}
    values = checked_kiosk(args)
    out: dict[tuple[str, str], Any] = {}
    if "lang" in args:
        out[(Ids.LANG, "value")] = values["lang"]
    if "platform" in args:
        out[(Ids.PLATFORM, "value")] = values["platform"] or ""
    if "range" in args:
        out[(Ids.RANGE, "value")] = values["range"]
    if values.get("rotate"):
        out[(Ids.ROTATE, "interval")] = int(values["rotate"] * 1000)
    return out


def register(app: dash.Dash, queries: Queries, default_refresh_ms: int, settings: Any = None) -> None:
    threshold = float(getattr(settings, "cockpit_surge_highlight", 2.0))

    @app.callback([Output(i, p) for i, p in KIOSK_OUTPUTS], Input(Ids.URL, "search"))
    def _kiosk(search: str | None) -> tuple[Any, ...]:
        out = kiosk(search)
        if not out:
            raise dash.exceptions.PreventUpdate
        return tuple(out.get(k, dash.no_update) for k in KIOSK_OUTPUTS)

    @app.callback([Output(i, p) for i, p in ROUTE_OUTPUTS], Input(Ids.URL, "pathname"), Input(Ids.URL, "search"))
    def _route(pathname: str | None, search: str | None) -> tuple[Any, ...]:
        out = render_route(route(pathname, search))
        return tuple(out[k] for k in ROUTE_OUTPUTS)

    @app.callback(
        Output(Ids.URL, "pathname"),
        Input(Ids.MAP, "clickData"),
        Input(Ids.chart("provinces"), "clickData"),
        Input(Ids.ROTATE, "n_intervals"),
        State(Ids.URL, "pathname"),
        prevent_initial_call=True,
    )
    def _navigate(map_click: Any, bar_click: Any, _n: int, pathname: str | None) -> str:
        if ctx.triggered_id == Ids.ROTATE:
            return next_rotation(pathname, top_provinces(queries, threshold))
        code = click_code(map_click if ctx.triggered_id == Ids.MAP else bar_click)
        if code is None:
            raise dash.exceptions.PreventUpdate
        return f"/province/{code}"

    @app.callback(
        Output(Ids.TICK, "interval"),
        Output(Ids.TICK, "disabled"),
        Input(Ids.REFRESH, "value"),
        Input(Ids.PAUSE, "value"),
    )
    def _timer(refresh_ms: int | None, paused: list[str] | None) -> tuple[int, bool]:
        return timer_settings(refresh_ms, paused, default_refresh_ms)

    @app.callback(Output(Ids.CUSTOM, "style"), Input(Ids.RANGE, "value"))
    def _custom_visible(kind: str | None) -> dict[str, str]:
        return {} if kind == "custom" else {"display": "none"}

    app.clientside_callback(  # month and weekday names of the date pickers in the page's language
        ClientsideFunction(namespace="cockpit", function_name="pickerLocale"),
        Output(Ids.PICKER_LANG, "data"),
        Input(Ids.LANG, "value"),
    )
    app.clientside_callback(
        ClientsideFunction(namespace="cockpit", function_name="fullscreen"),
        Output(Ids.FULLSCREEN, "title"),
        Input(Ids.FULLSCREEN, "n_clicks"),
        prevent_initial_call=True,
    )
