"""The sink's health model and edu-sink's /healthz: what the cockpit and an operator are told."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

from prometheus_client import CollectorRegistry, Counter

from ops.local_process import free_port
from sinks.health import SinkHealth, report, serve


def test_report_is_ok_only_when_every_sink_runs_and_reaches_its_store() -> None:
    a, b = SinkHealth("clicks"), SinkHealth("sessions")
    assert report([a, b])["status"] == "starting"
    a.flushed(1_647_216_000, now=100.0)
    b.flushed(1_647_216_060, now=90.0)
    r = report([a, b])
    assert (r["status"], r["store_up"], r["last_flush_at"], r["newest_data_s"]) == ("ok", True, 100.0, 1_647_216_060)
    b.store_down("transient NOT_ENOUGH_SPACE (code 243): disk full")
    r = report([a, b])
    assert (r["status"], r["store_up"]) == ("paused", False)
    assert r["sinks"][1]["error"].startswith("transient NOT_ENOUGH_SPACE")
    b.flushed(None, now=120.0)  # space returned: the retried flush got through
    assert report([a, b])["status"] == "ok" and report([a, b])["newest_data_s"] == 1_647_216_060
    a.failed("permanent storage error: [60] UNKNOWN_TABLE")
    assert report([a, b])["status"] == "failed"


def test_edu_sink_serves_healthz_and_metrics() -> None:
    registry = CollectorRegistry()
    Counter("probe", "a metric", registry=registry).inc()
    h = SinkHealth("clicks")
    port = free_port()
    server = serve("127.0.0.1", port, registry, lambda: report([h]))
    try:

        def get(path: str) -> tuple[int, str]:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as resp:
                    return resp.status, resp.read().decode()
            except urllib.error.HTTPError as err:
                return err.code, err.read().decode()

        assert get("/healthz")[0] == 503  # starting
        h.flushed(1_647_216_000)
        code, body = get("/healthz")
        assert code == 200 and json.loads(body)["status"] == "ok"
        assert "probe_total 1.0" in get("/metrics")[1]
    finally:
        server.shutdown()


def test_local_mode_folds_the_sink_into_the_cockpits_healthz() -> None:
    from flask import Flask, jsonify

    from sinks.health import add_to_healthz

    server = Flask("cockpit")
    server.add_url_rule("/healthz", "healthz", lambda: (jsonify(status="ok", engine="chdb"), 200))
    h = SinkHealth("clicks", state="running")
    add_to_healthz(server, lambda: report([h]))
    client = server.test_client()
    resp = client.get("/healthz")
    assert resp.status_code == 200 and resp.get_json()["sink"]["status"] == "ok"
    h.store_down("transient NOT_ENOUGH_SPACE (code 243): disk full")
    resp = client.get("/healthz")
    body = resp.get_json()
    assert resp.status_code == 503 and body["status"] == "sink paused" and body["engine"] == "chdb"
    assert body["sink"]["sinks"][0]["error"].startswith("transient NOT_ENOUGH_SPACE")
