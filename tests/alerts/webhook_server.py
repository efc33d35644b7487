"""A local webhook receiver for tests: http.server on 127.0.0.1 in a thread, bodies into a queue.

Tests wait on `received.get(timeout=...)` (a condition), never on sleeps.
"""

from __future__ import annotations

import json
import queue
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class WebhookServer:
    def __init__(self, statuses: list[int] | None = None) -> None:
        self.received: queue.Queue[dict[str, Any] | list[Any]] = queue.Queue()
        self.paths: list[str] = []
        self._statuses = list(statuses or [])  # answered in order, then 200
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                status = outer._statuses.pop(0) if outer._statuses else 200
                if status == 200:
                    outer.paths.append(self.path)
                    outer.received.put(json.loads(body))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/hook"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> WebhookServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
