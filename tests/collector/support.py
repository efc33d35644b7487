"""`edu-collect serve` as a real subprocess (tests SIGKILL it), a keep-alive HTTP client, and a
reader of what reached the input topics."""

from __future__ import annotations

import http.client
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from contracts.events import Event, decode_message
from contracts.settings import Settings, settings_env
from tests.support import ROOT, env_without_proxy, wait_for

CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"
)


class CollectorProcess:
    def __init__(self, settings: Settings, log_path: Path) -> None:
        self.settings, self.log_path = settings, log_path
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60) -> CollectorProcess:
        env = {**env_without_proxy(), **{k: v for k, v in settings_env(self.settings).items() if k.startswith("EDU_")}}
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "collector.cli", "--loglevel", "info", "serve"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        wait_for(self._ready, timeout, f"collector ready (log {self.log_path})")
        return self

    def _ready(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise AssertionError(f"collector exited {self.proc.returncode}: {self.log_path.read_text()[-2000:]}")
        try:
            return self.health() is not None
        except OSError:
            return False

    def health(self) -> dict[str, Any] | None:
        conn = http.client.HTTPConnection(self.settings.collector_host, self.settings.collector_port, timeout=5)
        try:
            conn.request("GET", "/healthz")
            return json.loads(conn.getresponse().read())
        finally:
            conn.close()

    def metrics_text(self) -> str:
        conn = http.client.HTTPConnection(self.settings.collector_host, self.settings.collector_port, timeout=5)
        try:
            conn.request("GET", "/metrics")
            text = conn.getresponse().read().decode()
            return "\n".join(ln for ln in text.splitlines() if ln.startswith("edu_collector") and "_total" in ln)
        finally:
            conn.close()

    def kill(self) -> None:
        """SIGKILL the collector; its sender process must die with it (PR_SET_PDEATHSIG), or a
        restarted collector's sender would wait on the spool lock and an old one keep sending."""
        import psutil

        assert self.proc is not None
        children = psutil.Process(self.proc.pid).children(recursive=True)
        assert children, "the collector runs its sender in a child process"
        self.proc.kill()
        self.proc.wait(10)
        _, alive = psutil.wait_procs(children, timeout=10)
        assert not alive, f"sender processes outlived their collector: {[p.pid for p in alive]}"

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


class Client:
    """One keep-alive connection; `post` returns (status, answer or None)."""

    def __init__(self, host: str, port: int, xff: str = "114.114.114.114", ua: str = CHROME) -> None:
        self.host, self.port, self.xff, self.ua = host, port, xff, ua
        self.conn = http.client.HTTPConnection(host, port, timeout=10)

    def post(self, body: bytes) -> tuple[int, dict[str, Any] | None]:
        self.conn.request(
            "POST",
            "/api/event",
            body=body,
            headers={"Content-Type": "text/plain", "User-Agent": self.ua, "X-Forwarded-For": self.xff},
        )
        resp = self.conn.getresponse()
        data = resp.read()
        return resp.status, json.loads(data) if data else None

    def close(self) -> None:
        self.conn.close()


def read_topics(settings: Settings, topics: list[str], expect: int, timeout: float = 60) -> list[Event]:
    """All events in `topics` (from the start), waiting until at least `expect` are there; then
    one more idle poll so that extra (duplicate) ones would be seen too."""
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(
        *topics,
        bootstrap_servers=settings.kafka_bootstrap,
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    events: list[Event] = []
    try:

        def enough() -> bool:
            for records in consumer.poll(timeout_ms=500).values():
                for r in records:
                    evs, rejects = decode_message(r.value, max_bytes=1 << 22, max_events=10_000)
                    assert not rejects, rejects
                    events.extend(evs)
            return len(events) >= expect

        wait_for(
            enough, timeout, f"{expect} events in {topics}", interval=0.0, describe=lambda: f"{len(events)} so far"
        )
        for _ in range(3):
            for records in consumer.poll(timeout_ms=300).values():
                for r in records:
                    events.extend(decode_message(r.value, max_bytes=1 << 22, max_events=10_000)[0])
        return events
    finally:
        consumer.close()
