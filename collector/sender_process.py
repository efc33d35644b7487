"""The journal's sender in a process of its own, so the event loop keeps its GIL to itself.

The collector's process journals and answers; this child reads the journal files (`JournalTail`),
sends them to Kafka exactly once (`Sender`) and publishes its checkpoint position, connection state
and counts in shared memory for the parent's spool limit, /healthz and /metrics. On one core the
sender's and kafka-python's Python code took half the GIL from the request path (bench/README.md).

It dies with its parent (PR_SET_PDEATHSIG), and holds an exclusive lock on the spool while it runs,
so a restarted collector's sender waits until an old one is gone: two never read one journal.
"""

from __future__ import annotations

import ctypes
import fcntl
import logging
import multiprocessing
import os
import signal
from pathlib import Path
from typing import Any

from collector.journal import JournalTail
from collector.sender import Checkpoint, Sender, consumer_factory, producer_factory
from contracts.settings import Settings

log = logging.getLogger(__name__)
_SEQ, _SEGMENT, _OFFSET, _CONNECTED, _SENT = range(5)
_ERROR_BYTES = 300
_PUBLISH_S = 0.02  # how stale the parent's view of the checkpoint may be (the spool limit's lag)
_PR_SET_PDEATHSIG = 1


class SenderProcess:
    """The parent's handle: `start()`, `stop()`, and the child's state, read without locks."""

    def __init__(self, settings: Settings, spool: Path, topics: list[str], ckpt: Checkpoint) -> None:
        ctx = multiprocessing.get_context("spawn")  # a clean interpreter: no threads or sockets inherited
        self._state: Any = ctx.RawArray("q", 5)
        self._error: Any = ctx.RawArray("c", _ERROR_BYTES)
        self._state[_SEQ], self._state[_SEGMENT], self._state[_OFFSET] = ckpt.seq, ckpt.segment, ckpt.offset
        self._stop = ctx.Event()
        self._ctx, self._args = ctx, (settings, spool, topics, self._state, self._error, self._stop)
        self._proc = self._new()
        self.restarts = 0

    def _new(self) -> Any:
        return self._ctx.Process(target=_run, args=(*self._args, os.getpid()), name="edu-collect-sender", daemon=True)

    def start(self) -> None:
        self._proc.start()

    def restart_if_dead(self) -> bool:
        """Start a new child if the running one died (killed, out of memory): it resumes from the
        checkpoint like a restarted collector's. True when it did."""
        if self._stop.is_set() or self._proc.pid is None or self._proc.is_alive():
            return False
        log.error("the sender process exited (code %s); starting a new one", self._proc.exitcode)
        self._proc = self._new()
        self._proc.start()
        self.restarts += 1
        return True

    def stop(self, timeout: float = 30.0) -> None:
        """Ask the child to send what it holds and write a clean checkpoint; kill it after `timeout`."""
        if self._proc.pid is None:
            return
        self._stop.set()
        self._proc.join(timeout)
        if self._proc.is_alive():
            log.warning("sender did not stop in %.0f s; killed (the recovery scan covers it)", timeout)
            self._proc.kill()
            self._proc.join(10)

    @property
    def alive(self) -> bool:
        return self._proc.is_alive()

    @property
    def position(self) -> tuple[int, int, int]:
        """(seq, segment, offset) of the checkpoint: every record up to there is in Kafka."""
        s = self._state
        return s[_SEQ], s[_SEGMENT], s[_OFFSET]

    @property
    def connected(self) -> bool:
        return bool(self._state[_CONNECTED])

    @property
    def sent_acked(self) -> int:
        return int(self._state[_SENT])

    @property
    def last_error(self) -> str:
        return bytes(self._error.value).decode("utf-8", "replace")


def _die_with_parent(parent: int) -> None:
    """SIGKILL this process when its parent dies (Linux), and stop now if it already has."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG)")
    if os.getppid() != parent:
        os._exit(1)


def _run(
    settings: Settings,
    spool: Path,
    topics: list[str],
    state: Any,
    error: Any,
    stop: Any,
    parent: int,
) -> None:
    _die_with_parent(parent)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a terminal's Ctrl-C: the parent stops us in order
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    with open(spool / "sender.lock", "a+b") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # blocks while an earlier sender of this spool is alive
        sender = Sender(
            JournalTail(spool / "journal"),
            topics,
            producer_factory(settings),
            consumer_factory(settings),
            spool / "checkpoint.json",
        )
        sender.start()
        sent_before = state[_SENT]  # cumulative across restarts of this process

        def publish() -> None:
            ck = sender.ckpt
            state[_SEQ], state[_SEGMENT], state[_OFFSET] = ck.seq, ck.segment, ck.offset
            state[_CONNECTED] = 1 if sender.connected else 0
            state[_SENT] = sent_before + sender.sent_acked
            error.value = sender.last_error.encode("utf-8", "replace")[: _ERROR_BYTES - 1]

        while not stop.wait(_PUBLISH_S):
            publish()
        sender.stop(timeout=25)
        publish()


__all__ = ["SenderProcess"]
