"""A real single-node Apache Kafka broker (KRaft mode) for development, tests and CI.

The official broker jars are resolved from Maven by ``ops/kafka/pom.xml`` into a cache outside the
repository and started with the machine's Java.

Typical use::

    with LocalKafka(19092, 19093, Path("/tmp/kdata")) as kafka:
        produce_to(kafka.bootstrap_servers)

or from a shell: ``ops/kafka.sh start --detach`` ... ``ops/kafka.sh stop``.

Ready means the broker answers a Metadata request listing a live broker (a few bytes on a socket:
no Kafka client needed). Spawning, stopping and pid files come from ``ops.local_process``.
"""

from __future__ import annotations

import argparse
import base64
import fcntl
import hashlib
import logging
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time
import types
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from pathlib import Path

from ops.local_process import (
    kill_process,
    live_pid,
    read_pidfile,
    spawn,
    stop_pidfile,
    stop_process,
    wait_ready,
)

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
# Seconds to wait for the broker JVM to be gone after a SIGKILL.
_KILL_WAIT = 30.0
_MARKER = ".fetched"
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


class LocalKafkaError(RuntimeError):
    """Fetching, formatting, starting or stopping the local broker failed."""


def kafka_version(pom: Path = POM_FILE) -> str:
    """The Kafka version pinned in the pom (``<kafka.version>``), the single source of truth."""
    ns = {"m": "http://maven.apache.org/POM/4.0.0"}
    node = ET.parse(pom).getroot().find("m:properties/m:kafka.version", ns)
    if node is None or not (node.text or "").strip():
        raise LocalKafkaError(f"no <kafka.version> property in {pom}")
    return node.text.strip()  # type: ignore[union-attr]


try:
    KAFKA_VERSION = kafka_version()
except (OSError, ET.ParseError, LocalKafkaError):  # e.g. installed without ops/kafka/
    KAFKA_VERSION = "unknown"  # metadata_ready() etc. still work; fetch() reports the missing pom


def _cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "edu-cockpit"


def default_cache_dir() -> Path:
    """Jar cache outside the repo (``$EDU_COCKPIT_KAFKA_CACHE`` overrides) so it survives fresh clones."""
    override = os.environ.get(CACHE_ENV)
    return Path(override) if override else _cache_root() / f"kafka-{KAFKA_VERSION}"


def default_data_dir(bootstrap_port: int = DEFAULT_BOOTSTRAP_PORT) -> Path:
    """Per-port data dir for the CLI, so brokers on different ports never share a log."""
    return _cache_root() / "data" / f"kafka-{bootstrap_port}"


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


def _tail(path: Path, start: int = 0, lines: int = 40) -> str:
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


def _find_java() -> str:
    java_home = os.environ.get("JAVA_HOME")
    if java_home and (Path(java_home) / "bin" / "java").is_file():
        return str(Path(java_home) / "bin" / "java")
    java = shutil.which("java")
    if not java:
        raise LocalKafkaError("java not found (need Java 17+ on PATH or JAVA_HOME)")
    return java


class LocalKafka:
    """One single-node KRaft broker (broker + controller in one JVM) on loopback.

    Only stops what it started: if a broker already answers on ``bootstrap_port``
    when :meth:`start` runs, that broker is reused and left alone by :meth:`stop`.
    """

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
    ) -> None:
        self.host = host
        self.bootstrap_port = int(bootstrap_port)
        self.controller_port = int(controller_port)
        self.data_dir = Path(data_dir or default_data_dir(self.bootstrap_port)).resolve()
        self.cache_dir = Path(cache_dir or default_cache_dir()).resolve()
        self.jvm_opts = tuple(jvm_opts)
        self.extra_config = dict(extra_config or {})
        self._proc: subprocess.Popen[bytes] | None = None
        self._owned = False
        self._log_offset = 0

    # ----------------------------------------------------------------- paths
    @property
    def bootstrap_servers(self) -> str:
        """``host:port`` string for client ``bootstrap_servers`` settings."""
        return f"{self.host}:{self.bootstrap_port}"

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
    def pid_file(self) -> Path:
        return self.data_dir / "kafka.pid"

    @property
    def pid(self) -> int | None:
        """PID of the broker this object started, if it is still running."""
        if self._proc is not None and self._proc.poll() is None:
            return self._proc.pid
        return None

    @property
    def owned(self) -> bool:
        """True if this object started the running broker (and so may stop it)."""
        return self._owned and self.pid is not None

    # ----------------------------------------------------------------- fetch
    def _pom_digest(self) -> str:
        return hashlib.sha256(POM_FILE.read_bytes()).hexdigest()

    def fetch(self) -> Path:
        """Resolve the broker jars with Maven into ``cache_dir/libs``; returns that dir.

        Idempotent and fast when cached: a marker holding the pom's hash is checked
        first, so editing the pom refetches. A file lock serialises concurrent
        fetches (parallel test workers) and the copy lands via an atomic rename, so
        a killed fetch never leaves a half-filled classpath behind.
        """
        if not POM_FILE.is_file():
            raise LocalKafkaError(f"{POM_FILE} is missing; it lists the Kafka jars to fetch")
        digest = self._pom_digest()
        marker = self.cache_dir / _MARKER
        if self._fetched(marker, digest):
            return self.libs_dir
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        with (self.cache_dir / ".fetch.lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if self._fetched(marker, digest):
                return self.libs_dir
            mvn = shutil.which("mvn")
            if not mvn:
                raise LocalKafkaError("mvn not found on PATH (install Maven to fetch the Kafka jars)")
            tmp = self.cache_dir / f"libs.tmp-{os.getpid()}"
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
            log.info("fetching Kafka %s jars into %s", KAFKA_VERSION, self.libs_dir)
            res = subprocess.run(
                cmd,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=self.cache_dir,
                check=False,
            )
            out = _ANSI.sub("", res.stdout.decode("utf-8", "replace")).strip()
            if res.returncode != 0 or not any(tmp.glob("kafka_2.13-*.jar")):
                shutil.rmtree(tmp, ignore_errors=True)
                raise LocalKafkaError(
                    f"maven could not fetch Kafka {KAFKA_VERSION} (exit {res.returncode}):\n"
                    f"$ {' '.join(cmd)}\n{out[-6000:] or '<no output>'}"
                )
            shutil.rmtree(self.libs_dir, ignore_errors=True)
            tmp.rename(self.libs_dir)
            marker.write_text(digest + "\n")
        return self.libs_dir

    def _fetched(self, marker: Path, digest: str) -> bool:
        try:
            return marker.read_text().strip() == digest and self.libs_dir.is_dir()
        except OSError:
            return False

    # ---------------------------------------------------------------- config
    def server_properties(self) -> dict[str, str]:
        """The broker configuration, tuned for one node: every replication factor is 1."""
        props = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": f"1@{self.host}:{self.controller_port}",
            "listeners": f"PLAINTEXT://{self.host}:{self.bootstrap_port},"
            f"CONTROLLER://{self.host}:{self.controller_port}",
            "advertised.listeners": f"PLAINTEXT://{self.host}:{self.bootstrap_port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "log.dirs": str(self.log_dir),
            "num.partitions": "4",
            "default.replication.factor": "1",
            "min.insync.replicas": "1",
            "auto.create.topics.enable": "true",
            "offsets.topic.replication.factor": "1",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            # Consumers of a fresh group start at once instead of after 3 s.
            "group.initial.rebalance.delay.ms": "0",
            # After a crash (SIGKILL) the restarted controller keeps the old broker
            # registration until its session expires, and the broker waits for that
            # before serving: 9 s by default, ~3 s with these. Broker and controller
            # share one JVM here, so a GC pause cannot fence one without the other.
            "broker.session.timeout.ms": "3000",
            "broker.heartbeat.interval.ms": "1000",
        }
        props.update(self.extra_config)
        return props

    def write_config(self) -> Path:
        """Write ``server.properties`` into data_dir (rewritten on every start, so ports may change)."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        text = "# Written by ops/kafka_local.py; rewritten on every start.\n"
        text += "".join(f"{k}={v}\n" for k, v in self.server_properties().items())
        self.config_file.write_text(text)
        return self.config_file

    def _java_cmd(self, main_class: str, *args: str) -> list[str]:
        return [
            _find_java(),
            *self.jvm_opts,
            f"-Dlog4j2.configurationFile={LOG4J_CONFIG}",
            f"-Dkafka.logs.dir={self.data_dir}",
            "-cp",
            f"{self.libs_dir}/*",
            main_class,
            *args,
        ]

    def is_formatted(self) -> bool:
        return (self.log_dir / "meta.properties").is_file()

    def format(self) -> bool:
        """Format KRaft storage once (random cluster id); returns False if already formatted.

        KRaft brokers refuse to start on an unformatted log dir, and reformatting
        would orphan existing data, hence the guard.
        """
        if self.is_formatted():
            return False
        self.fetch()
        self.write_config()
        log.info("formatting KRaft storage in %s", self.log_dir)
        cmd = self._java_cmd(
            "kafka.tools.StorageTool",
            "format",
            "--ignore-formatted",
            "-t",
            _new_cluster_id(),
            "-c",
            str(self.config_file),
        )
        # The storage tool only needs a small heap; don't reserve the broker's.
        cmd = [c for c in cmd if not c.startswith(("-Xms", "-Xmx"))]
        cmd.insert(1, "-Xmx256m")
        res = subprocess.run(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, check=False
        )
        if res.returncode != 0 or not self.is_formatted():
            raise LocalKafkaError(
                f"formatting KRaft storage in {self.log_dir} failed (exit {res.returncode}):\n"
                + res.stdout.decode("utf-8", "replace")[-6000:]
            )
        return True

    # ------------------------------------------------------------- lifecycle
    def is_up(self, timeout: float = 1.0) -> bool:
        """A broker answers Metadata on bootstrap_port (ours or anyone's)."""
        return metadata_ready(self.host, self.bootstrap_port, timeout)

    def start(self, timeout: float = 60.0, *, detach: bool = False) -> None:
        """Start the broker and return once it answers Metadata; reuse one already there.

        ``detach=True`` puts the JVM in its own session so it outlives this Python
        process (used by the CLI's ``start --detach``); otherwise it shares our
        process group, so Ctrl-C or a CI job teardown reaches it too.
        Raises :class:`LocalKafkaError` with the log tail if the JVM exits early or
        is not ready by the deadline (then it is killed, not left behind).
        """
        if self.pid is not None:
            return
        if self.is_up():
            log.info("a broker already answers on %s; reusing it", self.bootstrap_servers)
            self._owned = False
            return
        self.fetch()
        self.format()
        self.write_config()
        self.log_file.touch()
        self._log_offset = self.log_file.stat().st_size
        cmd = self._java_cmd("kafka.Kafka", str(self.config_file))
        log.info("starting Kafka %s on %s (log %s)", KAFKA_VERSION, self.bootstrap_servers, self.log_file)
        self._proc = spawn(
            cmd,
            self.log_file,
            self.data_dir,
            new_session=detach,
            banner=f"\n==== starting Kafka {KAFKA_VERSION} at {time.ctime()} ====\n",
        )
        self._owned = True
        self.pid_file.write_text(f"{self._proc.pid}\n")
        self._wait_ready(timeout)

    def _wait_ready(self, timeout: float) -> None:
        """Return once ready; if the JVM dies or the deadline passes, raise with the log tail."""
        assert self._proc is not None
        outcome = wait_ready(self._proc, self.is_up, time.monotonic() + timeout)
        if outcome == "ready":
            log.info("Kafka ready on %s (pid %s)", self.bootstrap_servers, self._proc.pid)
            return
        if outcome == "exited":
            code = self._proc.returncode
            self._forget()
            raise LocalKafkaError(
                f"Kafka exited with code {code} before becoming ready; "
                f"tail of {self.log_file}:\n{_tail(self.log_file, self._log_offset)}"
            )
        self.kill()
        raise LocalKafkaError(
            f"Kafka not ready on {self.bootstrap_servers} within {timeout:.0f}s; "
            f"tail of {self.log_file}:\n{_tail(self.log_file, self._log_offset)}"
        )

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM (clean shutdown, flushes logs) then SIGKILL after ``timeout``; only if we started it."""
        if self._proc is None or not self._owned:
            return
        stop_process(self._proc, timeout, name="Kafka", kill_wait=_KILL_WAIT)
        self._forget()

    def kill(self) -> None:
        """SIGKILL the broker we started (simulates a crash: no clean shutdown)."""
        if self._proc is None or not self._owned:
            return
        kill_process(self._proc, kill_wait=_KILL_WAIT)
        self._forget()

    def restart(self, timeout: float = 60.0) -> None:
        """Stop (if ours and running) and start again on the same data; also recovers after kill()."""
        self.stop()
        self.start(timeout)

    def _forget(self) -> None:
        if self._proc is not None and read_pidfile(self.pid_file) == self._proc.pid:
            self.pid_file.unlink(missing_ok=True)
        self._proc = None
        self._owned = False

    # -------------------------------------------------- detached (pid file)
    def _cmdline_marker(self) -> str:
        """What only the command line of a broker on *this* data dir holds: main class, then its config.

        Checked against /proc/<pid>/cmdline (arguments joined by spaces) so a stale
        pid file whose pid was recycled can never make us signal an unrelated process.
        """
        return f" kafka.Kafka {self.config_file} "

    def _pid_from_file(self) -> int | None:
        """PID in the pid file, if it is still a Kafka JVM using *this* data dir."""
        return live_pid(self.pid_file, self._cmdline_marker())

    def stop_detached(self, timeout: float = 30.0) -> bool:
        """Stop a broker started earlier with ``start(detach=True)`` (via its pid file).

        SIGTERM, then SIGKILL after ``timeout``. Returns False if no such broker is
        running (a stale pid file is removed).
        """
        result = stop_pidfile(self.pid_file, self._cmdline_marker(), timeout, kill_wait=_KILL_WAIT)
        return result in ("stopped", "killed")

    # ------------------------------------------------------- context manager
    def __enter__(self) -> LocalKafka:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: types.TracebackType | None
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return (
            f"LocalKafka({self.bootstrap_servers}, controller={self.controller_port}, "
            f"data_dir={self.data_dir}, pid={self.pid}, owned={self.owned})"
        )


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
    kafka = LocalKafka(args.port, args.controller_port, args.data_dir, args.cache_dir, args.host)
    try:
        if args.command == "fetch":
            t0 = time.monotonic()
            print(f"{kafka.fetch()} ({time.monotonic() - t0:.1f}s)")
            return 0
        if args.command == "status":
            up = kafka.is_up()
            pid = kafka._pid_from_file()
            print(
                f"{'up' if up else 'down'} {kafka.bootstrap_servers}"
                + (f" pid={pid}" if pid else "")
                + f" data_dir={kafka.data_dir}"
            )
            return 0 if up else 1
        if args.command == "stop":
            stopped = kafka.stop_detached(args.timeout)
            print("stopped" if stopped else f"no broker started from {kafka.data_dir} is running")
            return 0
        # start
        t0 = time.monotonic()
        kafka.start(args.timeout, detach=args.detach)
        if not kafka.owned:
            print(f"already up on {kafka.bootstrap_servers}; not starting another")
            return 0
        print(
            f"Kafka {KAFKA_VERSION} ready on {kafka.bootstrap_servers} in "
            f"{time.monotonic() - t0:.1f}s (pid {kafka.pid}, log {kafka.log_file})",
            flush=True,
        )
        if args.detach:
            return 0
        return _run_foreground(kafka, args.timeout)
    except LocalKafkaError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


def _run_foreground(kafka: LocalKafka, timeout: float) -> int:
    """Block until Ctrl-C/SIGTERM (then stop cleanly) or until the broker dies."""

    def _on_term(signum: int, frame: types.FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _on_term)
    proc = kafka._proc
    assert proc is not None
    try:
        code = proc.wait()
        kafka._forget()
        print(f"Kafka exited with code {code}; see {kafka.log_file}", file=sys.stderr)
        return code or 1
    except KeyboardInterrupt:
        print("stopping Kafka ...", flush=True)
        kafka.stop(timeout)
        return 0


if __name__ == "__main__":
    sys.exit(main())
