"""The sink's health, for /healthz and the cockpit's Live/Stale pill: is the store taking writes, when
did a flush last succeed, how new is the newest stored data, is the sink running at all.

Each sink updates its own `SinkHealth`; `report()` folds them into one answer. Wall-clock times are
Unix seconds; `newest_data_s` is event time (the newest minute or bucket a flush stored), so a
replay of 2022 is "fresh" by the data it writes, not by the calendar.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field, fields
from typing import Any, Literal

State = Literal["starting", "running", "paused", "failed", "stopped"]


@dataclass
class SinkHealth:
    name: str
    state: State = "starting"
    store_up: bool = True
    last_flush_at: float | None = None  # wall clock of the last flush that reached the store
    newest_data_s: int | None = None  # event time of the newest row stored
    error: str | None = None  # the last storage error (transient while paused, fatal when failed)
    restarts: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def flushed(self, newest_data_s: int | None, now: float | None = None) -> None:
        with self._lock:
            self.state, self.store_up, self.error = "running", True, None
            self.last_flush_at = time.time() if now is None else now
            if newest_data_s is not None and (self.newest_data_s is None or newest_data_s > self.newest_data_s):
                self.newest_data_s = newest_data_s

    def store_down(self, error: str) -> None:
        with self._lock:
            self.state, self.store_up, self.error = "paused", False, error

    def failed(self, error: str) -> None:
        with self._lock:
            self.state, self.error = "failed", error

    def set_state(self, state: State) -> None:
        with self._lock:
            self.state = state

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {f.name: getattr(self, f.name) for f in fields(self) if not f.name.startswith("_")}


def report(sinks: list[SinkHealth]) -> dict[str, Any]:
    """One answer for /healthz: `ok` only if every sink runs and reaches its store.

    `status`: ok | paused (the store refuses writes: the sink waits and retries) | failed (a sink
    stopped on a permanent error or died) | starting. The newest data and last flush are the
    newest over all sinks; each sink's own view is under `sinks`.
    """
    snaps = [s.snapshot() for s in sinks]
    states = {s["state"] for s in snaps}
    if "failed" in states or "stopped" in states:
        status = "failed"
    elif "paused" in states or not all(s["store_up"] for s in snaps):
        status = "paused"
    elif "starting" in states:
        status = "starting"
    else:
        status = "ok"
    flushes = [s["last_flush_at"] for s in snaps if s["last_flush_at"] is not None]
    newest = [s["newest_data_s"] for s in snaps if s["newest_data_s"] is not None]
    return {
        "status": status,
        "store_up": all(s["store_up"] for s in snaps),
        "last_flush_at": max(flushes) if flushes else None,
        "newest_data_s": max(newest) if newest else None,
        "sinks": snaps,
    }


def serve(host: str, port: int, registry: Any, health: Any) -> Any:
    """edu-sink's own HTTP endpoint: /metrics (Prometheus) and /healthz (`health()` as JSON, 200 when
    ok, 503 otherwise). Runs in a daemon thread; returns the server (`.shutdown()` stops it)."""
    import json
    from wsgiref.simple_server import WSGIRequestHandler, make_server

    from prometheus_client import make_wsgi_app

    metrics_app = make_wsgi_app(registry)

    def app(environ: dict[str, Any], start_response: Any) -> Any:
        if environ.get("PATH_INFO") == "/healthz":
            body = health()
            code = "200 OK" if body["status"] == "ok" else "503 Service Unavailable"
            start_response(code, [("Content-Type", "application/json")])
            return [json.dumps(body).encode()]
        return metrics_app(environ, start_response)

    class Quiet(WSGIRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = make_server(host, port, app, handler_class=Quiet)
    threading.Thread(target=server.serve_forever, name="edu-sink-http", daemon=True).start()
    return server


def add_to_healthz(server: Any, health: Any, endpoint: str = "healthz") -> None:
    """Local mode: fold the in-process sink's health into the cockpit's /healthz (a Flask app).

    The cockpit's own answer (can it query the store?) stays; the body gains `sink` (`report()`),
    and the status becomes 503 unless the sink is ok too.
    """
    from flask import jsonify

    own = server.view_functions[endpoint]

    def healthz() -> Any:
        got = own()
        resp, code = got if isinstance(got, tuple) else (got, got.status_code)
        body = dict(resp.get_json() or {})
        sink = health()
        body["sink"] = sink
        if sink["status"] != "ok":
            code = 503
            body["status"] = "unavailable" if body.get("status") != "ok" else f"sink {sink['status']}"
        return jsonify(body), code

    server.view_functions[endpoint] = healthz
