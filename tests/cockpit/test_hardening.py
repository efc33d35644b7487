"""Issue 14's hardening and operator set-up through Flask's test client: size limits, headers, clear
4xx for bad values (with bounded logs), kiosk parameters, /metrics behind the viewer login, the
persistent signing key, `edu-cockpit operators add`, and trusted proxies for login throttling."""

from __future__ import annotations

import io
import json
import logging
import re
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from cockpit import auth, cli
from cockpit.app import create_app
from cockpit.layout import Ids
from cockpit.params import BadParameter, checked_kiosk, clip
from contracts.settings import Settings
from sinks.store import ChdbStore


def client_for(settings: Settings, store: ChdbStore):  # type: ignore[no-untyped-def]
    return create_app(settings, store, registry=CollectorRegistry()).server.test_client()


def dash_request(measure: Any = "rate", lang: Any = "zh", range_: Any = "1h", platform: Any = "") -> dict[str, Any]:
    """The body the browser posts for the map's callback (ids and properties as the layout has them)."""
    inputs = [
        {"id": Ids.TICK, "property": "n_intervals", "value": 1},
        {"id": Ids.LANG, "property": "value", "value": lang},
        {"id": Ids.ROUTE, "property": "data", "value": {"page": "overview", "province": None, "wall": False}},
        {"id": Ids.RANGE, "property": "value", "value": range_},
        {"id": Ids.CUSTOM, "property": "start_date", "value": None},
        {"id": Ids.CUSTOM, "property": "end_date", "value": None},
        {"id": Ids.PLATFORM, "property": "value", "value": platform},
        {"id": Ids.MEASURE, "property": "value", "value": measure},
    ]
    return {
        "output": f"..{Ids.MAP}.figure..",
        "outputs": [{"id": Ids.MAP, "property": "figure"}],
        "inputs": inputs,
        "changedPropIds": [f"{Ids.MEASURE}.value"],
        "state": [],
    }


def test_security_headers_on_every_answer(tmp_path: Path, store: ChdbStore) -> None:
    client = client_for(Settings(data_dir=tmp_path, cockpit_cookie_secure=True), store)
    for path in ("/", "/login", "/healthz"):
        h = client.get(path).headers
        assert h["X-Frame-Options"] == "DENY" and h["X-Content-Type-Options"] == "nosniff"
        csp = h["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in csp and "default-src 'self'" in csp and "'sha256-" in csp
        assert h["Strict-Transport-Security"].startswith("max-age=")
    login = client_for(Settings(data_dir=tmp_path, cockpit_cookie_secure=True), store).get("/login")
    assert "Secure" in login.headers["Set-Cookie"] and "HttpOnly" in login.headers["Set-Cookie"]


def test_large_bodies_are_refused_before_they_are_read(tmp_path: Path, store: ChdbStore) -> None:
    client = client_for(Settings(data_dir=tmp_path, cockpit_max_request_bytes=4096), store)
    answer = client.post("/_dash-update-component", data=b"x" * 100_000, content_type="application/json")
    assert answer.status_code == 413 and "4096" in answer.get_json()["error"]


def test_bad_callback_values_get_a_400_naming_them_and_a_short_log_line(
    tmp_path: Path, morning_store: ChdbStore, caplog: pytest.LogCaptureFixture
) -> None:
    client = client_for(Settings(data_dir=tmp_path), morning_store)
    ok = client.post("/_dash-update-component", json=dash_request())
    assert ok.status_code == 200, ok.get_data(as_text=True)[:300]
    huge = "m" * 200_000
    with caplog.at_level(logging.INFO):
        for bad, name in (
            (dash_request(measure=huge), "measure"),
            (dash_request(lang="fr"), "lang"),
            (dash_request(range_="10y"), "range"),
            (dash_request(platform="x"), "platform"),
        ):
            answer = client.post("/_dash-update-component", json=bad)
            assert answer.status_code == 400 and answer.get_json()["parameter"] == name
            assert len(answer.get_data()) < 500  # the value is clipped in the answer too
    assert caplog.text and max(len(r.getMessage()) for r in caplog.records) < 500


def test_kiosk_parameters_are_checked_before_the_page_is_served(tmp_path: Path, store: ChdbStore) -> None:
    client = client_for(Settings(data_dir=tmp_path), store)
    assert client.get("/?wall=1&lang=zh&platform=k12&range=1h&rotate=30").status_code == 200
    assert client.get("/province/450000?wall=1&lang=en").status_code == 200
    for bad in ("/?lang=fr", "/?rotate=1", "/?range=2y", "/?platform=x", "/?wall=maybe", "/?colour=red"):
        answer = client.get(bad)
        assert answer.status_code == 400 and "expected" in answer.get_json()["error"], bad
    assert checked_kiosk({"rotate": "30", "lang": "en"}) == {"rotate": 30.0, "lang": "en"}
    with pytest.raises(BadParameter):
        checked_kiosk({"lang": "x" * 10_000})
    assert len(clip("y" * 10_000)) < 120


def test_metrics_need_the_viewer_login_when_it_is_on(tmp_path: Path, store: ChdbStore) -> None:
    assert client_for(Settings(data_dir=tmp_path), store).get("/metrics").status_code == 200
    locked = client_for(Settings(data_dir=tmp_path, cockpit_viewer_login=True), store)
    assert locked.get("/metrics").status_code == 401 and locked.get("/healthz").status_code == 200


def test_the_signing_key_is_made_once_and_survives_a_restart(tmp_path: Path) -> None:
    s = Settings(data_dir=tmp_path)
    key = auth.signing_key(s)
    path = tmp_path / "cockpit-secret.key"
    assert len(key) >= 64 and path.read_text().strip() == key and path.stat().st_mode & 0o077 == 0
    assert auth.signing_key(s) == key  # a second process start reads the same key
    assert auth.signing_key(Settings(data_dir=tmp_path, cockpit_secret_key="x" * 40)) == "x" * 40


def test_operators_add_hashes_the_password_and_the_running_cockpit_sees_it(
    tmp_path: Path, store: ChdbStore, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("EDU_DATA_DIR", str(tmp_path))
    client = client_for(Settings(data_dir=tmp_path), store)  # started before any operator exists
    monkeypatch.setattr("sys.stdin", io.StringIO("correct-horse-9\n"))
    assert cli.main(["operators", "add", "duty", "--password-stdin"]) == 0
    text = (tmp_path / "operators").read_text()
    assert "duty:scrypt:" in text and "correct-horse-9" not in text
    assert (tmp_path / "operators").stat().st_mode & 0o077 == 0
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert cli.main(["operators", "add", "other", "--password-stdin"]) == 2  # too short: refused
    assert cli.main(["operators", "list"]) == 0 and capsys.readouterr().out.strip().endswith("duty")
    form = client.get("/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)  # type: ignore[union-attr]
    answer = client.post("/login", data={"username": "duty", "password": "correct-horse-9", "csrf_token": csrf})
    assert answer.status_code == 302 and answer.headers["Location"].endswith("/alerts")


def test_login_throttling_counts_the_client_behind_a_trusted_proxy(tmp_path: Path, store: ChdbStore) -> None:
    s = Settings(
        data_dir=tmp_path, cockpit_trusted_proxies=1, cockpit_login_max_failures=50, cockpit_login_max_failures_ip=2
    )
    client = client_for(s, store)

    def attempt(addr: str) -> int:
        form = client.get("/login").get_data(as_text=True)
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)  # type: ignore[union-attr]
        return client.post(
            "/login",
            data={"username": f"u{addr}", "password": "nope-nope", "csrf_token": csrf},
            headers={"X-Forwarded-For": addr},
        ).status_code

    assert [attempt("10.0.0.1") for _ in range(3)] == [401, 401, 429]  # that client is locked out
    assert attempt("10.0.0.2") == 401  # another client behind the same proxy is not
    assert json.dumps(client.application.extensions["cockpit_login_throttle"].limits)
