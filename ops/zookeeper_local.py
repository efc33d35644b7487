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
import fcntl
import hashlib
import logging
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from ops.local_process import LocalServerProcess, run_cli_action, server_cli_parser

log = logging.getLogger(__name__)

OPS_ZK_DIR = Path(__file__).resolve().parent / "zookeeper"
POM_FILE = OPS_ZK_DIR / "pom.xml"
LOGBACK = OPS_ZK_DIR / "logback.xml"
MAIN_CLASS = "org.apache.zookeeper.server.ZooKeeperServerMain"
_MARKER = ".fetched"


class ZooKeeperError(RuntimeError):
    """Fetching the ZooKeeper jars failed."""


def zookeeper_version(pom: Path = POM_FILE) -> str:
    import xml.etree.ElementTree as ET

    ns = {"m": "http://maven.apache.org/POM/4.0.0"}
    node = ET.parse(pom).getroot().find("m:properties/m:zookeeper.version", ns)
    if node is None or not (node.text or "").strip():
        raise ZooKeeperError(f"no <zookeeper.version> in {pom}")
    return (node.text or "").strip()


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "edu-cockpit" / f"zookeeper-{zookeeper_version()}"


def fetch(cache_dir: Path | None = None) -> Path:
    """Resolve the server jars with Maven into ``cache_dir/libs`` (idempotent, locked, atomic)."""
    cache = Path(cache_dir or default_cache_dir())
    libs = cache / "libs"
    digest = hashlib.sha256(POM_FILE.read_bytes()).hexdigest()
    marker = cache / _MARKER

    def done() -> bool:
        return marker.is_file() and marker.read_text().strip() == digest and libs.is_dir()

    if done():
        return libs
    cache.mkdir(parents=True, exist_ok=True)
    with (cache / ".fetch.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if done():
            return libs
        mvn = shutil.which("mvn")
        if not mvn:
            raise ZooKeeperError("mvn not found on PATH (install Maven to fetch the ZooKeeper jars)")
        tmp = cache / f"libs.tmp-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        cmd = [
            mvn,
            "-q",
            "-B",
            "-Dstyle.color=never",
            "-f",
            str(POM_FILE),
            "dependency:copy-dependencies",
            "-DincludeScope=runtime",
            f"-DoutputDirectory={tmp}",
        ]
        res = subprocess.run(cmd, capture_output=True, stdin=subprocess.DEVNULL, cwd=cache, check=False)
        if res.returncode != 0 or not any(tmp.glob("zookeeper-3*.jar")):
            shutil.rmtree(tmp, ignore_errors=True)
            raise ZooKeeperError(
                f"maven could not fetch ZooKeeper (exit {res.returncode}):\n"
                + (res.stdout + res.stderr).decode("utf-8", "replace")[-4000:]
            )
        shutil.rmtree(libs, ignore_errors=True)
        tmp.rename(libs)
        marker.write_text(digest + "\n")
    return libs


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
        libs = fetch(self.cache_dir)
        java = shutil.which("java") or "java"
        return [
            java,
            f"-Xmx{self.heap}",
            "-XX:+UseSerialGC",
            "-Djava.awt.headless=true",
            f"-Dlogback.configurationFile={LOGBACK}",
            "-Dzookeeper.jmx.log4j.disable=true",
            "-cp",
            f"{libs}/*",
            MAIN_CLASS,
            str(self.config_path),
        ]

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
