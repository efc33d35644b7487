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
import os
import re
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path
from string import Template
from typing import Any
from xml.sax.saxutils import escape as _xml_escape

# The generic process life cycle lives in ops.local_process; these names are
# re-exported because tests and benches import them from here (``free_port`` above all).
from ops.local_process import (  # noqa: F401 - re-exports
    LocalServerProcess,
    ServerStartError,
    _cmdline,
    _pid_alive,
    _stop_leftovers,
    _tail,
    _wait_pid_gone,
    free_port,
    loopback_host,
    port_accepts,
    run_cli_action,
    run_foreground,
    server_cli_parser,
    stop_pidfile,
)

__all__ = [
    "LocalClickHouseServer",
    "LocalServerProcess",
    "ServerStartError",
    "find_clickhouse_server",
    "free_port",
    "stop_pidfile",
]

TEMPLATE_DIR = Path(__file__).resolve().parent / "clickhouse"


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
        return f"clickhouse://{self.url_host}:{self.tcp_port}/default"

    @property
    def http_url(self) -> str:
        return f"http://{self.url_host}:{self.http_port}/"

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


def _add_ports(p: argparse.ArgumentParser, action: str) -> None:
    p.add_argument("--tcp-port", type=int, required=action == "start", help="native protocol port")
    p.add_argument("--http-port", type=int, required=action == "start", help="HTTP interface port")


def _add_start_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--interserver-port", type=int, default=None, help="only if replication is needed")


def build_parser() -> argparse.ArgumentParser:
    return server_cli_parser(
        "python -m ops.clickhouse_server",
        "Run a private, loopback-only ClickHouse server whose files all live in --data-dir.",
        {
            "start": "start a server (foreground unless --detach) or reuse one answering on --tcp-port",
            "stop": "stop a server started with --detach for this --data-dir",
            "status": "exit 0 if SELECT 1 answers on --tcp-port, else 3",
        },
        data_dir_help="directory for config, data, tmp and logs",
        add_ports=_add_ports,
        add_start_options=_add_start_options,
        detach_help="leave the server running and return",
    )


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
    return run_cli_action(server, args, f"tcp={server.host}:{tcp_port}")


if __name__ == "__main__":
    sys.exit(main())
