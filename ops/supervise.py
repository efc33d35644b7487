"""Supervising the services `edu-local` starts: spawn, wait for readiness, watch, stop.

One home for what the local and the cluster launchers share, so a fix to how Ctrl-C stops the
stack reaches both (it once took two minutes in one and was fine in neither).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

STOP_WITHIN_S = 30.0
SOURCES = frozenset({"simulator", "collector"})  # traffic: stopped before what consumes it


@dataclass
class Child:
    name: str
    proc: subprocess.Popen[bytes]
    log: Path

    def tail(self, lines: int = 25) -> str:
        text = self.log.read_text("utf-8", "replace").splitlines()
        return "\n".join(text[-lines:])


def spawn_service(name: str, args: list[str], logs: Path, env: Mapping[str, str] | None = None) -> Child:
    """`python -m ARGS` in its own session (a terminal's Ctrl-C reaches only the launcher, which
    stops the children in order), output appended to `logs/NAME.log`."""
    log = logs / f"{name}.log"
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", *args],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=dict(env) if env is not None else os.environ.copy(),
            start_new_session=True,
        )
    return Child(name, proc, log)


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return bool(resp.status == 200)
    except OSError:
        return False


def stop_on_signals() -> threading.Event:
    """An event set by SIGINT or SIGTERM: the launcher's loops end and its `finally` stops the rest."""
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    return stop


def wait_until(
    cond: Callable[[], bool], timeout: float, what: str, children: list[Child], stop: threading.Event
) -> None:
    """Wait for `cond`; a child that exits meanwhile, or the deadline, raises RuntimeError with why."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not stop.is_set():
        for c in children:
            if c.proc.poll() is not None:
                raise RuntimeError(f"{c.name} exited with {c.proc.returncode} while waiting for {what}:\n{c.tail()}")
        if cond():
            return
        stop.wait(0.5)
    if not stop.is_set():
        raise RuntimeError(f"timed out after {timeout:.0f}s waiting for {what}")


def watch(children: list[Child], stop: threading.Event) -> int:
    """Block until Ctrl-C (0) or until a child dies (1, with its log tail on stderr)."""
    while not stop.is_set():
        for c in children:
            if c.proc.poll() is not None:
                print(f"!! {c.name} exited with {c.proc.returncode}:\n{c.tail()}", file=sys.stderr)
                return 1
        stop.wait(1.0)
    return 0


def stop_children(children: Iterable[Child], within_s: float = STOP_WITHIN_S) -> None:
    """SIGTERM the traffic sources first, then the rest, each group under one deadline.

    Why one deadline, not a wait per child: five children each taking their whole grace period
    made Ctrl-C take minutes. A child still running at the deadline is killed, and named.
    """
    children = list(children)
    for group in ([c for c in children if c.name in SOURCES], [c for c in children if c.name not in SOURCES]):
        for c in group:
            if c.proc.poll() is None:
                c.proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + within_s
        for c in group:
            try:
                c.proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                print(f"!! {c.name} did not stop within {within_s:.0f}s; killing it", file=sys.stderr, flush=True)
                c.proc.kill()
                c.proc.wait(10)
