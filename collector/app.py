"""The collector's HTTP face: a Falcon ASGI app (chosen by measurement, bench/README.md).

POST /api/event   one event (object) or a batch (array); JSON or text/plain (sendBeacon); gzip
                  bodies with a cap on the inflated size. 202 {"accepted","refused","errors"};
                  400/413/415/422 name the field; 429 and 503 carry Retry-After.
GET  /t.js        the web tracker          GET /healthz, /metrics
"""

from __future__ import annotations

import time
import zlib
from importlib import resources
from typing import Any

import falcon
import falcon.asgi
import msgspec
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from collector.limits import retry_after
from collector.service import Collector, Outcome, SpoolFull
from collector.shedding import LoopLag

_json = msgspec.json.Encoder()
_TYPES = ("application/json", "text/plain", "", "application/x-www-form-urlencoded")  # the last: curl -d
MAX_ERRORS = 20  # refusals listed in an answer (all are counted)


class TooLarge(Exception):
    pass


async def read_body(req: falcon.asgi.Request, limit: int) -> bytes:
    """The body, refusing (TooLarge) once more than `limit` bytes came, whatever Content-Length said."""
    if req.content_length is not None and req.content_length > limit:
        raise TooLarge(f"body of {req.content_length} bytes > {limit}")
    chunks: list[bytes] = []
    size = 0
    async for chunk in req.stream:
        size += len(chunk)
        if size > limit:
            raise TooLarge(f"body over {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def inflate(body: bytes, cap: int) -> bytes:
    """gunzip with a cap on the output: a gzip bomb stops at `cap` bytes, never fills memory."""
    d = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = d.decompress(body, cap + 1)
    except zlib.error as err:
        raise ValueError(f"bad gzip: {err}") from None
    if len(out) > cap or d.unconsumed_tail:
        raise TooLarge(f"inflated body over {cap} bytes")
    if not d.eof:
        raise ValueError("truncated gzip")
    return out


def _peer(req: falcon.asgi.Request) -> str:
    """The TCP peer from the ASGI scope ((host, port), any iterable); falcon's `remote_addr` would
    parse the proxy headers first, which collector.address does once, by its own trust rules. No
    peer (a Unix socket) is a local one, 127.0.0.1, as falcon has it."""
    client = req.scope.get("client")
    if not client:
        return "127.0.0.1"
    host, _ = client
    return str(host)


class Events:
    def __init__(self, c: Collector) -> None:
        self.c = c
        s = c.settings
        self.origins = set(s.collector_cors_origins)
        self.any_origin = "*" in self.origins
        self.lag = LoopLag(s.collector_shed_lag_ms / 1000)

    def _cors(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> bool:
        origin = req.get_header("Origin")
        if origin is None:
            return True
        if self.any_origin or origin in self.origins:
            resp.set_header("Access-Control-Allow-Origin", origin)
            resp.set_header("Vary", "Origin")
            return True
        return False

    async def on_options(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        if not self._cors(req, resp):
            self._refuse(resp, 403, "origin", "origin", "origin not in EDU_COLLECTOR_CORS_ORIGINS")
            return
        resp.status = 204
        resp.set_header("Access-Control-Allow-Methods", "POST, OPTIONS")
        resp.set_header("Access-Control-Allow-Headers", "Content-Type, Content-Encoding")
        resp.set_header("Access-Control-Max-Age", "86400")

    def _refuse(
        self, resp: falcon.asgi.Response, status: int, reason: str, field: str, detail: str, retry: float | None = None
    ) -> None:
        resp.status = status
        resp.content_type = "application/json"
        resp.data = _json.encode({"error": detail, "field": field, "reason": reason})
        if retry is not None:
            resp.set_header("Retry-After", retry_after(retry))
        m = self.c.metrics
        m.child(m.refused, reason).inc()

    async def on_post(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        t0 = time.perf_counter()
        try:
            await self._post(req, resp)
        finally:
            m = self.c.metrics
            m.latency.observe(time.perf_counter() - t0)
            m.child(m.requests, str(resp.status)[:3]).inc()

    async def _post(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        c, s = self.c, self.c.settings
        if self.lag.overloaded():
            return self._refuse(resp, 503, "overloaded", "body", "collector overloaded; retry later", 1)
        if not self._cors(req, resp):
            return self._refuse(resp, 403, "origin", "origin", "origin not in EDU_COLLECTOR_CORS_ORIGINS")
        peer = _peer(req)
        address = c.addresses.resolve(peer, req.get_header("X-Forwarded-For"), req.get_header("X-Real-IP"))
        wait = c.limiter.allow(address or "", time.monotonic())
        if wait:
            return self._refuse(resp, 429, "rate_limited", "address", "too many requests from this address", wait)
        ctype = (req.content_type or "").partition(";")[0].strip().lower()
        if ctype not in _TYPES:
            return self._refuse(resp, 415, "content_type", "Content-Type", "send application/json or text/plain")
        try:
            body = await read_body(req, s.collector_max_body_bytes)
            encoding = (req.get_header("Content-Encoding") or "").strip().lower()
            if encoding == "gzip":
                body = inflate(body, s.collector_max_decompressed_bytes)
            elif encoding not in ("", "identity"):
                return self._refuse(resp, 415, "content_encoding", "Content-Encoding", "only gzip is understood")
        except TooLarge as err:
            return self._refuse(resp, 413, "too_large", "body", str(err))
        except ValueError as err:
            return self._refuse(resp, 400, "gzip", "body", str(err))
        sent = req.get_param_as_int("sent", min_value=0)  # falcon answers 400 naming it if malformed
        try:
            out = c.accept(body, address=address, user_agent=req.get_header("User-Agent") or "", sent_ms=sent)
        except SpoolFull:
            return self._refuse(resp, 503, "spool_full", "body", "collector spool full; retry later", 5)
        self._answer(resp, out)

    def _answer(self, resp: falcon.asgi.Response, out: Outcome) -> None:
        m = self.c.metrics
        for r in out.refusals:
            m.child(m.refused, r.reason).inc()
        whole = out.refusals[0] if out.refusals and out.refusals[0].index == -1 and not out.accepted else None
        resp.content_type = "application/json"
        if whole is not None and not out.bots:
            resp.status = (
                400 if whole.reason in ("json", "too_deep") else (413 if whole.reason == "batch_too_large" else 422)
            )
            resp.data = _json.encode(
                {
                    "error": whole.detail,
                    "field": whole.field,
                    "reason": whole.reason,
                    "accepted": 0,
                    "refused": out.refused,
                }
            )
            return
        resp.status = 202 if out.accepted or out.bots or not out.refusals else 422
        answer: dict[str, Any] = {"accepted": out.accepted, "refused": out.refused}
        if out.bots:
            answer["bots"] = out.bots
        if out.refusals:
            answer["errors"] = [r.as_dict() for r in out.refusals[:MAX_ERRORS]]
        resp.data = _json.encode(answer)


class Health:
    def __init__(self, c: Collector) -> None:
        self.c = c

    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        h = self.c.health()
        resp.content_type = "application/json"
        resp.status = 200 if not h["spool_full"] else 503
        resp.data = _json.encode(h)


class Metrics:
    def __init__(self, c: Collector) -> None:
        self.c = c

    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        self.c.refresh_gauges()
        resp.content_type = CONTENT_TYPE_LATEST
        resp.data = generate_latest(self.c.registry)


class Tracker:
    def __init__(self) -> None:
        self.js = resources.files("collector").joinpath("static/tracker.js").read_bytes()

    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        resp.content_type = "application/javascript; charset=utf-8"
        resp.set_header("Cache-Control", "public, max-age=3600")
        resp.data = self.js


def create_app(c: Collector) -> falcon.asgi.App:
    app = falcon.asgi.App(cors_enable=False)
    app.req_options.strip_url_path_trailing_slash = True
    app.add_route("/api/event", Events(c))
    app.add_route("/healthz", Health(c))
    app.add_route("/metrics", Metrics(c))
    app.add_route("/t.js", Tracker())
    return app
