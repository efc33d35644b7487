"""A real single-node Apache Kafka broker (KRaft mode) for development, tests and CI.

The official broker jars are resolved from Maven by ``ops/kafka/pom.xml`` into a cache outside the
repository and started with the machine's Java; the life cycle is ``ops.local_process``'s.

Typical use::

    with LocalKafka(19092, 19093, Path("/tmp/kdata")) as kafka:
        produce_to(kafka.bootstrap_servers)

or from a shell: ``ops/kafka.sh start --detach`` ... ``ops/kafka.sh stop``.

Ready means the broker answers a Metadata request listing a live broker (a few bytes on a socket:
no Kafka client needed).
"""

from __future__ import annotations

import argparse
import base64
import logging
import os
import socket
import struct
import subprocess
import sys
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Self

from ops.jvm import cache_root, fetch_jars, java_command, pom_property
from ops.local_process import LocalServerProcess, ServerStartError, live_pid, run_foreground

__all__ = [
    "DEFAULT_BOOTSTRAP_PORT",
    "DEFAULT_CONTROLLER_PORT",
    "KAFKA_VERSION",
    "LocalKafka",
    "LocalKafkaError",
    "default_cache_dir",
    "default_data_dir",
    "kafka_version",
    "main",
    "metadata_ready",
]

log = logging.getLogger(__name__)

OPS_KAFKA_DIR = Path(__file__).resolve().parent / "kafka"
POM_FILE = OPS_KAFKA_DIR / "pom.xml"
LOG4J_CONFIG = OPS_KAFKA_DIR / "log4j2.yaml"

DEFAULT_BOOTSTRAP_PORT = 19092
DEFAULT_CONTROLLER_PORT = 19093
DEFAULT_HOST = "127.0.0.1"
# Small, predictable footprint on a 2-core dev/CI machine; G1 with short pauses is
# what Kafka's own start scripts use.
DEFAULT_JVM_OPTS: tuple[str, ...] = (
    "-Xms256m",
    "-Xmx512m",
    "-XX:+UseG1GC",
    "-XX:MaxGCPauseMillis=20",
    "-XX:+ExitOnOutOfMemoryError",
    "-Djava.awt.headless=true",
)
CACHE_ENV = "EDU_COCKPIT_KAFKA_CACHE"


class LocalKafkaError(ServerStartError):
    """Fetching, formatting or starting the local broker failed."""


def kafka_version(pom: Path = POM_FILE) -> str:
    """The Kafka version pinned in the pom (``<kafka.version>``), the single source of truth."""
    return pom_property(pom, "kafka.version", LocalKafkaError)


try:
    KAFKA_VERSION = kafka_version()
except (OSError, ET.ParseError, LocalKafkaError):  # e.g. installed without ops/kafka/
    KAFKA_VERSION = "unknown"  # metadata_ready() etc. still work; fetch() reports the missing pom


def default_cache_dir() -> Path:
    """Jar cache outside the repo (``$EDU_COCKPIT_KAFKA_CACHE`` overrides) so it survives fresh clones."""
    override = os.environ.get(CACHE_ENV)
    return Path(override) if override else cache_root() / f"kafka-{KAFKA_VERSION}"


def default_data_dir(bootstrap_port: int = DEFAULT_BOOTSTRAP_PORT) -> Path:
    """Per-port data dir for the CLI, so brokers on different ports never share a log."""
    return cache_root() / "data" / f"kafka-{bootstrap_port}"


def _new_cluster_id() -> str:
    """Same format as Kafka's ``Uuid.randomUuid()`` (base64url of 16 bytes), without a JVM launch."""
    while True:
        cid = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        if not cid.startswith("-"):  # Kafka rejects ids that look like CLI flags
            return cid


def _metadata_request(correlation_id: int) -> bytes:
    """Metadata v4 (the oldest version Kafka 4.x still serves, and one 3.x serves too)."""
    client_id = b"edu-cockpit-ready"
    header = struct.pack(">hhih", 3, 4, correlation_id, len(client_id)) + client_id
    body = struct.pack(">ib", 0, 0)  # no topics, allow_auto_topic_creation=false
    payload = header + body
    return struct.pack(">i", len(payload)) + payload


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("connection closed by peer")
        buf += chunk
    return bytes(buf)


def metadata_ready(host: str, port: int, timeout: float = 1.0) -> bool:
    """True if a Kafka broker on host:port answers Metadata with at least one live broker.

    Stronger than "port open": a KRaft broker only opens its data-plane acceptors
    once it has caught up with the metadata log, and the broker list is non-empty
    only once it is registered with the controller.
    """
    correlation_id = 0x5EED
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.settimeout(timeout)
            sock.sendall(_metadata_request(correlation_id))
            (size,) = struct.unpack(">i", _recv_exact(sock, 4))
            if size < 12 or size > 64 * 1024 * 1024:
                return False
            resp = _recv_exact(sock, size)
    except (OSError, ConnectionError, struct.error):
        return False
    got_id, _throttle, n_brokers = struct.unpack_from(">iii", resp, 0)
    return bool(got_id == correlation_id and n_brokers >= 1)


def _error_tail(path: Path, start: int = 0, lines: int = 40) -> str:
    """First ERROR lines plus the last lines of a log written since byte offset ``start``.

    The tail alone is usually a Java stack trace; the first ERROR line says what failed.
    """
    try:
        with path.open("rb") as fh:
            fh.seek(start)
            text = fh.read().decode("utf-8", "replace")
    except OSError as exc:
        return f"<cannot read {path}: {exc}>"
    all_lines = text.splitlines()
    errors = [ln[:500] for ln in all_lines if " ERROR " in ln or " FATAL " in ln][:5]
    head = ("first errors:\n" + "\n".join(errors) + "\n--- last lines ---\n") if errors else ""
    return head + ("\n".join(all_lines[-lines:]) or "<empty log>")


class LocalKafka(LocalServerProcess):
    """One single-node KRaft broker (broker + controller in one JVM) on loopback.

    Only stops what it started: if a broker already answers on ``bootstrap_port``
    when :meth:`start` runs, that broker is reused and left alone by :meth:`stop`.
    ``own_session`` True puts the JVM in its own session (see :meth:`start`).
    """

    name = "kafka"
    kill_wait = 30.0  # a broker JVM can take a while to be gone after SIGKILL
    error = LocalKafkaError
    replication = (1, 1)  # (replication factor, min in-sync replicas) of every topic
    tuning: Mapping[str, str] = {}  # what a subclass sets on top of server_properties()

    def __init__(
        self,
        bootstrap_port: int = DEFAULT_BOOTSTRAP_PORT,
        controller_port: int = DEFAULT_CONTROLLER_PORT,
        data_dir: Path | str | None = None,
        cache_dir: Path | str | None = None,
        host: str = DEFAULT_HOST,
        *,
        jvm_opts: Sequence[str] = DEFAULT_JVM_OPTS,
        extra_config: Mapping[str, str] | None = None,
        own_session: bool = False,
    ) -> None:
        super().__init__(Path(data_dir or default_data_dir(int(bootstrap_port))), host)
        self.bootstrap_port = int(bootstrap_port)
        self.controller_port = int(controller_port)
        self.cache_dir = Path(cache_dir or default_cache_dir()).resolve()
        self.jvm_opts = tuple(jvm_opts)
        self.extra_config = dict(extra_config or {})
        self.new_session = own_session
        self.node_id = 1
        self.voters = f"1@{self.url_host}:{self.controller_port}"
        self.cluster_id = _new_cluster_id()  # used only when the storage is formatted
        self._log_offset = 0

    # ----------------------------------------------------------------- paths
    @property
    def bootstrap_servers(self) -> str:
        """``host:port`` string for client ``bootstrap_servers`` settings."""
        return f"{self.url_host}:{self.bootstrap_port}"

    @property
    def libs_dir(self) -> Path:
        return self.cache_dir / "libs"

    @property
    def log_dir(self) -> Path:
        """Kafka's ``log.dirs`` (partition data and the KRaft metadata log)."""
        return self.data_dir / "logs"

    @property
    def config_file(self) -> Path:
        return self.data_dir / "server.properties"

    @property
    def log_file(self) -> Path:
        """The broker's stdout/stderr (log4j output), appended across restarts."""
        return self.data_dir / "kafka.log"

    @property
    def stdout_path(self) -> Path:
        return self.log_file

    def fetch(self) -> Path:
        """Resolve the broker jars with Maven into ``cache_dir/libs`` (once; see ``ops.jvm.fetch_jars``)."""
        return fetch_jars(POM_FILE, self.cache_dir, "kafka_2.13-*.jar", f"Kafka {KAFKA_VERSION}", LocalKafkaError)

    # ---------------------------------------------------------------- config
    def server_properties(self) -> dict[str, str]:
        """The broker configuration: ``replication`` and ``tuning``, then ``extra_config``, win."""
        rf, isr = (str(n) for n in self.replication)
        props = {
            "process.roles": "broker,controller",
            "node.id": str(self.node_id),
            "controller.quorum.voters": self.voters,
            "listeners": f"PLAINTEXT://{self.url_host}:{self.bootstrap_port},"
            f"CONTROLLER://{self.url_host}:{self.controller_port}",
            "advertised.listeners": f"PLAINTEXT://{self.url_host}:{self.bootstrap_port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "log.dirs": str(self.log_dir),
            "num.partitions": "4",
            "default.replication.factor": rf,
            "min.insync.replicas": isr,
            "auto.create.topics.enable": "true",
            "offsets.topic.replication.factor": rf,
            "transaction.state.log.replication.factor": rf,
            "transaction.state.log.min.isr": isr,
            "share.coordinator.state.topic.replication.factor": rf,
            "share.coordinator.state.topic.min.isr": isr,
            # Consumers of a fresh group start at once instead of after 3 s.
            "group.initial.rebalance.delay.ms": "0",
            # After a crash (SIGKILL) the restarted controller keeps the old broker
            # registration until its session expires, and the broker waits for that
            # before serving: 9 s by default, ~3 s with these. Broker and controller
            # share one JVM here, so a GC pause cannot fence one without the other.
            "broker.session.timeout.ms": "3000",
            "broker.heartbeat.interval.ms": "1000",
        }
        props.update(self.tuning)
        props.update(self.extra_config)
        return props

    def write_config(self) -> Path:
        """Write ``server.properties`` into data_dir (rewritten on every start, so ports may change)."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        text = "# Written by ops/kafka_local.py; rewritten on every start.\n"
        text += "".join(f"{k}={v}\n" for k, v in self.server_properties().items())
        self.config_file.write_text(text)
        return self.config_file

    def _java_cmd(self, main_class: str, *args: str, jvm_opts: Sequence[str] | None = None) -> list[str]:
        opts = self.jvm_opts if jvm_opts is None else jvm_opts
        logging_opts = (f"-Dlog4j2.configurationFile={LOG4J_CONFIG}", f"-Dkafka.logs.dir={self.data_dir}")
        return java_command(self.libs_dir, main_class, *args, jvm_opts=(*opts, *logging_opts), error=LocalKafkaError)

    def is_formatted(self) -> bool:
        return (self.log_dir / "meta.properties").is_file()

    def format(self) -> bool:
        """Format KRaft storage once with ``cluster_id``; returns False if already formatted.

        KRaft brokers refuse to start on an unformatted log dir, and reformatting
        would orphan existing data, hence the guard.
        """
        if self.is_formatted():
            return False
        self.fetch()
        self.write_config()
        log.info("formatting KRaft storage in %s", self.log_dir)
        # The storage tool only needs a small heap; don't reserve the broker's.
        tool_opts = ("-Xmx256m", *(o for o in self.jvm_opts if not o.startswith(("-Xms", "-Xmx"))))
        cmd = self._java_cmd(
            "kafka.tools.StorageTool",
            *("format", "--ignore-formatted", "-t", self.cluster_id, "-c", str(self.config_file)),
            jvm_opts=tool_opts,
        )
        res = subprocess.run(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, check=False
        )
        if res.returncode != 0 or not self.is_formatted():
            raise LocalKafkaError(
                f"formatting KRaft storage in {self.log_dir} failed (exit {res.returncode}):\n"
                + res.stdout.decode("utf-8", "replace")[-6000:]
            )
        return True

    # ------------------------------------------ LocalServerProcess hooks
    def prepare(self) -> None:
        self.fetch()
        self.format()
        self.write_config()
        self.log_file.touch()
        self._log_offset = self.log_file.stat().st_size  # the error tail starts here
        with self.log_file.open("a") as out:
            out.write(f"\n==== starting Kafka {KAFKA_VERSION} node {self.node_id} at {time.ctime()} ====\n")

    def command(self) -> list[str]:
        return self._java_cmd("kafka.Kafka", str(self.config_file))

    def ports(self) -> list[int]:
        return [self.bootstrap_port, self.controller_port]

    def cmdline_marker(self) -> str:
        """Main class, then its config: only a broker on *this* data dir has both."""
        return f" kafka.Kafka {self.config_file} "

    def is_up(self, timeout: float = 1.0) -> bool:
        """A broker answers Metadata on bootstrap_port (ours or anyone's)."""
        return metadata_ready(self.host, self.bootstrap_port, timeout)

    def log_tail(self, lines: int = 40) -> str:
        """The first ERROR lines and the last lines the broker wrote since this start."""
        return f"tail of {self.log_file}:\n{_error_tail(self.log_file, self._log_offset, lines)}"

    # ------------------------------------------------------------- lifecycle
    def start(self, timeout: float = 60.0, *, detach: bool = False) -> Self:
        """Start the broker and return once it answers Metadata; reuse one already there.

        ``detach=True`` puts the JVM in its own session (this start and later ones), so it
        outlives this Python process and a terminal's Ctrl-C does not reach it (the CLI's
        ``start --detach``, ``edu-local``); otherwise it shares our process group, so Ctrl-C
        or a CI job teardown reaches it too.
        """
        self.new_session = self.new_session or detach
        return super().start(timeout)

    def restart(self, timeout: float = 60.0) -> None:
        """Stop (if ours and running) and start again on the same data; also recovers after kill()."""
        self.stop()
        self.start(timeout)


# ---------------------------------------------------------------------- CLI
def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m ops.kafka_local",
        description=f"Local single-node Apache Kafka {KAFKA_VERSION} broker (KRaft) for dev/tests.",
    )
    p.add_argument(
        "command",
        choices=["fetch", "start", "stop", "status"],
        help="fetch: download jars; start: run broker (foreground unless --detach); "
        "stop: stop a --detach'ed broker; status: exit 0 if a broker answers",
    )
    p.add_argument(
        "--port", type=int, default=DEFAULT_BOOTSTRAP_PORT, help="client (bootstrap) port, default %(default)s"
    )
    p.add_argument(
        "--controller-port",
        type=int,
        default=DEFAULT_CONTROLLER_PORT,
        help="KRaft controller port, default %(default)s",
    )
    p.add_argument("--host", default=DEFAULT_HOST, help="listen address, default %(default)s")
    p.add_argument(
        "--data-dir", type=Path, default=None, help=f"broker data dir, default {default_data_dir()} (per port)"
    )
    p.add_argument(
        "--cache-dir", type=Path, default=None, help=f"jar cache, default {default_cache_dir()} (or ${CACHE_ENV})"
    )
    p.add_argument(
        "--detach",
        action="store_true",
        help="start: return once ready, leaving the broker running (pid file in data dir)",
    )
    p.add_argument(
        "--timeout", type=float, default=60.0, help="seconds to wait for readiness / shutdown, default %(default)s"
    )
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """CLI entry point; returns the process exit code."""
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    kafka = LocalKafka(
        args.port, args.controller_port, args.data_dir, args.cache_dir, args.host, own_session=args.detach
    )
    try:
        if args.command == "fetch":
            t0 = time.monotonic()
            print(f"{kafka.fetch()} ({time.monotonic() - t0:.1f}s)")
            return 0
        if args.command == "status":
            up = kafka.is_up()
            pid = live_pid(kafka.pidfile, kafka.cmdline_marker())
            print(
                f"{'up' if up else 'down'} {kafka.bootstrap_servers}"
                + (f" pid={pid}" if pid else "")
                + f" data_dir={kafka.data_dir}"
            )
            return 0 if up else 1
        if args.command == "stop":
            print(f"{kafka.name}: {kafka.stop_detached(args.timeout)} ({kafka.data_dir})")
            return 0
    except LocalKafkaError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return run_foreground(kafka, args.timeout, args.detach)


if __name__ == "__main__":
    sys.exit(main())
