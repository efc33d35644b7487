"""One place for starting, watching and stopping a local server process that a test or bench owns.

ClickHouse, ZooKeeper, Alertmanager and Kafka run the same way: reuse a server that already answers
(without owning it), otherwise spawn it with its output appended to a log, poll a real readiness
check with a deadline, fail fast with the log tail if it dies, stop or kill only what this object
started, and find a ``--detach``ed one again by its pid file without signalling a recycled pid.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import ipaddress
import logging
import os
import random
import signal
import socket
import subprocess
import sys
import time
import weakref
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Literal, Self

__all__ = [
    "LocalServerProcess",
    "Readiness",
    "ServerStartError",
    "free_port",
    "kill_process",
    "live_pid",
    "loopback_host",
    "port_accepts",
    "read_pidfile",
    "run_cli_action",
    "run_foreground",
    "server_cli_parser",
    "spawn",
    "stop_pidfile",
    "stop_process",
    "wait_ready",
]

log = logging.getLogger(__name__)

_LIVE: weakref.WeakSet[LocalServerProcess] = weakref.WeakSet()

Readiness = Literal["ready", "exited", "timeout"]


class ServerStartError(RuntimeError):
    """A managed server did not become ready; the message carries its log tail."""


# -- addresses and ports -------------------------------------------------------


def loopback_host(host: str) -> str:
    """Return ``host`` if it is a loopback address (``localhost`` -> 127.0.0.1).

    Why: these helpers start unauthenticated servers; they must never listen on
    a routable interface.
    """
    if host == "localhost":
        return "127.0.0.1"
    try:
        addr = ipaddress.ip_address(host)
    except ValueError as exc:
        raise ValueError(f"host must be a loopback IP address, got {host!r}") from exc
    if not addr.is_loopback:
        raise ValueError(f"host must be a loopback address, got {host!r}")
    return host


_EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")
_PORT_SPAN = 12_000
_PORT_TRIES = 500
_HANDED_OUT: set[tuple[str, int]] = set()
_PORT_DRAW = random.Random(os.urandom(16))


def _ephemeral_low() -> int:
    """The lowest port the kernel gives outgoing connections (32768 where it cannot be read)."""
    try:
        return int(_EPHEMERAL_RANGE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def _binds(host: str, port: int) -> bool:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port on ``host`` that binds now and that this process has not handed out before.

    Why not the kernel's ``bind(0)``: it draws from the ephemeral range, the same range it gives
    every outgoing connection, so between this probe and the server's own bind a client socket (a
    ZooKeeper session, a proxy's upstream) can take the port. Ports just below that range are only
    ever taken by an explicit bind. The draw has its own generator, so a test seeding ``random``
    cannot make two processes draw the same ports.
    """
    high = _ephemeral_low()
    if high <= 1024 + _PORT_SPAN // 10:
        high = 65536  # a kernel configured to give nearly every port to outgoing connections
    low = max(1024, high - _PORT_SPAN)
    for _ in range(_PORT_TRIES):
        port = _PORT_DRAW.randrange(low, high)
        if (host, port) not in _HANDED_OUT and _binds(host, port):
            _HANDED_OUT.add((host, port))
            return port
    raise OSError(f"no free TCP port on {host} in {low}..{high - 1} after {_PORT_TRIES} draws")


def port_accepts(host: str, port: int, timeout: float = 0.5) -> bool:
    """True if something accepts TCP connections on host:port (cheap pre-check)."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


# -- processes -----------------------------------------------------------------


def _tail(path: Path, lines: int) -> str:
    """Last ``lines`` lines of a text file, or '' if it does not exist."""
    try:
        with path.open("rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - 64 * 1024))
            data = fh.read().decode("utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(data.splitlines()[-lines:])


def _pid_alive(pid: int) -> bool:
    """True if ``pid`` exists and is not a zombie (a zombie has already exited)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    # state is the first field after the parenthesised command name
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def _cmdline(pid: int) -> str:
    """Command line of ``pid`` with its arguments joined by spaces ('' if gone)."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _wait_pid_gone(pid: int, timeout: float) -> bool:
    """Wait (bounded) until a non-child pid has exited; True if it did."""
    deadline = time.monotonic() + timeout
    delay = 0.02
    while _pid_alive(pid):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        # Not our child, so there is nothing to block on: short, growing polls.
        time.sleep(min(delay, remaining))
        delay = min(delay * 1.5, 0.2)
    return True


def spawn(
    cmd: Sequence[str], log_path: Path, cwd: Path, *, new_session: bool = True, banner: str = ""
) -> subprocess.Popen[bytes]:
    """Start ``cmd`` with stdin closed and stdout+stderr appended to ``log_path``.

    Why ``new_session``: True keeps a terminal's Ctrl-C away from the server
    (its owner stops it cleanly) and lets a detached one outlive us; False
    leaves it in our process group, so a CI job teardown reaches it too.
    ``banner`` is written to the log first, to tell restarts apart.
    """
    with log_path.open("ab") as out:
        if banner:
            out.write(banner.encode())
            out.flush()
        return subprocess.Popen(
            list(cmd),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            start_new_session=new_session,
            close_fds=True,
        )


def wait_ready(proc: subprocess.Popen[bytes], is_up: Callable[[], bool], deadline: float) -> Readiness:
    """Poll ``is_up()`` until it holds, ``proc`` exits, or ``time.monotonic()`` passes ``deadline``.

    Why: a server is ready when it answers a real request, not when it was
    spawned; and one that died must be reported at once, not at the deadline.
    Between polls it blocks on the real event "process exited", with a short,
    growing bound.  The caller decides what each outcome means.
    """
    delay = 0.02
    while True:
        if proc.poll() is not None:
            return "exited"
        if is_up():
            return "ready"
        if time.monotonic() >= deadline:
            return "timeout"
        with contextlib.suppress(subprocess.TimeoutExpired):  # expected: it is still running
            proc.wait(timeout=min(delay, max(0.0, deadline - time.monotonic())))
        delay = min(delay * 1.5, 0.25)


def stop_process(proc: subprocess.Popen[bytes], timeout: float, *, name: str, kill_wait: float = 10.0) -> int:
    """SIGTERM a child (clean shutdown), SIGKILL it after ``timeout`` s; returns its exit code."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            log.warning("%s (pid %s) did not stop within %.0fs; killing it", name, proc.pid, timeout)
            proc.kill()
            proc.wait(timeout=kill_wait)
    return proc.returncode


def kill_process(proc: subprocess.Popen[bytes], kill_wait: float = 10.0) -> int:
    """SIGKILL a child at once (a simulated crash: no clean shutdown); returns its exit code."""
    if proc.poll() is None:
        proc.kill()
        proc.wait(timeout=kill_wait)
    return proc.returncode


# -- pid files (servers started with --detach) ---------------------------------


def read_pidfile(pidfile: Path) -> int | None:
    """The pid recorded in ``pidfile``, or None if it is missing or holds no pid."""
    try:
        return int(pidfile.read_text().strip())
    except (OSError, ValueError):
        return None


def _is_our_server(pid: int, cmdline_marker: str) -> bool:
    """Alive and started by us: ``cmdline_marker`` appears in its command line."""
    return _pid_alive(pid) and cmdline_marker in _cmdline(pid)


def live_pid(pidfile: Path, cmdline_marker: str) -> int | None:
    """The pid in ``pidfile`` if that process is alive and its command line holds ``cmdline_marker``.

    Why the marker: pids are recycled, so a stale pid file must never make us
    report, or signal, an unrelated process.
    """
    pid = read_pidfile(pidfile)
    if pid is None or not _is_our_server(pid, cmdline_marker):
        return None
    return pid


def stop_pidfile(pidfile: Path, cmdline_marker: str, timeout: float = 30.0, *, kill_wait: float = 10.0) -> str:
    """Stop a detached server recorded in ``pidfile`` (SIGTERM, then SIGKILL).

    Why: ``--detach`` starts outlive the CLI process, so ``stop`` must find them
    again.  ``cmdline_marker`` (e.g. the config path) must appear in the
    process's command line, so a recycled pid is never signalled.
    Returns 'stopped', 'killed', 'not-running' or 'stale-pidfile'.
    """
    pid = read_pidfile(pidfile)
    if pid is None:
        pidfile.unlink(missing_ok=True)  # a pid file without a pid is of no use to anyone
        return "not-running"
    if not _is_our_server(pid, cmdline_marker):
        pidfile.unlink(missing_ok=True)
        return "stale-pidfile"
    os.kill(pid, signal.SIGTERM)
    result = "stopped"
    if not _wait_pid_gone(pid, timeout):
        log.warning("pid %s did not stop within %.0fs; killing it", pid, timeout)
        with contextlib.suppress(ProcessLookupError):  # it exited just now: nothing left to kill
            os.kill(pid, signal.SIGKILL)
        _wait_pid_gone(pid, kill_wait)
        result = "killed"
    pidfile.unlink(missing_ok=True)
    return result


# -- the base class ------------------------------------------------------------


class LocalServerProcess:
    """Start/stop one server subprocess and wait for it to become ready.

    Subclasses provide ``command()``, ``prepare()``, ``is_up()``, ``ports()``,
    ``cmdline_marker()`` and, if not the default, ``log_files()``.
    ``new_session`` False keeps the server in our process group (a CI job
    teardown or a terminal's Ctrl-C reaches it too); True lets it outlive us.
    """

    name = "server"
    new_session = True
    kill_wait = 10.0  # seconds to wait for the process to be gone after SIGKILL
    error: type[ServerStartError] = ServerStartError  # raised when start-up fails

    def __init__(self, data_dir: Path, host: str = "127.0.0.1") -> None:
        self.data_dir = Path(data_dir).resolve()
        self.host = loopback_host(host)
        self._proc: subprocess.Popen[bytes] | None = None
        self._owned = False
        self._launched = 0.0
        self.startup_seconds: float | None = None

    # -- to be provided by subclasses -------------------------------------
    def command(self) -> list[str]:
        """argv of the server process."""
        raise NotImplementedError

    def prepare(self) -> None:
        """Create directories and write configs before spawning."""

    def is_up(self, timeout: float = 1.0) -> bool:
        """True if a server answers the real readiness check."""
        raise NotImplementedError

    def ports(self) -> list[int]:
        """Ports the server will bind (checked for squatters before start)."""
        raise NotImplementedError

    def cmdline_marker(self) -> str:
        """A string unique to this instance's command line (pidfile check)."""
        raise NotImplementedError

    def log_files(self) -> list[Path]:
        """Logs whose tail is shown when start-up fails."""
        return [self.stdout_path]

    # -- common ------------------------------------------------------------
    @property
    def log_dir(self) -> Path:
        return self.data_dir / "logs"

    @property
    def stdout_path(self) -> Path:
        return self.log_dir / f"{self.name}.stdout.log"

    @property
    def pidfile(self) -> Path:
        return self.data_dir / f"{self.name}.pid"

    @property
    def owned(self) -> bool:
        """True if this object started the running process (and will stop it)."""
        return self._owned and self.pid is not None

    @property
    def pid(self) -> int | None:
        """Pid of the process this object started, while it runs."""
        if self._proc is not None and self._proc.poll() is None:
            return self._proc.pid
        return None

    @property
    def url_host(self) -> str:
        """``host`` as written in a URL or listen address (an IPv6 one in brackets)."""
        return f"[{self.host}]" if ":" in self.host else self.host

    def log_tail(self, lines: int = 40) -> str:
        """Tail of each log file, for error messages."""
        parts = []
        for path in self.log_files():
            text = _tail(path, lines)
            if text:
                parts.append(f"--- {path} (last {lines} lines) ---\n{text}")
        return "\n".join(parts) or f"(no log output in {self.log_dir})"

    def start(self, timeout: float = 60.0) -> Self:
        """Start the server (or reuse one already answering) and wait until ready.

        Raises ``self.error`` with the log tail if the process exits, or if
        it is not ready within ``timeout`` seconds (it is then killed).
        """
        if self.pid is not None:
            return self
        if self.is_up():
            log.info("%s already answers on %s:%s; reusing it", self.name, self.host, self.ports()[0])
            self._owned = False
            self._proc = None
            self.startup_seconds = 0.0
            return self
        self.launch()
        self.wait_until_ready(timeout)
        return self

    def launch(self) -> None:
        """Spawn the server without waiting for it (a cluster node cannot be ready before its peers)."""
        if self.pid is not None:
            return
        busy = [p for p in self.ports() if port_accepts(self.host, p, timeout=0.2)]
        if busy:
            raise self.error(
                f"{self.name}: port(s) {busy} on {self.host} are already in use "
                f"by something that is not a ready {self.name}"
            )
        self.prepare()
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self._launched = time.monotonic()
        self._proc = spawn(self.command(), self.stdout_path, self.data_dir, new_session=self.new_session)
        self._owned = True
        _LIVE.add(self)
        self.pidfile.write_text(f"{self._proc.pid}\n")

    def wait_until_ready(self, timeout: float) -> None:
        """Return once the launched server is ready; if it exits or ``timeout`` passes, raise with the log tail."""
        proc = self._proc
        if proc is None:
            raise self.error(f"{self.name} was not launched")
        outcome = wait_ready(proc, self.is_up, time.monotonic() + timeout)
        if outcome == "exited":
            self._forget()
            raise self.error(f"{self.name} exited with code {proc.returncode} during start-up.\n{self.log_tail()}")
        if outcome == "timeout":
            self.kill()
            raise self.error(f"{self.name} not ready within {timeout:.0f}s; killed it.\n{self.log_tail()}")
        self.startup_seconds = time.monotonic() - self._launched
        log.info("%s ready on %s:%s (pid %s)", self.name, self.host, self.ports()[0], proc.pid)

    def stop(self, timeout: float = 30.0) -> int | None:
        """SIGTERM the process this object started, SIGKILL after ``timeout``.

        Returns its exit code, or None if this object owns no process (e.g. it
        reused a server someone else started - that one is left running).
        """
        proc = self._proc
        if proc is None or not self._owned:
            return None
        code = stop_process(proc, timeout, name=self.name, kill_wait=self.kill_wait)
        self._forget()
        return code

    def kill(self) -> int | None:
        """SIGKILL the owned process immediately (tests of crash handling)."""
        proc = self._proc
        if proc is None or not self._owned:
            return None
        code = kill_process(proc, self.kill_wait)
        self._forget()
        return code

    def detach(self) -> int | None:
        """Give up ownership but leave the process running (CLI ``--detach``).

        The pid file stays so ``stop_detached()`` can find it later.
        """
        pid = self.pid
        self._proc = None
        self._owned = False
        _LIVE.discard(self)
        return pid

    def stop_detached(self, timeout: float = 30.0) -> str:
        """Stop a server started earlier with ``--detach`` for this data_dir."""
        return stop_pidfile(self.pidfile, self.cmdline_marker(), timeout, kill_wait=self.kill_wait)

    def wait(self, timeout: float | None = None) -> int | None:
        """Block until the owned process exits (foreground CLI mode)."""
        if self._proc is None:
            return None
        return self._proc.wait(timeout=timeout)

    def _forget(self) -> None:
        if self._proc is not None and read_pidfile(self.pidfile) == self._proc.pid:
            self.pidfile.unlink(missing_ok=True)  # only our own: another start may have written it since
        self._proc = None
        self._owned = False
        _LIVE.discard(self)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "owned" if self.owned else "not-owned"
        return f"<{type(self).__name__} {self.host} ports={self.ports()} {state} pid={self.pid}>"


@atexit.register
def _stop_leftovers() -> None:
    """Do not leave owned (non-detached) servers behind when Python exits."""
    for server in list(_LIVE):
        with contextlib.suppress(Exception):  # best effort at interpreter exit
            server.stop(timeout=10)


# -- CLI pieces shared by the launchers ----------------------------------------


def server_cli_parser(
    prog: str,
    description: str,
    helps: Mapping[str, str],
    *,
    data_dir_help: str,
    add_ports: Callable[[argparse.ArgumentParser, str], None],
    add_start_options: Callable[[argparse.ArgumentParser], None] | None = None,
    detach_help: str = "leave it running and return",
) -> argparse.ArgumentParser:
    """A parser with one sub-command per ``helps`` entry (start/stop/status).

    Why: every launcher's CLI takes the same --data-dir/--host/--timeout/--detach
    options; only its ports (``add_ports(parser, action)``) and a few start-only
    options (``add_start_options``) differ.
    """
    parser = argparse.ArgumentParser(prog=prog, description=description)
    sub = parser.add_subparsers(dest="action", required=True)
    for action, text in helps.items():
        p = sub.add_parser(action, help=text, description=text)
        p.add_argument("--data-dir", type=Path, required=True, help=data_dir_help)
        add_ports(p, action)
        p.add_argument("--host", default="127.0.0.1", help="loopback address to listen on (default 127.0.0.1)")
        p.add_argument("--timeout", type=float, default=60.0 if action == "start" else 30.0, help="seconds")
        if action == "start":
            if add_start_options is not None:
                add_start_options(p)
            p.add_argument("--detach", action="store_true", help=detach_help)
    return parser


def run_foreground(server: LocalServerProcess, timeout: float, detach: bool) -> int:
    """Shared CLI body for ``start``: start, then detach or block until exit.

    Why: a foreground server must be stopped cleanly on Ctrl-C / SIGTERM of
    the wrapper, a detached one must outlive it.
    """
    try:
        server.start(timeout=timeout)
    except ServerStartError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    if not server.owned:
        print(f"{server.name}: already running on {server.host}:{server.ports()[0]} (reused, not owned)")
        return 0
    print(f"{server.name}: ready pid={server.pid} ports={server.ports()} in {server.startup_seconds:.2f}s", flush=True)
    if detach:
        server.detach()
        return 0

    def _terminate(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGINT, _terminate)  # also when started with SIGINT ignored
    try:
        code = server.wait()
        print(f"{server.name}: exited with code {code}", file=sys.stderr)
        return 0 if code == 0 else 1
    except KeyboardInterrupt:
        server.stop()
        return 0


def run_cli_action(server: LocalServerProcess, args: argparse.Namespace, where: str) -> int:
    """Run the parsed start/stop/status sub-command; returns the exit code.

    ``where`` names the address in the status line (e.g. ``url=...``).
    Status exits 0 if the server answers, else 3.
    """
    if args.action == "start":
        return run_foreground(server, args.timeout, args.detach)
    if args.action == "stop":
        print(f"{server.name}: {server.stop_detached(timeout=args.timeout)}")
        return 0
    up = server.is_up()
    pid = server.pidfile.read_text().strip() if server.pidfile.exists() else "-"
    print(f"{server.name}: {'up' if up else 'down'} {where} pidfile_pid={pid}")
    return 0 if up else 3
