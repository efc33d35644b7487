"""Rehearsals on the cockpit: the banner on every page, the per-viewer switch, the rehearsal's sink.

A rehearsal (`contracts.rehearsal`) is announced by a manifest in the data directory. A viewer enters
an isolated rehearsal at `/rehearsal/enter` (a cookie) and leaves at `/rehearsal/leave`; the queries
of that viewer's requests go to the rehearsal's database through a `Queries` of its own (its own
cache), everyone else stays on the live data. Every page then carries the banner "演练 / Rehearsal"
with the scenario's clock. With embedded chDB one process owns the store, so the cockpit that runs
the live sink (`--with-sink`) also runs an isolated rehearsal's sink (`Supervisor`) and drops its
database when it ends with `drop`. The strip beside the banner shows, for the viewer's namespace, the
event rate with the late and refused rates next to it (last five stored minutes).
"""

from __future__ import annotations

import copy
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import dash
from dash import Input, Output, html
from flask import Flask, redirect, request

from cockpit.layout import Ids
from cockpit.queries import Queries
from contracts.rehearsal import Manifest, namespace, read_manifest, sink_marker
from contracts.settings import Settings
from sinks import queries as sink_queries
from sinks.store import Store

log = logging.getLogger(__name__)

COOKIE = "edu_rehearsal"
BANNER = "rehearsal-banner"
STRIP = "rehearsal-strip"
RATE_MINUTES = 5


class ManifestCache:
    """The current manifest, re-read at most every `ttl_s` (every callback asks)."""

    def __init__(self, settings: Settings, ttl_s: float = 1.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.settings, self.ttl_s, self.clock = settings, ttl_s, clock
        self._at = -1e18
        self._value: Manifest | None = None
        self._lock = threading.Lock()

    def get(self) -> Manifest | None:
        with self._lock:
            if self.clock() - self._at >= self.ttl_s:
                m = read_manifest(self.settings)
                if isinstance(m, str):
                    log.warning("rehearsal manifest ignored: %s", m)
                self._value = m if isinstance(m, Manifest) else None
                self._at = self.clock()
            return self._value


def on_view(m: Manifest | None) -> bool:
    return m is not None and m.status != "ended"


class NamespacedQueries:
    """Stands in for the app's `Queries`: a request from a viewer inside the current isolated
    rehearsal is answered from its database, any other from the live one."""

    def __init__(self, live: Queries, settings: Settings, manifests: ManifestCache) -> None:
        self._live = live
        self._settings = settings
        self._manifests = manifests
        self._rehearsals: dict[str, Queries] = {}
        self._lock = threading.Lock()

    def viewer_manifest(self) -> Manifest | None:
        """The rehearsal this request's viewer is inside, if any."""
        from flask import has_request_context

        m = self._manifests.get()
        if not (on_view(m) and m.target == "isolated" and has_request_context()):  # type: ignore[union-attr]
            return None
        return m if request.cookies.get(COOKIE) == m.id else None  # type: ignore[union-attr]

    def pick(self) -> Queries:
        m = self.viewer_manifest()
        if m is None:
            return self._live
        with self._lock:
            q = self._rehearsals.get(m.id)
            if q is None:
                view = copy.copy(self._live.store)  # same engine, the rehearsal's database
                view.database = namespace(self._settings, m.id).clickhouse_database
                q = Queries(
                    view,
                    self._live.ttl_s,
                    clock=self._live._clock,
                    metrics=self._live._metrics,
                    calendar=self._live.calendar.merged(m.calendar),
                )
                self._rehearsals = {m.id: q}  # only the current rehearsal is kept
            return q

    def __getattr__(self, name: str) -> Any:
        return getattr(self.pick(), name)


# --------------------------------------------------------------------------- banner and strip
def layout() -> list[html.Div]:
    """Two elements the shell puts on every page (empty and hidden without a rehearsal)."""
    return [html.Div(id=BANNER, className="rehearsal-banner hidden"), html.Div(id=STRIP, className="rate-strip")]


def scenario_clock(latest_minute: int | None, m: Manifest) -> str:
    if latest_minute is None:
        return "—"
    return time.strftime("%Y-%m-%d %H:%M", time.gmtime(latest_minute - m.shift_ms / 1000 + 8 * 3600))


def banner_children(m: Manifest | None, inside: bool, latest_minute: int | None) -> tuple[list[Any], str]:
    """(children, className) of the banner for one viewer."""
    if not on_view(m):
        return [], "rehearsal-banner hidden"
    assert m is not None
    if m.target == "isolated" and not inside:
        return [
            html.Span(f"演练进行中 / Rehearsal running: {m.scenario} "),
            html.A("进入演练 / enter", href="/rehearsal/enter", id="rehearsal-enter"),
        ], "rehearsal-banner notice"
    where = "独立演练空间 / isolated" if m.target == "isolated" else "实况系统 / live stack"
    state = "" if m.status == "running" else " · 已结束播放 / played"
    children: list[Any] = [
        html.Strong("演练 / Rehearsal", className="rehearsal-title"),
        html.Span(f" {m.scenario} · ×{m.speed:g} · {where}{state} · 场景时钟 / scenario clock "),
        html.Span(scenario_clock(latest_minute, m), id="rehearsal-clock", className="rehearsal-clock"),
    ]
    if m.target == "isolated":
        children.append(html.A(" 返回实况 / back to live", href="/rehearsal/leave", id="rehearsal-leave"))
    return children, "rehearsal-banner active"


_STRIP = {
    "zh": "事件 {events}/分 · 迟到 {late}/分{share} · 拒收 {refused}/分",
    "en": "events {events}/min · late {late}/min{share} · refused {refused}/min",
}


def rate_strip(q: Queries, lang: str = "zh") -> str:
    """Events, late and refused per minute over the last stored minutes of the viewer's namespace."""
    now = q.latest_minute()
    if now is None:
        return ""
    start, end = now - (RATE_MINUTES - 1) * 60, now + 60
    events = _first(q.run("total_between", start=start, end=end))
    late = _first(q.run("late_total_between", start=start, end=end))
    refused = sum(int(r[1] or 0) for r in sink_queries.run(q.store, "rejects_by_reason", start=start, end=end))
    share = f" ({late / (events + late):.1%})" if events + late else ""
    return _STRIP.get(lang, _STRIP["zh"]).format(
        events=f"{events / RATE_MINUTES:,.0f}",
        late=f"{late / RATE_MINUTES:,.0f}",
        share=share,
        refused=f"{refused / RATE_MINUTES:,.0f}",
    )


def _first(rows: Any) -> int:
    return int(rows[0][0] or 0) if rows else 0


def register(app: dash.Dash, queries: NamespacedQueries, manifests: ManifestCache) -> None:
    """The banner and strip callbacks (on the refresh tick) and the enter/leave routes."""

    @app.callback(
        Output(BANNER, "children"),
        Output(BANNER, "className"),
        Output(STRIP, "children"),
        Input(Ids.TICK, "n_intervals"),
        Input(Ids.URL, "pathname"),
        Input(Ids.LANG, "value"),
    )
    def _banner(_n: int, _path: str, lang: str | None) -> tuple[list[Any], str, str]:
        m = manifests.get()
        inside = queries.viewer_manifest() is not None
        q = queries.pick()
        latest = q.latest_minute() if on_view(m) and (inside or m.target == "live") else None  # type: ignore[union-attr]
        children, cls = banner_children(m, inside, latest)
        return children, cls, rate_strip(q, lang or "zh")

    _routes(app.server, manifests)


def _routes(server: Flask, manifests: ManifestCache) -> None:
    def enter() -> Any:
        m = manifests.get()
        resp = redirect("/")
        if on_view(m) and m.target == "isolated":  # type: ignore[union-attr]
            resp.set_cookie(COOKIE, m.id, samesite="Lax")  # type: ignore[union-attr]
        return resp

    def leave() -> Any:
        resp = redirect("/")
        resp.delete_cookie(COOKIE)
        return resp

    server.add_url_rule("/rehearsal/enter", "rehearsal_enter", enter)
    server.add_url_rule("/rehearsal/leave", "rehearsal_leave", leave)


def install(app: dash.Dash, queries: Queries, settings: Settings) -> NamespacedQueries:
    """Wrap the app's queries and add the banner's callback and routes; returns what callbacks use."""
    manifests = ManifestCache(settings)
    namespaced = NamespacedQueries(queries, settings, manifests)
    register(app, namespaced, manifests)
    return namespaced


# --------------------------------------------------------------------------- the rehearsal's sink
class Supervisor:
    """In the process that owns the chDB store: runs the sink of the current isolated rehearsal while
    it is on, stops it when it ends and, with `drop`, drops its database."""

    def __init__(self, settings: Settings, store: Store, poll_s: float = 0.5) -> None:
        self.settings, self.store, self.poll_s = settings, store, poll_s
        self._stop = threading.Event()
        self._running: tuple[str, Any, Any] | None = None  # (id, sink threads, store view)
        self.thread = threading.Thread(target=self._loop, name="rehearsal-supervisor", daemon=True)
        self.error: BaseException | None = None

    def start(self) -> Supervisor:
        self.thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self.thread.join(30)
        if self._running is not None:
            self._stop_sink(drop=False)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.step()
            except Exception as err:
                self.error = err
                log.exception("rehearsal supervisor")
            self._stop.wait(self.poll_s)

    def step(self) -> None:
        m = read_manifest(self.settings)
        m = m if isinstance(m, Manifest) and m.target == "isolated" else None
        if self._running is not None and (m is None or m.id != self._running[0] or m.status == "ended"):
            self._stop_sink(drop=m is not None and m.id == self._running[0] and m.drop)
        if m is not None and m.status != "ended" and self._running is None:
            self._start_sink(m)

    def _start_sink(self, m: Manifest) -> None:
        from prometheus_client import CollectorRegistry

        from sinks.migrate import migrate
        from sinks.runner import start_sink_thread

        ns = namespace(self.settings, m.id)
        view = self.store.with_database(ns.clickhouse_database)  # type: ignore[attr-defined]
        migrate(view)
        sink = start_sink_thread(ns, view, CollectorRegistry())
        self._running = (m.id, sink, view)
        sink_marker(self.settings, m.id).touch()
        log.info("rehearsal %s: sink running into %s", m.id, ns.clickhouse_database)

    def _stop_sink(self, drop: bool) -> None:
        rid, sink, view = self._running  # type: ignore[misc]
        sink.stop()
        if drop:
            view.drop_database()
            log.info("rehearsal %s: database %s dropped", rid, view.database)
        self._running = None
        sink_marker(self.settings, rid).unlink(missing_ok=True)
