"""A standalone Apache ZooKeeper on loopback, for the local ClickHouse cluster.

Why: ClickHouse 18.16 (Debian's) coordinates ReplicatedMergeTree tables and ON CLUSTER DDL through
ZooKeeper; its own Keeper only came in 21.8. The server jars come from Maven Central like Kafka's
(``ops/zookeeper/pom.xml``, cached outside the repository) and run on the machine's Java 17.
Readiness is ZooKeeper's ``srvr`` four-letter command answering with a ``Mode:`` line (it says
"not currently serving requests" until the database is loaded).

    with LocalZooKeeper(Path("/tmp/zk"), client_port=22181) as zk:
        zk.connect_string  # '127.0.0.1:22181'

    python -m ops.zookeeper_local start --data-dir D --client-port P [--detach] | stop | status
"""

from __future__ import annotations

import argparse
import logging
import socket
import sys
from collections.abc import Sequence
from pathlib import Path

from ops.jvm import cache_root, fetch_jars, java_command, pom_property
from ops.local_process import LocalServerProcess, ServerStartError, run_cli_action, server_cli_parser

log = logging.getLogger(__name__)

OPS_ZK_DIR = Path(__file__).resolve().parent / "zookeeper"
POM_FILE = OPS_ZK_DIR / "pom.xml"
LOGBACK = OPS_ZK_DIR / "logback.xml"
MAIN_CLASS = "org.apache.zookeeper.server.ZooKeeperServerMain"


class ZooKeeperError(ServerStartError):
    """Fetching the ZooKeeper jars or starting ZooKeeper failed."""


def zookeeper_version(pom: Path = POM_FILE) -> str:
    return pom_property(pom, "zookeeper.version", ZooKeeperError)


def default_cache_dir() -> Path:
    return cache_root() / f"zookeeper-{zookeeper_version()}"


def fetch(cache_dir: Path | None = None) -> Path:
    """Resolve the server jars with Maven into ``cache_dir/libs`` (once; see ``ops.jvm.fetch_jars``)."""
    return fetch_jars(POM_FILE, Path(cache_dir or default_cache_dir()), "zookeeper-3*.jar", "ZooKeeper", ZooKeeperError)


def four_letter(host: str, port: int, word: bytes, timeout: float = 1.0) -> str:
    """Send a four-letter command; '' if nothing answers."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.settimeout(timeout)
            sock.sendall(word)
            chunks = []
            while True:
                data = sock.recv(4096)
                if not data:
                    break
                chunks.append(data)
    except OSError:
        return ""
    return b"".join(chunks).decode("utf-8", "replace")


class LocalZooKeeper(LocalServerProcess):
    """One standalone ZooKeeper confined to ``data_dir`` and a loopback client port."""

    name = "zookeeper"
    error = ZooKeeperError

    def __init__(
        self,
        data_dir: Path,
        client_port: int,
        host: str = "127.0.0.1",
        *,
        cache_dir: Path | None = None,
        heap: str = "128m",
    ) -> None:
        super().__init__(data_dir, host)
        self.client_port = int(client_port)
        self.cache_dir = cache_dir
        self.heap = heap

    @property
    def config_path(self) -> Path:
        return self.data_dir / "zoo.cfg"

    @property
    def connect_string(self) -> str:
        return f"{self.host}:{self.client_port}"

    def ports(self) -> list[int]:
        return [self.client_port]

    def cmdline_marker(self) -> str:
        return f"{MAIN_CLASS} {self.config_path}"

    def render_config(self) -> str:
        # tickTime 500 ms: sessions of ClickHouse (30 s asked) are capped at 20 ticks = 10 s, so a
        # killed ClickHouse node's ephemeral nodes (its replica's is_active) go within 10 s.
        return "\n".join(
            [
                "# Written by ops/zookeeper_local.py on every start.",
                "tickTime=500",
                "initLimit=10",
                "syncLimit=5",
                f"dataDir={self.data_dir / 'data'}",
                f"clientPort={self.client_port}",
                f"clientPortAddress={self.host}",
                "maxClientCnxns=0",
                "admin.enableServer=false",
                "4lw.commands.whitelist=ruok,srvr,mntr",
                "autopurge.snapRetainCount=3",
                "autopurge.purgeInterval=1",
                "",
            ]
        )

    def prepare(self) -> None:
        (self.data_dir / "data").mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(self.render_config())

    def command(self) -> list[str]:
        opts = (
            f"-Xmx{self.heap}",
            "-XX:+UseSerialGC",
            "-Djava.awt.headless=true",
            f"-Dlogback.configurationFile={LOGBACK}",
            "-Dzookeeper.jmx.log4j.disable=true",
        )
        libs = fetch(self.cache_dir)
        return java_command(libs, MAIN_CLASS, str(self.config_path), jvm_opts=opts, error=ZooKeeperError)

    def is_up(self, timeout: float = 1.0) -> bool:
        return "Mode:" in four_letter(self.host, self.client_port, b"srvr", timeout)


def _add_ports(p: argparse.ArgumentParser, action: str) -> None:
    p.add_argument("--client-port", type=int, default=22181, help="client port (default 22181)")


def main(argv: Sequence[str] | None = None) -> int:
    args = server_cli_parser(
        "python -m ops.zookeeper_local",
        "Run a private, loopback-only ZooKeeper in --data-dir.",
        {
            "start": "start ZooKeeper (foreground unless --detach)",
            "stop": "stop a --detach'ed one",
            "status": "exit 0 if it serves requests, else 3",
        },
        data_dir_help="directory for zoo.cfg, snapshots and logs",
        add_ports=_add_ports,
    ).parse_args(argv)
    zk = LocalZooKeeper(args.data_dir.resolve(), args.client_port, args.host)
    return run_cli_action(zk, args, f"connect={zk.connect_string}")


if __name__ == "__main__":
    sys.exit(main())
