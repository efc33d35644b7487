"""Private, loopback-only ClickHouse server for development, tests and CI.

Why this exists: the cockpit stores its aggregates in ClickHouse, and Debian 12
only ships ``clickhouse-server`` **18.16.1** (2018).  Nothing may be started via
systemd and nothing may touch ``/var/lib/clickhouse``, so tests and dev runs
start their own server process with a generated config that keeps *everything*
(data, tmp, logs, user_files, format_schemas, preprocessed configs) under one
``data_dir`` and listens on ``127.0.0.1`` only.

Usage::

    from ops.clickhouse_server import LocalClickHouseServer
    with LocalClickHouseServer(Path("/tmp/ch"), tcp_port=19000, http_port=18123) as ch:
        ch.client().execute("SELECT 1")

    python -m ops.clickhouse_server start  --data-dir D --tcp-port P --http-port Q [--detach]
    python -m ops.clickhouse_server status --data-dir D [--tcp-port P]
    python -m ops.clickhouse_server stop   --data-dir D

Measured here (2 cores): start until ``SELECT 1`` answers 0.1-0.3 s; SIGTERM
shutdown 0.7-1.1 s (exit code 0), also with idle clients still connected,
because users.xml sets ``poll_interval`` to 1 (with 18.16's default of 10 an
open idle clickhouse-driver connection delays shutdown by ~10 s).  18.16 runs
as root without complaint (the "effective user does not match data owner"
check only came in later releases), so the binary is run directly:
``/usr/sbin/clickhouse-server --config-file=<data_dir>/etc/config.xml``.
The ``--pid-file`` option is ignored when not daemonized, so the pid file here
is written by Python.

SQL findings, verified by running each statement over clickhouse-driver 0.2.11
against 18.16.1 and through chDB 4.4.0 (``chdb.session.Session``, embedded
engine 26.9.2.1).  "yes"/"NO" = accepted/rejected by that engine.

===========================================================  =======  =======
Feature                                                      18.16.1  chDB 4.4
===========================================================  =======  =======
CREATE TABLE IF NOT EXISTS / CREATE DATABASE IF NOT EXISTS   yes      yes
ENGINE = MergeTree / MergeTree() PARTITION BY toYYYYMMDD(d)  yes      yes
  ORDER BY (..) [SETTINGS index_granularity = 8192]
ORDER BY tuple(); PARTITION BY toYYYYMMDD(<DateTime col>)    yes      yes
SummingMergeTree, SummingMergeTree((n, v))                   yes      yes
ReplacingMergeTree(ver)                                      yes      yes
AggregatingMergeTree + AggregateFunction(uniq, UInt64)       yes      yes
uniqState / uniqMerge / finalizeAggregation                  yes      yes
MATERIALIZED VIEW .. TO table / with ENGINE / POPULATE       yes      yes
Enum8('ok' = 1, ...) columns; WHERE lvl = 'error'            yes      yes
Nullable, Array, Tuple, Decimal(18,4), DEFAULT now()         yes      yes
LowCardinality(String)                                       only w/  yes
  (setting allow_experimental_low_cardinality_type = 1)      setting
DateTime64, Map, SimpleAggregateFunction, CODEC(..), TTL     NO       yes
SELECT .. FINAL (Replacing/Summing)                          yes      yes
OPTIMIZE TABLE t FINAL [DEDUPLICATE]                         yes      yes
toStartOfMinute/FiveMinute/FifteenMinutes/Hour, toDate,      yes      yes
  now(), today(), now() - INTERVAL 5 MINUTE, toUnixTimestamp
toStartOfFiveMinutes (plural), toStartOfTenMinutes,          NO       yes
  toStartOfInterval(ts, INTERVAL ..)
LIMIT n BY k [LIMIT m]; argMax(x, ts); argMax((a, b), ts)    yes      yes
groupArray(x), groupArray(3)(x)                              yes      yes
quantile(0.95)(x), quantiles(..), quantileExact,             yes      yes
  quantileTDigest, median; uniq/uniqExact; countIf/sumIf
GROUP BY .. WITH TOTALS; PREWHERE; multiIf; arrayJoin        yes      yes
WITH 5 AS n SELECT (scalar alias)                            yes      yes
WITH t AS (SELECT ..) (CTE); window functions (OVER)         NO       yes
ORDER BY .. WITH FILL; JSONExtract*  (18.16: use             NO       yes
  visitParamExtractString)
system.parts (partition, partition_id, name, rows, active,   yes      yes
  min_date, max_date; ``partition`` is a String '20240501');
  system.columns; SHOW CREATE; DESCRIBE
ALTER TABLE t DROP PARTITION 20240501 (integer literal)      yes      yes
ALTER TABLE t DROP PARTITION tuple(toYYYYMMDD(toDate('..'))) yes      yes
ALTER TABLE t DROP PARTITION toYYYYMMDD(toDate('..'))        yes      NO
  (bare expression; chDB: syntax error -> wrap in tuple())
ALTER TABLE t DROP PARTITION '20240501' (string, UInt32 key) NO (53)  yes
ALTER TABLE t DROP PARTITION ID '20240501'                   yes      yes
DROP PARTITION of a non-existent partition                   no-op    no-op
ALTER TABLE ADD COLUMN c T DEFAULT .. [AFTER x]; DROP COLUMN yes      yes
ALTER TABLE ADD COLUMN IF NOT EXISTS / DROP COLUMN IF EXISTS NO (62)  yes
  (18.16: check system.columns first, then plain ADD COLUMN)
ALTER .. DELETE WHERE / UPDATE .. WHERE (async mutations);   yes      yes
  MODIFY COLUMN; DETACH/ATTACH PARTITION
EXISTS TABLE db.t                                            yes      yes
EXISTS DATABASE db; KILL MUTATION                            NO       yes
Server-side query parameters {name:Type}                     NO       yes
SAMPLE 0.1 (table without SAMPLE BY)                         NO       NO
===========================================================  =======  =======

Client-side (clickhouse-driver 0.2.11 with 18.16; chDB has no native port, so
clickhouse-driver cannot talk to chDB - only the SQL text is shared):

* ``execute('INSERT INTO t (cols) VALUES', rows, types_check=True)`` works for
  tuples, dicts, and ``columnar=True``; 10,000 rows in one call is fine and
  200,000 rows is split into blocks by the driver.  Returns the row count.
* **Bug** (mymarilyn/clickhouse-driver#328, still open): with
  ``types_check=True`` an ``Enum8`` column only accepts ``int`` codes or
  ``enum.IntEnum`` members; ``'error'`` strings or plain ``enum.Enum``
  members raise ``TypeError: '>=' not supported between 'str' and 'int'``.
  Without ``types_check`` strings and ``Enum`` members work; an unknown name
  raises ``LogicalError`` (code 49) client-side.
* ``types_check=True`` rejects float->UInt64, str->Date and negative->UInt
  (``TypeMismatchError`` code 53); int->Float64 is accepted.
* ``%(name)s`` parameters are substituted client-side by the driver, so they
  work on 18.16: str (quotes/backslashes escaped), int, float, None (NULL),
  date, datetime, list -> array literal, tuple -> ``IN (..)`` list.  They are
  values only, never identifiers (``FROM %(t)s`` gives a quoted string ->
  syntax error).  ``DROP PARTITION %(p)s`` with an int and
  ``DROP PARTITION ID %(p)s`` with a str both work.
* Time zones: the generated config pins ``<timezone>UTC</timezone>``.  Naive
  datetimes are written as server time (UTC); tz-aware ones are converted
  (12:00+02:00 -> stored 10:00).  Plain ``DateTime`` columns come back naive,
  but ``toStartOfMinute/FiveMinute/Hour(..)`` results have type
  ``DateTime('Etc/UTC')`` and come back tz-aware (``Etc/UTC``) - do not mix
  them unconverted in pandas.
* ``with_column_types=True``, ``execute_iter``, ``settings={..}``,
  ``query_id=``, ``query_dataframe`` (needs pandas) all work.
* Compression: ``Client(..., compression=True|'lz4'|'lz4hc'|'zstd')`` all work
  against 18.16 once the extras are installed; without them the client raises
  ``UnknownCompressionMethod`` (no lz4/zstd) or ``RuntimeError: Package
  clickhouse-cityhash is required``.  Pins that install as manylinux wheels on
  CPython 3.11 (no compiler needed): ``clickhouse-driver[lz4]==0.2.11`` pulls
  ``lz4==4.4.5`` + ``clickhouse-cityhash==1.0.2.6``; ``[zstd]`` adds
  ``zstd==1.5.7.2``.  URL form ``clickhouse://h:p/db?compression=lz4`` works.

chDB 4.4.0 specifics (``from chdb import session``):

* ``Session(path)`` keeps databases/tables under ``path`` (metadata/, store/,
  data/, tmp/); re-opening the same path keeps data (~0.04 s).  ``Session()``
  uses a temporary dir removed on close.  Only ONE embedded server per
  process: opening a second path while another session is open raises
  ``RuntimeError ... EmbeddedServer already initialized with path``; after
  ``close()`` another path works.
* Surprise: chDB reads ``./config.xml`` from the *current working directory*
  if present (it picked up a ClickHouse server config, logged into that
  server's log files and tried to lock its ``status`` file).  Do not run chDB
  with cwd = a directory holding a ``config.xml``.
* ``Session.query(sql, fmt='CSV', udf_path='', params=None)``; params are
  server-side ``{name:Type}`` placeholders only (``%(name)s`` is a syntax
  error): ``params={'k': 'k1', 'since': datetime(..), 'd': date(..)}`` work;
  tz-aware datetimes are rejected; Array params need a ClickHouse literal
  string (``"['2024-05-01']"``), Python lists of str/date fail; ``None``
  becomes the *string* ``'NULL'``, not NULL.  ``{t:Identifier}`` takes one
  identifier (not ``db.t``).  ``DROP PARTITION {p:UInt32}`` and ``ID {p:String}`` work.
* Returns a ``query_result`` (``.data()`` str, ``.bytes()``, ``.rows_read()``,
  ``.elapsed()``); fmt ``'JSONEachRow'``, ``'JSONCompact'``, ``'DataFrame'``,
  ``'ArrowTable'`` work.  SQL errors raise ``chdb.ChdbError`` (an
  ``Exception``, not a RuntimeError); session/connection errors raise
  ``RuntimeError``.
* Inserts: literal ``INSERT .. VALUES (..),(..)`` (10,000 rows ~0.03 s),
  ``INSERT INTO t FORMAT JSONEachRow\\n<rows>``,
  ``Session.send_insert('INSERT INTO t (cols)', 'CSV')`` streaming inserter,
  ``INSERT INTO t SELECT * FROM Python(df)``.  ``chdb.dbapi`` has
  ``paramstyle = 'format'`` (``%s``; ``%(name)s`` fails).
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import ipaddress
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import weakref
from collections.abc import Sequence
from pathlib import Path
from string import Template
from types import TracebackType
from typing import Any, Self
from xml.sax.saxutils import escape as _xml_escape

__all__ = [
    "LocalClickHouseServer",
    "LocalServerProcess",
    "ServerStartError",
    "find_clickhouse_server",
    "free_port",
    "stop_pidfile",
]

TEMPLATE_DIR = Path(__file__).resolve().parent / "clickhouse"

_LIVE: weakref.WeakSet[LocalServerProcess] = weakref.WeakSet()


class ServerStartError(RuntimeError):
    """A managed server did not become ready; the message carries its log tail."""


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


def free_port(host: str = "127.0.0.1") -> int:
    """Ask the kernel for a currently free TCP port on ``host`` (for tests)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_accepts(host: str, port: int, timeout: float = 0.5) -> bool:
    """True if something accepts TCP connections on host:port (cheap pre-check)."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


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


def stop_pidfile(pidfile: Path, cmdline_marker: str, timeout: float = 30.0) -> str:
    """Stop a detached server recorded in ``pidfile`` (SIGTERM, then SIGKILL).

    Why: ``--detach`` starts outlive the CLI process, so ``stop`` must find them
    again.  ``cmdline_marker`` (e.g. the config path) must appear in the
    process's command line, so a recycled pid is never signalled.
    Returns 'stopped', 'killed', 'not-running' or 'stale-pidfile'.
    """
    try:
        pid = int(pidfile.read_text().strip())
    except (OSError, ValueError):
        return "not-running"
    if not _pid_alive(pid) or cmdline_marker not in _cmdline(pid):
        pidfile.unlink(missing_ok=True)
        return "stale-pidfile"
    os.kill(pid, signal.SIGTERM)
    result = "stopped"
    if not _wait_pid_gone(pid, timeout):
        os.kill(pid, signal.SIGKILL)
        _wait_pid_gone(pid, 10.0)
        result = "killed"
    pidfile.unlink(missing_ok=True)
    return result


class LocalServerProcess:
    """Start/stop one server subprocess and wait for it to become ready.

    Why a base class: ClickHouse and Alertmanager need the same life cycle -
    reuse a server that already answers (without owning it), otherwise spawn,
    poll a real readiness check with a deadline, fail fast with the log tail
    if the process dies, and stop/kill only the process this object started.
    Subclasses provide ``command()``, ``prepare()``, ``is_up()``, ``ports()``.
    """

    name = "server"

    def __init__(self, data_dir: Path, host: str = "127.0.0.1") -> None:
        self.data_dir = Path(data_dir).resolve()
        self.host = loopback_host(host)
        self._proc: subprocess.Popen[bytes] | None = None
        self._owned = False
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
        return self._owned and self._proc is not None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

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

        Raises ServerStartError with the log tail if the process exits, or if
        it is not ready within ``timeout`` seconds (it is then killed).
        """
        if self._proc is not None and self._proc.poll() is None:
            return self
        began = time.monotonic()
        if self.is_up():
            self._owned = False
            self._proc = None
            self.startup_seconds = 0.0
            return self
        busy = [p for p in self.ports() if port_accepts(self.host, p, timeout=0.2)]
        if busy:
            raise ServerStartError(
                f"{self.name}: port(s) {busy} on {self.host} are already in use "
                f"by something that is not a ready {self.name}"
            )
        self.prepare()
        self.log_dir.mkdir(parents=True, exist_ok=True)
        with self.stdout_path.open("ab") as out:
            self._proc = subprocess.Popen(
                self.command(),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=self.data_dir,
                start_new_session=True,  # Ctrl-C in a terminal goes to us, not it
                close_fds=True,
            )
        self._owned = True
        _LIVE.add(self)
        self.pidfile.write_text(f"{self._proc.pid}\n")
        deadline = began + timeout
        delay = 0.02
        while True:
            code = self._proc.poll()
            if code is not None:
                self._forget()
                raise ServerStartError(
                    f"{self.name} exited with code {code} during start-up.\n{self.log_tail()}"
                )
            if self.is_up():
                break
            if time.monotonic() >= deadline:
                self.kill()
                raise ServerStartError(
                    f"{self.name} not ready within {timeout:.0f}s; killed it.\n{self.log_tail()}"
                )
            # Block on the real event "process died", bounded by ``delay``.
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._proc.wait(timeout=min(delay, max(0.0, deadline - time.monotonic())))
            delay = min(delay * 1.5, 0.25)
        self.startup_seconds = time.monotonic() - began
        return self

    def stop(self, timeout: float = 30.0) -> int | None:
        """SIGTERM the process this object started, SIGKILL after ``timeout``.

        Returns its exit code, or None if this object owns no process (e.g. it
        reused a server someone else started - that one is left running).
        """
        proc = self._proc
        if proc is None or not self._owned:
            return None
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        self._forget()
        return proc.returncode

    def kill(self) -> int | None:
        """SIGKILL the owned process immediately (tests of crash handling)."""
        proc = self._proc
        if proc is None or not self._owned:
            return None
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        self._forget()
        return proc.returncode

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
        return stop_pidfile(self.pidfile, self.cmdline_marker(), timeout)

    def wait(self, timeout: float | None = None) -> int | None:
        """Block until the owned process exits (foreground CLI mode)."""
        if self._proc is None:
            return None
        return self._proc.wait(timeout=timeout)

    def _forget(self) -> None:
        self._proc = None
        self._owned = False
        _LIVE.discard(self)
        self.pidfile.unlink(missing_ok=True)

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


def find_clickhouse_server() -> list[str]:
    """argv prefix of the server binary (env CLICKHOUSE_SERVER_BIN overrides).

    Debian installs ``/usr/sbin/clickhouse-server`` (not on a non-root PATH);
    upstream packages ship a single ``clickhouse`` binary with a ``server``
    sub-command.
    """
    env = os.environ.get("CLICKHOUSE_SERVER_BIN")
    if env:
        return env.split()
    for candidate in ("clickhouse-server", "/usr/sbin/clickhouse-server", "/usr/bin/clickhouse-server"):
        path = shutil.which(candidate)
        if path:
            return [path]
    path = shutil.which("clickhouse")
    if path:
        return [path, "server"]
    raise FileNotFoundError(
        "clickhouse-server not found (apt-get install clickhouse-server, "
        "or set CLICKHOUSE_SERVER_BIN)"
    )


class LocalClickHouseServer(LocalServerProcess):
    """A ClickHouse server confined to ``data_dir`` and loopback ports.

    Layout under data_dir: ``etc/`` (config.xml, users.xml), ``data/`` (the
    server's <path>, incl. preprocessed_configs), ``tmp/``, ``user_files/``,
    ``format_schemas/``, ``logs/``, and ``clickhouse-server.pid``.
    The ``default`` user has no password and is accepted from loopback only.
    """

    name = "clickhouse-server"

    def __init__(
        self,
        data_dir: Path,
        tcp_port: int,
        http_port: int,
        host: str = "127.0.0.1",
        *,
        interserver_port: int | None = None,
        timezone: str = "UTC",
        log_level: str = "information",
        max_memory_usage: int = 8_000_000_000,
        binary: Sequence[str] | None = None,
    ) -> None:
        super().__init__(data_dir, host)
        self.tcp_port = int(tcp_port)
        self.http_port = int(http_port)
        self.interserver_port = int(interserver_port) if interserver_port else None
        self.timezone = timezone
        self.log_level = log_level
        self.max_memory_usage = int(max_memory_usage)
        self._binary = list(binary) if binary else None

    # -- paths -------------------------------------------------------------
    @property
    def etc_dir(self) -> Path:
        return self.data_dir / "etc"

    @property
    def config_path(self) -> Path:
        return self.etc_dir / "config.xml"

    @property
    def users_path(self) -> Path:
        return self.etc_dir / "users.xml"

    @property
    def db_path(self) -> Path:
        return self.data_dir / "data"

    @property
    def server_log_path(self) -> Path:
        return self.log_dir / "clickhouse-server.log"

    @property
    def error_log_path(self) -> Path:
        return self.log_dir / "clickhouse-server.err.log"

    @property
    def url(self) -> str:
        """clickhouse-driver URL (``Client.from_url``)."""
        return f"clickhouse://{self._url_host}:{self.tcp_port}/default"

    @property
    def http_url(self) -> str:
        return f"http://{self._url_host}:{self.http_port}/"

    @property
    def _url_host(self) -> str:
        return f"[{self.host}]" if ":" in self.host else self.host

    # -- LocalServerProcess hooks ------------------------------------------
    def ports(self) -> list[int]:
        ports = [self.tcp_port, self.http_port]
        if self.interserver_port:
            ports.append(self.interserver_port)
        return ports

    def cmdline_marker(self) -> str:
        return str(self.config_path)

    def log_files(self) -> list[Path]:
        return [self.error_log_path, self.stdout_path]

    def command(self) -> list[str]:
        binary = self._binary or find_clickhouse_server()
        return [*binary, f"--config-file={self.config_path}"]

    def render_config(self) -> str:
        """config.xml text from the template ``ops/clickhouse/config.xml``."""
        esc = _xml_escape
        interserver = (
            f"    <interserver_http_port>{self.interserver_port}</interserver_http_port>\n"
            f"    <interserver_http_host>{esc(self.host)}</interserver_http_host>"
            if self.interserver_port
            else "    <!-- no interserver_http_port: replication is not used -->"
        )
        values = {
            "log_level": esc(self.log_level),
            "log_dir": esc(f"{self.log_dir}/"),
            "host": esc(self.host),
            "tcp_port": str(self.tcp_port),
            "http_port": str(self.http_port),
            "interserver": interserver,
            "path": esc(f"{self.db_path}/"),
            "tmp_path": esc(f"{self.data_dir / 'tmp'}/"),
            "user_files_path": esc(f"{self.data_dir / 'user_files'}/"),
            "format_schema_path": esc(f"{self.data_dir / 'format_schemas'}/"),
            "users_config": esc(str(self.users_path)),
            "timezone": esc(self.timezone),
        }
        template = Template((TEMPLATE_DIR / "config.xml").read_text())
        return template.substitute(values)

    def render_users(self) -> str:
        """users.xml text from the template ``ops/clickhouse/users.xml``."""
        template = Template((TEMPLATE_DIR / "users.xml").read_text())
        return template.substitute({"max_memory_usage": str(self.max_memory_usage)})

    def prepare(self) -> None:
        for sub in ("etc", "data", "tmp", "user_files", "format_schemas", "logs"):
            (self.data_dir / sub).mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(self.render_config())
        self.users_path.write_text(self.render_users())

    def client(self, **kwargs: Any) -> Any:
        """A ``clickhouse_driver.Client`` for this server (kwargs passed on)."""
        from clickhouse_driver import Client

        return Client(self.host, port=self.tcp_port, **kwargs)

    def is_up(self, timeout: float = 1.0) -> bool:
        """True if ``SELECT 1`` answers over the native protocol.

        A raw TCP probe runs first so the driver (which logs a warning per
        refused connection) is only used once the port accepts connections.
        """
        if not port_accepts(self.host, self.tcp_port, timeout=min(timeout, 0.5)):
            return False
        try:
            from clickhouse_driver import Client
        except ImportError as exc:  # pragma: no cover - dependency missing
            raise RuntimeError("clickhouse-driver is required (pip install clickhouse-driver)") from exc
        client = Client(
            self.host,
            port=self.tcp_port,
            connect_timeout=timeout,
            send_receive_timeout=timeout,
            sync_request_timeout=timeout,
        )
        try:
            return client.execute("SELECT 1") == [(1,)]
        except Exception:  # noqa: BLE001 - any failure means "not ready"
            return False
        finally:
            client.disconnect()


# -- CLI ----------------------------------------------------------------------

def configured_ports(config_path: Path) -> tuple[int | None, int | None]:
    """(tcp_port, http_port) read back from a generated config.xml."""
    try:
        text = config_path.read_text()
    except OSError:
        return None, None
    tcp = re.search(r"<tcp_port>(\d+)</tcp_port>", text)
    http = re.search(r"<http_port>(\d+)</http_port>", text)
    return (int(tcp.group(1)) if tcp else None, int(http.group(1)) if http else None)


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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m ops.clickhouse_server",
        description="Run a private, loopback-only ClickHouse server whose files all live in --data-dir.",
    )
    sub = parser.add_subparsers(dest="action", required=True)
    helps = {
        "start": "start a server (foreground unless --detach) or reuse one answering on --tcp-port",
        "stop": "stop a server started with --detach for this --data-dir",
        "status": "exit 0 if SELECT 1 answers on --tcp-port, else 3",
    }
    for action, text in helps.items():
        p = sub.add_parser(action, help=text, description=text)
        p.add_argument("--data-dir", type=Path, required=True, help="directory for config, data, tmp and logs")
        p.add_argument("--tcp-port", type=int, required=action == "start", help="native protocol port")
        p.add_argument("--http-port", type=int, required=action == "start", help="HTTP interface port")
        p.add_argument("--host", default="127.0.0.1", help="loopback address to listen on (default 127.0.0.1)")
        p.add_argument("--timeout", type=float, default=60.0 if action == "start" else 30.0, help="seconds")
        if action == "start":
            p.add_argument("--interserver-port", type=int, default=None, help="only if replication is needed")
            p.add_argument("--detach", action="store_true", help="leave the server running and return")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    data_dir: Path = args.data_dir.resolve()
    tcp_port, http_port = args.tcp_port, args.http_port
    if tcp_port is None or http_port is None:
        cfg_tcp, cfg_http = configured_ports(data_dir / "etc" / "config.xml")
        tcp_port = tcp_port or cfg_tcp or 9000
        http_port = http_port or cfg_http or 8123
    server = LocalClickHouseServer(
        data_dir, tcp_port, http_port, args.host,
        interserver_port=getattr(args, "interserver_port", None),
    )
    if args.action == "start":
        return run_foreground(server, args.timeout, args.detach)
    if args.action == "stop":
        print(f"{server.name}: {server.stop_detached(timeout=args.timeout)}")
        return 0
    up = server.is_up()
    pid = server.pidfile.read_text().strip() if server.pidfile.exists() else "-"
    print(f"{server.name}: {'up' if up else 'down'} tcp={server.host}:{tcp_port} pidfile_pid={pid}")
    return 0 if up else 3


if __name__ == "__main__":
    sys.exit(main())
