"""What every response and request of the cockpit's server goes through: size limits, security
headers, the reverse-proxy rule, and clear 4xx answers for bad values.

- Request bodies above `cockpit_max_request_bytes` are refused with 413 before they are read.
- Headers: a Content-Security-Policy Dash works under (its inline renderer script allowed by hash,
  `'unsafe-eval'` for Plotly's compiled expressions, inline styles for Plotly and React), frame
  ancestors none / X-Frame-Options DENY, nosniff, no referrer, and HSTS when cookies are Secure.
- Behind `cockpit_trusted_proxies` reverse proxies the client address is taken from
  X-Forwarded-For (werkzeug's ProxyFix), so login throttling counts each user, not the proxy.
- `BadParameter` (`cockpit.params`) becomes a 400 naming the parameter; a page URL's kiosk
  parameters are checked before the page is served.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.middleware.proxy_fix import ProxyFix

from cockpit.params import BadParameter, checked_kiosk

log = logging.getLogger(__name__)

PAGES = ("/", "/alerts", "/report")


def csp(script_hashes: list[str]) -> str:
    scripts = " ".join(h if h.startswith("'") else f"'{h}'" for h in script_hashes)
    return "; ".join(
        [
            "default-src 'self'",
            f"script-src 'self' 'unsafe-eval' {scripts}".strip(),
            "style-src 'self' 'unsafe-inline'",
            "img-src 'self' data: blob:",
            "font-src 'self' data:",
            "connect-src 'self'",
            "object-src 'none'",
            "base-uri 'self'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


def is_page(path: str) -> bool:
    return path in PAGES or path.startswith("/province/")


def install(server: Flask, settings: Any, script_hashes: list[str]) -> None:
    server.config["MAX_CONTENT_LENGTH"] = int(settings.cockpit_max_request_bytes)
    if settings.cockpit_trusted_proxies:
        n = int(settings.cockpit_trusted_proxies)
        server.wsgi_app = ProxyFix(server.wsgi_app, x_for=n, x_proto=n, x_host=n)  # type: ignore[method-assign]
    policy = csp(script_hashes)
    secure = bool(settings.cockpit_cookie_secure)

    @server.before_request
    def _limits() -> Any:
        length = request.content_length
        if length is not None and length > server.config["MAX_CONTENT_LENGTH"]:
            return jsonify(error=f"request body over {server.config['MAX_CONTENT_LENGTH']} bytes"), 413
        if request.method == "GET" and is_page(request.path) and request.args:
            try:
                checked_kiosk({k: request.args.get(k, "") for k in list(request.args)[:20]})
            except BadParameter as err:
                log.info("refused page parameters: %s", err)
                return jsonify(error=str(err)), 400
        return None

    @server.after_request
    def _headers(resp: Response) -> Response:
        resp.headers.setdefault("Content-Security-Policy", policy)
        resp.headers.setdefault("X-Frame-Options", "DENY")
        resp.headers.setdefault("X-Content-Type-Options", "nosniff")
        resp.headers.setdefault("Referrer-Policy", "no-referrer")
        if secure:
            resp.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        return resp

    @server.errorhandler(BadParameter)
    def _bad(err: BadParameter) -> tuple[Response, int]:
        log.info("refused: %s", err)  # the message holds a clipped value only
        return jsonify(error=str(err), parameter=err.name), 400

    @server.errorhandler(RequestEntityTooLarge)
    def _too_large(_err: RequestEntityTooLarge) -> tuple[Response, int]:
        return jsonify(error=f"request body over {server.config['MAX_CONTENT_LENGTH']} bytes"), 413
