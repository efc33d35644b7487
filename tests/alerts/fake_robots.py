"""Local stand-ins for the WeCom, DingTalk and Feishu group robots, on loopback.

Each checks what the vendor's robot checks, from their documentation: the message shape of a
card (or markdown) message, the key / access token in the URL, and for a signed robot the
signature (DingTalk: `timestamp` ms and `sign` = base64 HMAC-SHA256 of "timestamp\\nsecret" keyed by
the secret, within an hour; Feishu: `timestamp` s and `sign` = base64 HMAC-SHA256 keyed by
"timestamp\\nsecret" over nothing). They answer as the robots do: HTTP 200 with a JSON code, 0 for
accepted, the vendor's error code otherwise. Accepted messages land in `received[kind]`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import queue
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

WECOM_KEY, DING_TOKEN, DING_SECRET, FEISHU_HOOK, FEISHU_SECRET = (
    "wecom-key-1",
    "ding-token-1",
    "SECding0123456789",
    "feishu-hook-1",
    "feishu-secret-1",
)


def _wecom_ok(body: dict[str, Any]) -> bool:
    kind = body.get("msgtype")
    if kind == "markdown":
        return isinstance(body.get("markdown", {}).get("content"), str) and bool(body["markdown"]["content"])
    if kind == "template_card":
        card = body.get("template_card", {})
        return (
            card.get("card_type") == "text_notice"
            and bool(card.get("main_title", {}).get("title"))
            and card.get("card_action", {}).get("type") in (1, 2)
        )
    return False


def _ding_ok(body: dict[str, Any]) -> bool:
    kind = body.get("msgtype")
    if kind == "markdown":
        return bool(body.get("markdown", {}).get("title")) and bool(body["markdown"].get("text"))
    if kind == "actionCard":
        card = body.get("actionCard", {})
        return bool(card.get("title")) and bool(card.get("text")) and bool(card.get("singleURL"))
    return False


def _feishu_ok(body: dict[str, Any]) -> bool:
    card = body.get("card", {})
    return (
        body.get("msg_type") == "interactive"
        and card.get("header", {}).get("title", {}).get("tag") == "plain_text"
        and isinstance(card.get("elements"), list)
        and bool(card["elements"])
    )


class FakeRobots:
    def __init__(self) -> None:
        self.received: dict[str, queue.Queue[dict[str, Any]]] = {
            k: queue.Queue() for k in ("wecom", "dingtalk", "feishu")
        }
        self.refused: list[tuple[str, int]] = []
        robots = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = None
                kind, answer = robots.judge(self.path, body)
                data = json.dumps(answer).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    # the URLs to configure, as `alerts_webhook_urls` entries
    @property
    def wecom(self) -> str:
        return f"wecom:{self.base}/cgi-bin/webhook/send?key={WECOM_KEY}"

    @property
    def dingtalk(self) -> str:
        return f"dingtalk:{self.base}/robot/send?access_token={DING_TOKEN}#{DING_SECRET}"

    @property
    def feishu(self) -> str:
        return f"feishu:{self.base}/open-apis/bot/v2/hook/{FEISHU_HOOK}#{FEISHU_SECRET}"

    def judge(self, path: str, body: Any) -> tuple[str, dict[str, Any]]:
        url = urlsplit(path)
        q = {k: v[-1] for k, v in parse_qs(url.query).items()}
        if not isinstance(body, dict):
            return self._refuse("?", {"errcode": 40001, "errmsg": "invalid json"})
        if url.path == "/cgi-bin/webhook/send":
            if q.get("key") != WECOM_KEY:
                return self._refuse("wecom", {"errcode": 93000, "errmsg": "invalid webhook url"})
            if not _wecom_ok(body):
                return self._refuse("wecom", {"errcode": 40008, "errmsg": "invalid message type"})
            return self._accept("wecom", body, {"errcode": 0, "errmsg": "ok"})
        if url.path == "/robot/send":
            ts, sign = q.get("timestamp", ""), q.get("sign", "")
            expected = base64.b64encode(
                hmac.new(DING_SECRET.encode(), f"{ts}\n{DING_SECRET}".encode(), hashlib.sha256).digest()
            ).decode()
            if q.get("access_token") != DING_TOKEN:
                return self._refuse("dingtalk", {"errcode": 300001, "errmsg": "token is not exist"})
            if (
                not ts.isdigit()
                or abs(int(ts) - time.time() * 1000) > 3_600_000
                or not hmac.compare_digest(sign, expected)
            ):
                return self._refuse("dingtalk", {"errcode": 310000, "errmsg": "sign not match"})
            if not _ding_ok(body):
                return self._refuse("dingtalk", {"errcode": 40035, "errmsg": "bad msgtype"})
            return self._accept("dingtalk", body, {"errcode": 0, "errmsg": "ok"})
        if url.path == f"/open-apis/bot/v2/hook/{FEISHU_HOOK}":
            ts = str(body.get("timestamp", ""))
            expected = base64.b64encode(
                hmac.new(f"{ts}\n{FEISHU_SECRET}".encode(), b"", hashlib.sha256).digest()
            ).decode()
            if (
                not ts.isdigit()
                or abs(int(ts) - time.time()) > 3600
                or not hmac.compare_digest(str(body.get("sign", "")), expected)
            ):
                return self._refuse(
                    "feishu", {"code": 19021, "msg": "sign match fail or timestamp is not within one hour"}
                )
            if not _feishu_ok(body):
                return self._refuse("feishu", {"code": 9499, "msg": "Bad Request"})
            return self._accept("feishu", body, {"code": 0, "msg": "success"})
        return self._refuse("?", {"errcode": 404, "errmsg": "no such robot"})

    def _accept(self, kind: str, body: dict[str, Any], answer: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        self.received[kind].put(body)
        return kind, answer

    def _refuse(self, kind: str, answer: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        self.refused.append((kind, int(answer.get("errcode", answer.get("code", -1)))))
        return kind, answer

    def __enter__(self) -> FakeRobots:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(5)
