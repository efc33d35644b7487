"""The app factory, its operational endpoints, and the command line."""
from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import types
from pathlib import Path
from typing import Any

import dash
import pytest
from prometheus_client import REGISTRY, CollectorRegistry

from cockpit import cli
from cockpit.app import create_app
from contracts.settings import Settings
from sinks.store import ChdbStore, StoreError

ROOT = Path(__file__).resolve().parents[2]


def test_create_app_builds_a_dash_app_with_its_own_registry(settings: Settings, store: ChdbStore) -> None:
    before = set(REGISTRY._names_to_collectors)
    apps = [create_app(settings, store) for _ in range(2)]  # twice: no duplicate-metric clash
    assert all(isinstance(a, dash.Dash) for a in apps)
    assert set(REGISTRY._names_to_collectors) == before  # nothing on the global registry
    assert apps[0].layout is not None and apps[0].title.startswith("国家智慧教育平台")


def test_metrics_endpoint_serves_the_passed_registry(settings: Settings, morning_store: ChdbStore) -> None:
    registry = CollectorRegistry()
    app = create_app(settings, morning_store, registry=registry)
    app.cockpit_queries.latest_minute()
    client = app.server.test_client()
    resp = client.get("/metrics")
    assert resp.status_code == 200 and resp.content_type.startswith("text/plain")
    body = resp.get_data(as_text=True)
    assert 'edu_cockpit_named_queries_total{outcome="miss",query="latest_minute"} 1.0' in body
    if shutil.which("promtool"):
        check = subprocess.run(["promtool", "check", "metrics"], input=body, capture_output=True, text=True)
        assert check.returncode == 0, check.stdout + check.stderr


def test_healthz_reports_the_store(settings: Settings, store: ChdbStore) -> None:
    ok = create_app(settings, store).server.test_client().get("/healthz")
    assert ok.status_code == 200 and ok.get_json() == {"status": "ok", "engine": "chdb"}

    class Down:
        database, engine = "edu", "server"

        def query(self, sql: str, params: Any = None) -> list[tuple[Any, ...]]:
            raise StoreError("ClickHouse at 127.0.0.1:9000: Connection refused")

    bad = create_app(settings, Down()).server.test_client().get("/healthz")  # type: ignore[arg-type]
    assert bad.status_code == 503
    assert bad.get_json()["status"] == "unavailable" and "Connection refused" in bad.get_json()["error"]


def test_cli_help_runs_without_a_store() -> None:
    res = subprocess.run([sys.executable, "-m", "cockpit.cli", "--help"], cwd=ROOT, capture_output=True,
                         text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    assert "--with-sink" in res.stdout and "--port" in res.stdout


def test_cli_options_override_settings() -> None:
    args = cli.parse_args(["--port", "8123", "--host", "0.0.0.0", "--engine", "server"])
    assert cli._overrides(args) == {"cockpit_port": 8123, "cockpit_host": "0.0.0.0",
                                    "clickhouse_engine": "server"}
    assert cli._overrides(cli.parse_args([])) == {}


def test_main_opens_migrates_starts_the_sink_serves_and_cleans_up(
    monkeypatch: pytest.MonkeyPatch, store: ChdbStore, tmp_path: Path
) -> None:
    events: list[str] = []

    class OwnedStore:
        """The session store, but closing it is only recorded (other tests still need it)."""

        database, engine = store.database, store.engine
        query, command, insert = store.query, store.command, store.insert

        def close(self) -> None:
            events.append("store.close")

    class Sink:
        def stop(self) -> None:
            events.append("sink.stop")

        def health(self) -> dict[str, Any]:
            return {"status": "ok"}

    def start_sink_thread(settings: Settings, s: Any, registry: Any = None, on_fatal: Any = None) -> Sink:
        # the sink's metrics go on the cockpit's registry (served on its /metrics)
        events.append(f"sink.start:{type(s).__name__}:{type(registry).__name__}")
        return Sink()

    def fake_run(self: dash.Dash, **kw: Any) -> None:
        events.append(f"run:{kw['host']}:{kw['port']}")
        raise KeyboardInterrupt  # Ctrl-C

    monkeypatch.setattr("sinks.store.open_store", lambda settings: OwnedStore())
    monkeypatch.setattr("sinks.migrate.migrate", lambda s, cluster="": events.append("migrate") or [])
    runner = types.SimpleNamespace(start_sink_thread=start_sink_thread, stop_process=lambda err: None)
    monkeypatch.setitem(sys.modules, "sinks.runner", runner)
    monkeypatch.setattr(dash.Dash, "run", fake_run)
    monkeypatch.setenv("EDU_DATA_DIR", str(tmp_path))

    before = signal.getsignal(signal.SIGTERM)
    assert cli.main(["--with-sink", "--port", "8999"]) == 0
    assert signal.getsignal(signal.SIGTERM) is before  # SIGTERM handling is undone on the way out
    assert events == ["migrate", "sink.start:OwnedStore:CollectorRegistry", "run:127.0.0.1:8999", "sink.stop", "store.close"]
