"""Operator login and the CSRF-protected acknowledge endpoint, through Flask's test client."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry
from werkzeug.security import generate_password_hash

from cockpit import auth
from cockpit.app import create_app
from contracts.alerts import StateChange, decode_change
from contracts.settings import Settings
from sinks.store import ChdbStore
from sinks.tables import alert_log
from tests.cockpit import data as fx

FP = "3f2a9c0d11aa22bb"


class FakeProducer:
    """Stands in for kafka-python's KafkaProducer: records what would be produced."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes | None, bytes | None]] = []

    def send(self, topic: str, value: bytes | None = None, key: bytes | None = None) -> Any:
        self.sent.append((topic, key, value))

        class Future:
            def get(self, timeout: float | None = None) -> None:
                return None

        return Future()


class OperatorSettings(Settings):
    """The settings the report proposes for contracts/settings.py, declared here until they land."""

    cockpit_operators_file: Path | None = None
    cockpit_viewer_login: bool = False
    cockpit_secret_key: str | None = None


@pytest.fixture
def users_file(tmp_path: Path) -> Path:
    path = tmp_path / "operators"
    path.write_text(f"# operators\nduty:{generate_password_hash('s3cret-Pass')}\n", encoding="utf-8")
    return path


def token(client) -> str:  # type: ignore[no-untyped-def]
    return client.get("/api/csrf").get_json()["csrf_token"]


def login(client, password: str = "s3cret-Pass"):  # type: ignore[no-untyped-def]
    form = client.get("/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)  # type: ignore[union-attr]
    return client.post("/login", data={"username": "duty", "password": password, "csrf_token": csrf})


def test_operators_file_parsing(users_file: Path, tmp_path: Path) -> None:
    users = auth.load_operators(users_file)
    assert list(users) == ["duty"] and auth.verify(users, "duty", "s3cret-Pass")
    assert not auth.verify(users, "duty", "wrong") and not auth.verify(users, "nobody", "s3cret-Pass")
    assert auth.load_operators(None) == {}
    bad = tmp_path / "bad"
    bad.write_text("no-separator\n")
    with pytest.raises(ValueError, match="bad:1"):
        auth.load_operators(bad)


def test_viewers_need_no_login_and_acknowledge_is_refused_without_it(
    tmp_path: Path, users_file: Path, store: ChdbStore
) -> None:
    s = OperatorSettings(data_dir=tmp_path, cockpit_operators_file=users_file)
    client = create_app(s, store, registry=CollectorRegistry()).server.test_client()
    assert client.get("/").status_code == 200  # the cockpit itself: no login
    # no CSRF token: refused before anything else
    assert client.post(f"/api/alerts/{FP}/ack").status_code == 403
    # a token but no login: refused
    resp = client.post(f"/api/alerts/{FP}/ack", headers={"X-CSRF-Token": token(client)})
    assert resp.status_code == 401
    # a wrong password: refused, no session
    assert login(client, "nope").status_code == 401
    assert client.post(f"/api/alerts/{FP}/ack", headers={"X-CSRF-Token": token(client)}).status_code == 401


def test_an_operator_passes_login_and_csrf_and_reaches_the_action(
    tmp_path: Path, users_file: Path, morning_store: ChdbStore
) -> None:
    s = OperatorSettings(data_dir=tmp_path, cockpit_operators_file=users_file)
    producer = FakeProducer()
    client = create_app(
        s, morning_store, registry=CollectorRegistry(), producer_factory=lambda: producer
    ).server.test_client()
    resp = login(client)
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/alerts")
    cookie = resp.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    # logged in but with a stale / forged token: still refused
    assert client.post(f"/api/alerts/{FP}/ack", headers={"X-CSRF-Token": "forged"}).status_code == 403
    unknown = client.post(f"/api/alerts/{FP}/ack", headers={"X-CSRF-Token": token(client)})
    assert unknown.status_code == 404 and producer.sent == []  # no such alert: nothing produced
    ok = client.post(
        f"/api/alerts/{fx.FP_GX}/ack", headers={"X-CSRF-Token": token(client)}, json={"comment": "在处理 / on it"}
    )
    assert ok.status_code == 202 and ok.get_json()["fingerprint"] == fx.FP_GX
    ((topic, key, value),) = producer.sent
    assert topic == s.topic_alerts and key == fx.FP_GX.encode()
    msg = json.loads(value)  # type: ignore[arg-type]
    assert msg["kind"] == "ack" and msg["author"] == "duty" and msg["comment"] == "在处理 / on it"
    assert (msg["alertname"], msg["old_state"], msg["new_state"], msg["severity"]) == (
        "TrafficSurge",
        "firing",
        "firing",
        "warning",
    )
    assert msg["labels"] == fx.SURGE_GX and msg["annotations"]["ratio"] == "3.10"
    assert msg["at"] >= fx.NOW  # event time: the cockpit's "now", not the wall clock
    decoded = decode_change(value)  # type: ignore[arg-type]
    assert isinstance(decoded, StateChange), decoded
    row = alert_log.row(decoded)  # what the sink will store: every column present
    assert len(row) == len(alert_log.COLUMNS) and row[11] == "duty"
    # a resolved alert is not acknowledged
    assert client.post(f"/api/alerts/{fx.FP_BJ}/ack", headers={"X-CSRF-Token": token(client)}).status_code == 409
    # the alerts page's form: the token in the form, then back to the page
    form = client.post(f"/api/alerts/{fx.FP_SD}/ack", data={"csrf_token": token(client), "comment": "x"})
    assert form.status_code == 303 and form.headers["Location"].endswith("/alerts")
    assert json.loads(producer.sent[-1][2])["fingerprint"] == fx.FP_SD  # type: ignore[arg-type]
    assert client.post("/api/alerts/not-hex/ack", headers={"X-CSRF-Token": token(client)}).status_code == 400
    # no operator name or session id in what the page shows
    page = client.get("/").get_data(as_text=True)
    assert "duty" not in page
    # logout is a CSRF-protected POST too
    assert client.post("/logout").status_code == 403
    assert client.post("/logout", data={"csrf_token": token(client)}).status_code == 302
    assert client.post(f"/api/alerts/{FP}/ack", headers={"X-CSRF-Token": token(client)}).status_code == 401


def test_viewer_login_can_be_required(tmp_path: Path, users_file: Path, store: ChdbStore) -> None:
    s = OperatorSettings(data_dir=tmp_path, cockpit_operators_file=users_file, cockpit_viewer_login=True)
    client = create_app(s, store, registry=CollectorRegistry()).server.test_client()
    assert client.get("/").status_code == 302 and client.get("/healthz").status_code == 200
    assert client.post("/_dash-update-component", json={}).status_code == 401
    login(client)
    assert client.get("/").status_code == 200


def test_operator_names_in_any_script_and_either_normal_form(tmp_path: Path) -> None:
    """A duty officer is 张伟 or José; José typed as e + combining accent is the same José."""
    path = tmp_path / "operators"
    assert auth.add_operator(path, "张伟", "correct-horse-9")
    assert auth.add_operator(path, "Jose\u0301", "correct-horse-9")  # stored as NFC
    assert not auth.add_operator(path, "José", "another-horse-9")  # the same operator: a new password
    users = auth.load_operators(path)
    assert set(users) == {"张伟", "José"}
    assert auth.verify(users, auth.normal_name("Jose\u0301"), "another-horse-9")
    for bad in ("", "a b", "duty:x", "x" * 65, "tab\there", "名字\n"[:3] + "\u0000"):
        with pytest.raises(ValueError, match="operator name"):
            auth.add_operator(path, bad, "correct-horse-9")
    assert set(auth.load_operators(path)) == {"张伟", "José"}


def test_an_operator_with_a_chinese_name_signs_in(tmp_path: Path, store: ChdbStore) -> None:
    path = tmp_path / "operators"
    auth.add_operator(path, "张伟", "correct-horse-9")
    settings = OperatorSettings(data_dir=tmp_path, cockpit_operators_file=path, cockpit_secret_key="k" * 32)
    app = create_app(settings, store, registry=CollectorRegistry(), producer_factory=FakeProducer)
    client = app.server.test_client()
    form = client.get("/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)  # type: ignore[union-attr]
    resp = client.post("/login", data={"username": " 张伟 ", "password": "correct-horse-9", "csrf_token": csrf})
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/alerts")
