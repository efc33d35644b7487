"""Delivery: bounded queue that never blocks detection, retries, webhook and Alertmanager payloads."""

from __future__ import annotations

import threading
import time
from collections import Counter

from alerts.delivery import AlertmanagerReceiver, DeliveryError, DeliveryHub, DeliveryWorker, WebhookReceiver, rfc3339
from alerts.model import Notification
from tests.alerts.webhook_server import WebhookServer

LABELS = {"alertname": "TrafficSurge", "severity": "warning", "scope": "province", "province": "220000"}


def note(status: str = "firing", refresh: bool = False, at: float = 1_668_000_000.0) -> Notification:
    return Notification(
        status,
        "abc",
        LABELS,
        {"summary": "Jilin 4.0x"},
        at - 300,
        at if status == "resolved" else None,
        at,
        refresh=refresh,
    )


class Recorder:
    def __init__(self) -> None:
        self.outcomes: Counter[str] = Counter()

    def __call__(self, receiver: str, outcome: str, n: int) -> None:
        self.outcomes[outcome] += n


class Blocking:
    name = "blocking"

    def __init__(self) -> None:
        self.release = threading.Event()
        self.sent: list[int] = []

    def wants(self, n: Notification) -> bool:
        return True

    def send(self, notes) -> None:  # type: ignore[no-untyped-def]
        self.release.wait(10)
        self.sent.append(len(notes))


class Flaky:
    name = "flaky"

    def __init__(self, failures: int, retryable: bool = True) -> None:
        self.failures, self.retryable, self.calls = failures, retryable, 0

    def wants(self, n: Notification) -> bool:
        return True

    def send(self, notes) -> None:  # type: ignore[no-untyped-def]
        self.calls += 1
        if self.calls <= self.failures:
            raise DeliveryError("receiver down", retryable=self.retryable)


def test_a_stuck_receiver_never_blocks_submit_and_the_queue_stays_bounded() -> None:
    rec, r = Recorder(), Blocking()
    w = DeliveryWorker(r, maxsize=5, on_outcome=rec).start()
    try:
        t0 = time.monotonic()
        results = [w.submit([note()]) for _ in range(200)]
        assert time.monotonic() - t0 < 1.0  # 200 submits while the receiver hangs
        assert w.depth <= 5 and results.count(False) >= 190
        assert rec.outcomes["dropped"] >= 190
        r.release.set()
        assert w.wait_idle(10)
        assert 1 <= len(r.sent) <= 6
    finally:
        r.release.set()
        w.stop()


def test_retries_with_backoff_then_success() -> None:
    rec, r = Recorder(), Flaky(failures=2)
    w = DeliveryWorker(r, retries=3, backoff_s=0.0, on_outcome=rec).start()
    try:
        w.submit([note()])
        assert w.wait_idle(5)
    finally:
        w.stop()
    assert r.calls == 3 and rec.outcomes == Counter({"retried": 2, "sent": 1})


def test_gives_up_after_retries_and_on_client_errors() -> None:
    rec = Recorder()
    w = DeliveryWorker(Flaky(failures=99), retries=2, backoff_s=0.0, on_outcome=rec).start()
    w2 = DeliveryWorker(Flaky(failures=99, retryable=False), retries=5, backoff_s=0.0, on_outcome=rec).start()
    try:
        w.submit([note()])
        w2.submit([note()])
        assert w.wait_idle(5) and w2.wait_idle(5)
    finally:
        w.stop()
        w2.stop()
    assert rec.outcomes == Counter({"retried": 2, "failed": 2})


def test_webhook_gets_alertmanager_shaped_payloads_without_refreshes() -> None:
    with WebhookServer(statuses=[503]) as srv:
        rec = Recorder()
        w = DeliveryWorker(WebhookReceiver(srv.url, timeout=5), backoff_s=0.0, on_outcome=rec).start()
        try:
            w.submit([note("firing"), note("firing", refresh=True)])
            body = srv.received.get(timeout=10)
            w.submit([note("resolved")])
            body2 = srv.received.get(timeout=10)
            assert w.wait_idle(5)
        finally:
            w.stop()
    assert body["version"] == "4" and body["status"] == "firing" and len(body["alerts"]) == 1
    a = body["alerts"][0]
    assert a["labels"] == LABELS and a["annotations"]["summary"] == "Jilin 4.0x"
    assert a["startsAt"] == rfc3339(1_668_000_000.0 - 300) and a["fingerprint"] == "abc"
    assert body2["status"] == "resolved" and body2["alerts"][0]["endsAt"] == rfc3339(1_668_000_000.0)
    assert rec.outcomes["retried"] == 1 and rec.outcomes["sent"] == 2


def test_alertmanager_payload_keeps_firing_alerts_alive_by_wall_clock() -> None:
    r = AlertmanagerReceiver("http://127.0.0.1:1", firing_ttl_s=600, wall=lambda: 2_000_000_000.0)
    replayed = note("firing", at=1_647_000_000.0)  # March 2022, replayed today
    [item] = r.payload([replayed])
    assert item["startsAt"] == rfc3339(1_647_000_000.0 - 300)
    assert item["endsAt"] == rfc3339(2_000_000_600.0)
    [item] = r.payload([note("resolved", at=1_647_000_000.0)])
    assert item["endsAt"] == rfc3339(1_647_000_000.0)
    assert r.wants(note(refresh=True))


def test_hub_fans_out_and_one_dead_receiver_does_not_hold_the_other() -> None:
    dead, rec = Blocking(), Recorder()
    with WebhookServer() as srv:
        hub = DeliveryHub([DeliveryWorker(dead, maxsize=2), DeliveryWorker(WebhookReceiver(srv.url), on_outcome=rec)])
        hub.start()
        try:
            for _ in range(3):
                hub.submit([note()])
            for _ in range(3):
                srv.received.get(timeout=10)
        finally:
            dead.release.set()
            hub.stop()
    assert rec.outcomes["sent"] == 3


# -- chat group robots (issue 14): WeCom, DingTalk (signed), Feishu (signed), against local fakes --


def test_chat_robots_get_their_card_formats_and_dingtalk_and_feishu_signatures() -> None:
    from alerts.delivery import ChatReceiver
    from tests.alerts.fake_robots import FakeRobots

    with FakeRobots() as robots:
        rec = Recorder()
        receivers = [
            WebhookReceiver(robots.wecom, name="webhook0"),
            WebhookReceiver(robots.dingtalk),
            WebhookReceiver(robots.feishu),
        ]
        assert all(isinstance(r, ChatReceiver) for r in receivers)  # the URL prefix picks the robot
        hub = DeliveryHub([DeliveryWorker(r, backoff_s=0.0, on_outcome=rec) for r in receivers]).start()
        try:
            hub.submit([note("firing"), note("firing", refresh=True), note("resolved")])
            got = {k: [robots.received[k].get(timeout=10) for _ in range(2)] for k in ("wecom", "dingtalk", "feishu")}
            assert hub.wait_idle(10)
        finally:
            hub.stop()
    assert robots.refused == [] and rec.outcomes == Counter({"sent": 6})  # refreshes are not sent to people
    assert got["wecom"][0]["msgtype"] == "markdown" and "告警中" in got["wecom"][0]["markdown"]["content"]
    assert "吉林" in got["dingtalk"][0]["markdown"]["title"] and "已恢复" in got["dingtalk"][1]["markdown"]["title"]
    card = got["feishu"][0]["card"]
    assert card["header"]["template"] == "red" and got["feishu"][1]["card"]["header"]["template"] == "green"


def test_cards_with_a_link_and_refusals_by_the_robot() -> None:
    from alerts.delivery import ChatReceiver
    from tests.alerts.fake_robots import FakeRobots

    with FakeRobots() as robots:
        link = "http://127.0.0.1:8050/alerts"
        ChatReceiver(robots.wecom, link=link).send([note()])
        ChatReceiver(robots.dingtalk, link=link).send([note()])
        ChatReceiver(robots.feishu, link=link).send([note()])
        wecom = robots.received["wecom"].get(timeout=5)
        assert wecom["msgtype"] == "template_card" and wecom["template_card"]["card_action"]["url"] == link
        assert robots.received["dingtalk"].get(timeout=5)["actionCard"]["singleURL"] == link
        assert robots.received["feishu"].get(timeout=5)["card"]["elements"][-1]["tag"] == "action"
        # a wrong secret: the robot answers 200 with its error code, which is a failed delivery
        bad = ChatReceiver(robots.dingtalk.replace("#SEC", "#SECwrong"))
        try:
            bad.send([note()])
            raise AssertionError("a bad signature was accepted")
        except DeliveryError as err:
            assert "310000" in str(err) and not err.retryable
        late = ChatReceiver(robots.feishu, clock=lambda: time.time() - 7200)  # a timestamp two hours old
        try:
            late.send([note()])
            raise AssertionError("a stale Feishu signature was accepted")
        except DeliveryError as err:
            assert "19021" in str(err)
        assert [k for k, _ in robots.refused] == ["dingtalk", "feishu"]
