"""Delivery of notifications to Alertmanager (v2 API), plain webhooks and the chat group robots
operations teams in China read (WeCom 企业微信, DingTalk 钉钉 with signed webhooks, Feishu 飞书), each
in its own message-card format, apart from detection.

Why a bounded queue and a thread per receiver: detection runs in the stream worker's loop and must
never wait on a network. `submit` only enqueues (dropping the oldest item when a receiver is far
behind, and counting it); each receiver has its own thread, so one dead receiver delays nobody else.
A failed send is retried with exponential backoff (waiting on the stop event, so shutdown is prompt);
client errors (4xx other than 429) are not retried, since the same body would fail again.

Timestamps: alerts are evaluated in event time (a replay of March 2022 alerts "in 2022"), but
Alertmanager expires firing alerts by *its* wall clock. Firing alerts therefore carry
endsAt = wall now + `firing_ttl_s` and are refreshed by the book's refresh notifications; resolved
alerts carry their event-time resolution, which is in the past for Alertmanager either way.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

from alerts.model import Notification

log = logging.getLogger(__name__)

Outcome = Callable[[str, str, int], None]  # (receiver, outcome, count): sent/retried/failed/dropped


def rfc3339(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class DeliveryError(Exception):
    def __init__(self, message: str, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable


class Receiver(Protocol):
    name: str

    def wants(self, note: Notification) -> bool: ...

    def send(self, notes: Sequence[Notification]) -> None: ...


def post_json(url: str, body: Any, timeout: float) -> int:
    """POST JSON; returns the status, raises DeliveryError (retryable unless a plain 4xx)."""
    data = json.dumps(body, ensure_ascii=False).encode()
    req = urllib.request.Request(url, data=data, method="POST", headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            resp.read()
            return int(resp.status)
    except urllib.error.HTTPError as err:
        retry = err.code >= 500 or err.code == 429
        raise DeliveryError(f"{url}: HTTP {err.code}", retryable=retry) from None
    except (urllib.error.URLError, OSError, TimeoutError) as err:
        raise DeliveryError(f"{url}: {err}") from None


class AlertmanagerReceiver:
    """POST /api/v2/alerts: every notification, including refreshes that keep firing alerts alive."""

    def __init__(
        self,
        base_url: str,
        timeout: float = 5.0,
        firing_ttl_s: float = 600.0,
        generator_url: str = "",
        wall: Callable[[], float] = time.time,
        name: str = "alertmanager",
    ) -> None:
        self.url = base_url.rstrip("/") + "/api/v2/alerts"
        self.timeout, self.ttl, self.generator_url = timeout, firing_ttl_s, generator_url
        self.wall, self.name = wall, name

    def wants(self, note: Notification) -> bool:
        return True

    def payload(self, notes: Sequence[Notification]) -> list[dict[str, Any]]:
        now = self.wall()
        out = []
        for n in notes:
            ends = n.ends_at if n.status == "resolved" and n.ends_at is not None else now + self.ttl
            item: dict[str, Any] = {
                "labels": dict(n.labels),
                "annotations": {**n.annotations, **n.extra},
                "startsAt": rfc3339(min(n.starts_at, ends)),
                "endsAt": rfc3339(ends),
            }
            if self.generator_url:
                item["generatorURL"] = self.generator_url
            out.append(item)
        return out

    def send(self, notes: Sequence[Notification]) -> None:
        post_json(self.url, self.payload(notes), self.timeout)


class WebhookReceiver:
    """A plain webhook in Alertmanager's version-4 shape, one POST per status; skips refreshes.

    A URL prefixed `wecom:`, `dingtalk:` or `feishu:` is a chat group robot instead (`ChatReceiver`),
    so `alerts_webhook_urls` configures all of them: `dingtalk:https://…/robot/send?access_token=T#SEC…`
    (the secret of a signed robot after '#', never sent), `feishu:https://…/bot/v2/hook/ID#secret`.
    """

    def __new__(cls, url: str, timeout: float = 5.0, name: str = "webhook") -> WebhookReceiver:
        kind = url.partition(":")[0]
        if cls is WebhookReceiver and kind in CHAT_KINDS:
            return ChatReceiver(url, timeout, name)  # type: ignore[return-value]
        return super().__new__(cls)

    def __init__(self, url: str, timeout: float = 5.0, name: str = "webhook") -> None:
        self.url, self.timeout, self.name = url, timeout, name

    def wants(self, note: Notification) -> bool:
        return not note.refresh

    def payload(self, notes: Sequence[Notification]) -> list[dict[str, Any]]:
        bodies = []
        for status in ("firing", "resolved"):
            group = [n for n in notes if n.status == status]
            if not group:
                continue
            alerts = [
                {
                    "status": n.status,
                    "labels": dict(n.labels),
                    "annotations": {**n.annotations, **n.extra},
                    "startsAt": rfc3339(n.starts_at),
                    "endsAt": rfc3339(n.ends_at) if n.ends_at else "0001-01-01T00:00:00Z",
                    "fingerprint": n.fingerprint,
                }
                for n in group
            ]
            common = {k: v for k, v in group[0].labels.items() if all(n.labels.get(k) == v for n in group)}
            bodies.append(
                {
                    "version": "4",
                    "receiver": self.name,
                    "status": status,
                    "alerts": alerts,
                    "groupLabels": {},
                    "commonLabels": common,
                    "commonAnnotations": {},
                    "groupKey": ",".join(sorted(n.fingerprint for n in group)),
                    "externalURL": "",
                }
            )
        return bodies

    def send(self, notes: Sequence[Notification]) -> None:
        for body in self.payload(notes):
            post_json(self.url, body, self.timeout)


class DeliveryWorker:
    """One receiver's bounded queue and thread."""

    def __init__(
        self,
        receiver: Receiver,
        maxsize: int = 1000,
        retries: int = 5,
        backoff_s: float = 0.5,
        max_backoff_s: float = 30.0,
        on_outcome: Outcome | None = None,
    ) -> None:
        self.receiver = receiver
        self.q: queue.Queue[list[Notification]] = queue.Queue(maxsize=maxsize)
        self.retries, self.backoff_s, self.max_backoff_s = retries, backoff_s, max_backoff_s
        self.on_outcome = on_outcome or (lambda _r, _o, _n: None)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> DeliveryWorker:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=f"deliver-{self.receiver.name}", daemon=True)
            self._thread.start()
        return self

    def submit(self, notes: Iterable[Notification]) -> bool:
        """Enqueue without blocking; if full, the oldest batch is dropped. False if something was dropped."""
        batch = [n for n in notes if self.receiver.wants(n)]
        if not batch:
            return True
        dropped = False
        while True:
            try:
                self.q.put_nowait(batch)
                return not dropped
            except queue.Full:
                try:
                    old = self.q.get_nowait()
                    self.q.task_done()
                    self.on_outcome(self.receiver.name, "dropped", len(old))
                    dropped = True
                except queue.Empty:
                    pass

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                batch = self.q.get(timeout=0.2)
            except queue.Empty:
                continue
            try:
                self._deliver(batch)
            finally:
                self.q.task_done()

    def _deliver(self, batch: list[Notification]) -> None:
        name = self.receiver.name
        delay = self.backoff_s
        for attempt in range(self.retries + 1):
            try:
                self.receiver.send(batch)
                self.on_outcome(name, "sent", len(batch))
                return
            except DeliveryError as err:
                if not err.retryable or attempt == self.retries:
                    log.warning("delivery to %s failed for good: %s", name, err)
                    self.on_outcome(name, "failed", len(batch))
                    return
                log.info("delivery to %s failed (%s), retry %d in %.1fs", name, err, attempt + 1, delay)
                self.on_outcome(name, "retried", len(batch))
                if self._stop.wait(delay):
                    self.on_outcome(name, "failed", len(batch))
                    return
                delay = min(delay * 2, self.max_backoff_s)
            except Exception:  # a receiver bug must not kill the thread
                log.exception("receiver %s raised", name)
                self.on_outcome(name, "failed", len(batch))
                return

    def wait_idle(self, timeout: float) -> bool:
        """True once every submitted batch has been handled (for shutdown and tests)."""
        with self.q.all_tasks_done:
            return self.q.all_tasks_done.wait_for(lambda: self.q.unfinished_tasks == 0, timeout)

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    @property
    def depth(self) -> int:
        return self.q.qsize()


class DeliveryHub:
    """Fan a list of notifications out to every receiver's worker."""

    def __init__(self, workers: Sequence[DeliveryWorker]) -> None:
        self.workers = list(workers)

    def submit(self, notes: Sequence[Notification]) -> None:
        if notes:
            for w in self.workers:
                w.submit(notes)

    def start(self) -> DeliveryHub:
        for w in self.workers:
            w.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        for w in self.workers:
            w.stop(timeout)

    def wait_idle(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        return all(w.wait_idle(max(0.0, deadline - time.monotonic())) for w in self.workers)


# ----------------------------------------------------------------------------------------------
# Chat group robots. Formats from each vendor's robot documentation:
# - WeCom: POST {msgtype: "template_card", template_card: {card_type: "text_notice", ...}}; answers
#   {errcode: 0}. A card needs `card_action`, so without a link the markdown message is sent.
# - DingTalk: POST {msgtype: "actionCard" | "markdown", ...} to `...&timestamp=MS&sign=S`, where
#   S = urlencode(base64(HMAC-SHA256(key=secret, msg=f"{MS}\n{secret}"))); answers {errcode: 0}.
# - Feishu: POST {msg_type: "interactive", card: {header, elements}}, signed robots add
#   `timestamp` (s) and `sign` = base64(HMAC-SHA256(key=f"{ts}\n{secret}", msg=b"")); answers {code: 0}.
# Errors come back as HTTP 200 with a non-zero code: those are DeliveryErrors too, retried only
# for the vendors' rate-limit codes.

CHAT_KINDS = ("wecom", "dingtalk", "feishu")
RATE_LIMIT_CODES = {45009, 130101, 9499, 11232}
STATUS_ZH = {"firing": "告警中", "resolved": "已恢复"}
SEVERITY_ZH = {"critical": "严重", "warning": "警告", "info": "提示"}


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    import base64
    import hashlib
    import hmac

    digest = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def feishu_sign(secret: str, timestamp_s: int) -> str:
    import base64
    import hashlib
    import hmac

    digest = hmac.new(f"{timestamp_s}\n{secret}".encode(), b"", hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def _beijing(ts: float) -> str:
    return datetime.fromtimestamp(ts + 8 * 3600, tz=UTC).strftime("%m-%d %H:%M")


def _scope(labels: Mapping[str, str]) -> str:
    from contracts.geo import PROVINCE_BY_CODE

    parts = []
    if labels.get("province") in PROVINCE_BY_CODE:
        parts.append(PROVINCE_BY_CODE[labels["province"]].zh)
    elif labels.get("province"):
        parts.append(labels["province"])
    parts += [labels[k] for k in ("platform", "section", "resource") if labels.get(k)]
    return " · ".join(parts) or "全国"


def chat_lines(n: Notification) -> tuple[str, list[tuple[str, str]]]:
    """(title, [(field, value)]) of one notification, in Chinese for the duty room."""
    name = n.labels.get("alertname", "alert")
    title = f"【{STATUS_ZH.get(n.status, n.status)}】{name} · {_scope(n.labels)}"
    fields = [
        ("级别", SEVERITY_ZH.get(n.labels.get("severity", ""), n.labels.get("severity", "-"))),
        ("开始", _beijing(n.starts_at)),
    ]
    if n.ends_at is not None and n.status == "resolved":
        fields.append(("恢复", _beijing(n.ends_at)))
    if n.annotations.get("ratio"):
        fields.append(("倍数", f"{n.annotations['ratio']}×"))
    if n.annotations.get("summary"):
        fields.append(("摘要", n.annotations["summary"][:300]))
    return title, fields


class ChatReceiver:
    """One WeCom, DingTalk or Feishu group robot; one message per notification, refreshes skipped."""

    def __init__(
        self,
        spec: str,
        timeout: float = 5.0,
        name: str = "chat",
        link: str = "",
        clock: Callable[[], float] = time.time,
    ) -> None:
        kind, _, rest = spec.partition(":")
        if kind not in CHAT_KINDS:
            raise ValueError(f"a chat robot URL starts with one of {CHAT_KINDS}")
        url, _, secret = rest.partition("#")
        self.kind, self.url, self.secret, self.timeout = kind, url, secret, timeout
        self.name, self.link, self.clock = name if name != "webhook" else kind, link, clock

    def wants(self, note: Notification) -> bool:
        return not note.refresh

    def target(self) -> str:
        """The URL to POST to (DingTalk's signature rides in the query string)."""
        if self.kind == "dingtalk" and self.secret:
            from urllib.parse import quote_plus

            ms = int(self.clock() * 1000)
            sep = "&" if "?" in self.url else "?"
            return f"{self.url}{sep}timestamp={ms}&sign={quote_plus(dingtalk_sign(self.secret, ms))}"
        return self.url

    def payload(self, n: Notification) -> dict[str, Any]:
        title, fields = chat_lines(n)
        md = "\n".join([f"### {title}", *(f"- **{k}**：{v}" for k, v in fields)])
        if self.kind == "wecom":
            if not self.link:
                return {"msgtype": "markdown", "markdown": {"content": md}}
            return {
                "msgtype": "template_card",
                "template_card": {
                    "card_type": "text_notice",
                    "source": {"desc": "教育平台监测驾驶舱"},
                    "main_title": {"title": title[:26], "desc": _scope(n.labels)},
                    "horizontal_content_list": [{"keyname": k, "value": v[:30]} for k, v in fields[:6]],
                    "card_action": {"type": 1, "url": self.link},
                },
            }
        if self.kind == "dingtalk":
            if self.link:
                return {
                    "msgtype": "actionCard",
                    "actionCard": {
                        "title": title,
                        "text": md,
                        "btnOrientation": "0",
                        "singleTitle": "查看驾驶舱",
                        "singleURL": self.link,
                    },
                }
            return {"msgtype": "markdown", "markdown": {"title": title, "text": md}}
        body: dict[str, Any] = {
            "msg_type": "interactive",
            "card": {
                "config": {"wide_screen_mode": True},
                "header": {
                    "title": {"tag": "plain_text", "content": title},
                    "template": "green" if n.status == "resolved" else "red",
                },
                "elements": [
                    {
                        "tag": "div",
                        "fields": [
                            {"is_short": len(v) < 20, "text": {"tag": "lark_md", "content": f"**{k}**\n{v}"}}
                            for k, v in fields
                        ],
                    }
                ],
            },
        }
        if self.link:
            body["card"]["elements"].append(
                {
                    "tag": "action",
                    "actions": [
                        {
                            "tag": "button",
                            "text": {"tag": "plain_text", "content": "查看驾驶舱"},
                            "type": "primary",
                            "url": self.link,
                        }
                    ],
                }
            )
        if self.secret:
            ts = int(self.clock())
            body = {"timestamp": str(ts), "sign": feishu_sign(self.secret, ts), **body}
        return body

    def send(self, notes: Sequence[Notification]) -> None:
        for n in notes:
            answer = post_chat(self.target(), self.payload(n), self.timeout)
            code = answer.get("errcode", answer.get("code", answer.get("StatusCode", 0)))
            if code not in (0, None):
                raise DeliveryError(
                    f"{self.kind} robot refused: {code} {str(answer.get('errmsg') or answer.get('msg'))[:200]}",
                    retryable=code in RATE_LIMIT_CODES,
                )


def post_chat(url: str, body: Any, timeout: float) -> dict[str, Any]:
    """POST JSON and read the robot's JSON answer (errors arrive as HTTP 200 with a code)."""
    data = json.dumps(body, ensure_ascii=False).encode()
    req = urllib.request.Request(
        url, data=data, method="POST", headers={"Content-Type": "application/json; charset=utf-8"}
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            raw = resp.read(64 * 1024)
    except urllib.error.HTTPError as err:
        raise DeliveryError(
            f"{url.split('?')[0]}: HTTP {err.code}", retryable=err.code >= 500 or err.code == 429
        ) from None
    except (urllib.error.URLError, OSError, TimeoutError) as err:
        raise DeliveryError(f"{url.split('?')[0]}: {err}") from None
    try:
        answer = json.loads(raw or b"{}")
    except ValueError:
        raise DeliveryError(f"{url.split('?')[0]}: not JSON: {raw[:100]!r}") from None
    return answer if isinstance(answer, dict) else {}
