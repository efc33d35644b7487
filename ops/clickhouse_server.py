"""Private, loopback-only ClickHouse server (Debian's 18.16) for development, tests and CI.

Everything (data, tmp, logs, configs) lives under one ``data_dir``; it listens on loopback only.
Start-up, shutdown and SQL findings for 18.16 and chDB are in ``docs/storage.md``.

Usage::

    with LocalClickHouseServer(Path("/tmp/ch"), tcp_port=19000, http_port=18123) as ch:
        ch.client().execute("SELECT 1")

    python -m ops.clickhouse_server start|status|stop --data-dir D [--tcp-port P --http-port Q --detach]
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

from ops.local_process import LocalServerProcess, port_accepts, run_cli_action, server_cli_parser

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
        "clickhouse-server not found (apt-get install clickhouse-server, or set CLICKHOUSE_SERVER_BIN)"
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
        except Exception:
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
        data_dir,
        tcp_port,
        http_port,
        args.host,
        interserver_port=getattr(args, "interserver_port", None),
    )
    return run_cli_action(server, args, f"tcp={server.host}:{tcp_port}")


if __name__ == "__main__":
    sys.exit(main())
