"""Helpers for integration tests: a worker subprocess, a known event set, condition waits."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TypeVar, cast

from contracts.events import Click, Event, encode
from contracts.geo import PLATFORMS, PROVINCE_CODES, SECTIONS
from contracts.settings import Settings
from simulators.generator import topic_of
from simulators.truth import GroundTruth

T = TypeVar("T")
ROOT = Path(__file__).resolve().parents[1]


def wait_for(
    condition: Callable[[], T],
    timeout: float,
    what: str,
    interval: float = 0.2,
    describe: Callable[[], object] | None = None,
) -> T:
    """Poll `condition` until it returns something truthy; fail after `timeout` naming `what`."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = condition()
        if last:
            return last
        # Waiting between polls of a real condition, bounded by the deadline above.
        time.sleep(interval)
    raise AssertionError(
        f"timed out after {timeout}s waiting for {what}; last value: {last!r}"
        + (f" ({describe()})" if describe else "")
    )


class WorkerProcess:
    """`edu-worker` as a real subprocess, so tests can SIGKILL and restart it."""

    def __init__(self, settings: Settings, log_path: Path, env: dict[str, str]) -> None:
        self.settings = settings
        self.log_path = log_path
        self.env = env
        self.proc: subprocess.Popen[bytes] | None = None
        self._log_start = 0

    def start(self, timeout: float = 90) -> WorkerProcess:
        self._log_start = self.log_path.stat().st_size if self.log_path.exists() else 0
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "streams.cli", "--loglevel", "info"],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        wait_for(self._ready, timeout, f"worker ready (log {self.log_path})")
        return self

    def log_text(self) -> str:
        with open(self.log_path, "rb") as f:
            f.seek(self._log_start)
            return f.read().decode("utf-8", "replace")

    def _ready(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(f"worker exited with {self.proc.returncode}:\n{self.log_text()[-3000:]}")
        return "Ready" in self.log_text()

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(30)


def known_clicks(n: int, seed: int, start_ms: int, span_ms: int) -> list[Click]:
    """n clicks spread over every province and platform, in time order, from a seeded RNG."""
    rng = random.Random(seed)
    provinces = list(PROVINCE_CODES)
    platforms = list(PLATFORMS)
    sections = list(SECTIONS)
    out = []
    for i in range(n):
        province = provinces[i % len(provinces)] if i < len(provinces) * len(platforms) else rng.choice(provinces)
        platform = (
            platforms[(i // len(provinces)) % len(platforms)]
            if i < len(provinces) * len(platforms)
            else rng.choice(platforms)
        )
        out.append(
            Click(
                id=f"ev{seed}-{i}",
                ts=start_ms + i * span_ms // n,
                platform=platform,
                province=province,
                country="SG" if province == "abroad" else None,
                user=f"u{rng.randrange(50_000)}",
                session=f"s{rng.randrange(20_000)}",
                resource=f"r{rng.randrange(28_052)}",
                section=rng.choice(sections),
                action=rng.choice(("view", "play", "download", "search")),
            )
        )
    return out


def truth_by_platform_province(clicks: list[Click]) -> Counter[tuple[str, str]]:
    return Counter((c.platform, c.province) for c in clicks)


def producer(bootstrap: str):
    from kafka import KafkaProducer

    # Idempotent: a send retried across a broker restart must not write a source message twice.
    return KafkaProducer(
        bootstrap_servers=bootstrap.split(","),
        acks="all",
        linger_ms=5,
        max_request_size=4 * 1024 * 1024,
        batch_size=256 * 1024,
        enable_idempotence=True,
    )


def send_in_client_batches(bootstrap: str, topic: str, clicks: list[Click], batch: int = 20) -> int:
    """Send as SDK-style client batches keyed by session; returns messages sent (all acked)."""
    prod = producer(bootstrap)
    futures = []
    for i in range(0, len(clicks), batch):
        chunk = clicks[i : i + batch]
        futures.append(prod.send(topic, key=chunk[0].session.encode(), value=encode(cast("list[Event]", chunk))))
    prod.flush(60)
    for f in futures:
        f.get(timeout=60)  # raises if any send failed
    prod.close()
    return len(futures)


def send_regrouped(
    settings: Settings, batches: Iterable[list[Event]], truth: GroundTruth | None = None, size: int = 200
) -> None:
    """Send the scenario's events as messages of `size` events (a gateway batching many clients),
    so the replay costs the worker few Kafka messages; every send is acknowledged or the test fails."""
    prod = producer(settings.kafka_bootstrap)
    topics = {"clicks": settings.topic_clicks, "sessions": settings.topic_sessions}
    pending: dict[str, list[Event]] = {"clicks": [], "sessions": []}
    futures = []
    for batch in batches:
        if truth is not None:
            truth.add_batch(batch)
        kind = topic_of(batch)
        pending[kind].extend(batch)
        if len(pending[kind]) >= size:
            futures.append(prod.send(topics[kind], value=encode(pending[kind])))
            pending[kind] = []
    for kind, rest in pending.items():
        if rest:
            futures.append(prod.send(topics[kind], value=encode(rest)))
    prod.flush(120)
    for f in futures:
        f.get(timeout=60)
    prod.close()


def env_without_proxy() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
