"""Silences from the alerts page: the record produced to the alerts topic, the endpoint's checks, the
page's forms and badge; and the login throttle. Flask's test client and plain functions, no browser."""

from __future__ import annotations

import json
from pathlib import Path

from dash import html
from prometheus_client import CollectorRegistry

from cockpit.acks import SILENCE_DURATIONS_S
from cockpit.alert_log import SILENCE_ENDS, SILENCE_STARTS, AlertNow, parse_history
from cockpit.app import create_app
from cockpit.auth import LoginThrottle
from cockpit.pages import alerts
from cockpit.pages.alerts import AlertsView
from contracts.alerts import StateChange, decode_change
from sinks.store import ChdbStore
from sinks.tables import alert_log
from tests.cockpit import data as fx
from tests.cockpit.test_auth import FakeProducer, OperatorSettings, login, token, users_file  # noqa: F401
from tests.cockpit.test_streams_alerts import _walk, texts


def test_an_operator_silences_an_alert_for_a_chosen_duration(
    tmp_path: Path, users_file: Path, morning_store: ChdbStore
) -> None:
    s = OperatorSettings(data_dir=tmp_path, cockpit_operators_file=users_file)
    producer = FakeProducer()
    client = create_app(
        s, morning_store, registry=CollectorRegistry(), producer_factory=lambda: producer
    ).server.test_client()
    url = f"/api/alerts/{fx.FP_GX}/silence"
    # no login: refused, nothing produced (and without the token, refused before that)
    assert client.post(url, data={"duration_s": "3600"}).status_code == 403
    assert client.post(url, headers={"X-CSRF-Token": token(client)}, json={"duration_s": 3600}).status_code == 401
    login(client)
    assert client.post(url, headers={"X-CSRF-Token": token(client)}, json={"duration_s": 3601}).status_code == 400
    assert client.post(url, headers={"X-CSRF-Token": token(client)}, json={"duration_s": "x"}).status_code == 400
    assert producer.sent == []
    ok = client.post(
        url, headers={"X-CSRF-Token": token(client)}, json={"duration_s": 3600, "comment": "planned load test"}
    )
    assert ok.status_code == 202 and ok.get_json()["status"] == "silenced"
    ((topic, key, value),) = producer.sent
    assert topic == s.topic_alerts and key == fx.FP_GX.encode()
    msg = json.loads(value)  # type: ignore[arg-type]
    assert (msg["kind"], msg["silenced"], msg["author"], msg["comment"]) == (
        "silence",
        True,
        "duty",
        "planned load test",
    )
    assert msg["labels"] == fx.SURGE_GX  # the matchers: exactly this alert
    start, end = int(msg["annotations"][SILENCE_STARTS]), int(msg["annotations"][SILENCE_ENDS])
    assert start == msg["at"] >= fx.NOW and end - start == 3600  # event time, not the wall clock
    assert msg["annotations"]["ratio"] == "3.10"  # the alert's own annotations travel along
    decoded = decode_change(value)
    assert isinstance(decoded, StateChange), decoded
    assert len(alert_log.row(decoded)) == len(alert_log.COLUMNS)
    fields = {k: v for k, v in msg.items() if k != "v"}
    assert StateChange(**fields).kind == "silence"  # the alerts package's own record type
    # a resolved alert is not silenced; the page's form comes back to the page
    assert (
        client.post(
            f"/api/alerts/{fx.FP_BJ}/silence", headers={"X-CSRF-Token": token(client)}, json={"duration_s": 900}
        ).status_code
        == 409
    )
    form = client.post(
        f"/api/alerts/{fx.FP_SD}/silence", data={"csrf_token": token(client), "duration_s": "900", "comment": ""}
    )
    assert form.status_code == 303 and form.headers["Location"].endswith("/alerts")


def _alert(fp: str, state: str = "firing", at: int = 100) -> AlertNow:
    return AlertNow(fp, "TrafficSurge", state, "warning", at, 1.0, {"alertname": "TrafficSurge"}, {})


def _silence(fp: str, start: int, end: int) -> tuple:
    row = fx.change(
        start,
        {"alertname": "TrafficSurge"},
        "firing",
        "firing",
        "warning",
        1.0,
        kind="silence",
        author="duty",
        comment="maintenance",
    )
    ann = json.dumps({SILENCE_STARTS: str(start), SILENCE_ENDS: str(end)})
    return (row[0], fp, *row[2:9], ann, row[11], row[12])


def test_a_running_silence_is_marked_until_its_end_and_offers_no_second_silence() -> None:
    hist = parse_history([_silence("a", 120, 120 + 3600), _silence("b", 0, 60)])  # b's has ended
    view = AlertsView(300 + 60, [_alert("a"), _alert("b")], hist)  # "now" is minute 300
    assert view.silenced() == {"a": 3720}
    out = alerts.render(view, "en", token="tok")[(alerts.CURRENT, "children")]
    shown = " ".join(texts(out))
    assert "Silenced until 01-01 09:02:00" in shown and "duty" not in shown
    actions = sorted(c.action for c in _walk(out) if isinstance(c, html.Form))
    assert actions == ["/api/alerts/a/ack", "/api/alerts/b/ack", "/api/alerts/b/silence"]
    durations = [o.value for c in _walk(out) if isinstance(c, html.Select) for o in c.children]
    assert durations == [str(d) for d in SILENCE_DURATIONS_S]


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_login_throttle_locks_a_user_after_repeated_failures_then_lets_go() -> None:
    clock = Clock()
    th = LoginThrottle({"user": 3, "ip": 5}, window_s=60, lockout_s=300, clock=clock)
    for _ in range(2):
        th.failure(user="duty", ip="10.0.0.1")
    assert th.retry_after(user="duty", ip="10.0.0.1") == 0
    clock.t += 61  # failures outside the window are forgotten
    th.failure(user="duty", ip="10.0.0.1")
    assert th.retry_after(user="duty") == 0
    th.failure(user="duty", ip="10.0.0.1")
    th.failure(user="duty", ip="10.0.0.1")  # the third within the window: locked
    assert th.retry_after(user="duty") == 300 and th.retry_after(user="other", ip="10.0.0.2") == 0
    clock.t += 100
    assert th.retry_after(user="duty", ip="10.0.0.9") == 200
    # one address failing across many names is locked too (5 within the window)
    for name in ("a", "b", "c", "d", "e"):
        th.failure(user=name, ip="10.0.0.1")
    assert th.retry_after(user="fresh", ip="10.0.0.1") == 300
    clock.t += 300
    assert th.retry_after(user="duty", ip="10.0.0.1") == 0
    th.success(user="duty")
    many = LoginThrottle({"user": 3}, 60, 300, clock, max_keys=10)
    for i in range(50):
        many.failure(user=f"u{i}")
    assert len(many._keys) <= 10


def test_login_is_refused_without_checking_the_password_while_locked(
    tmp_path: Path, users_file: Path, store: ChdbStore
) -> None:
    s = OperatorSettings(data_dir=tmp_path, cockpit_operators_file=users_file)
    app = create_app(s, store, registry=CollectorRegistry())
    client = app.server.test_client()
    limit = app.server.extensions["cockpit_login_throttle"].limits["user"]
    for _ in range(limit):
        assert login(client, "wrong").status_code == 401
    locked = login(client)  # the right password, but locked out
    assert locked.status_code == 429 and int(locked.headers["Retry-After"]) > 0
    assert "Too many failed sign-ins" in locked.get_data(as_text=True)
