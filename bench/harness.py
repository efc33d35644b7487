"""What the stream benchmarks share: a broker, private settings, seeded click events, offsets,
a watcher of the rates topic, and child processes that can be frozen while input is preloaded.

    from bench.harness import broker, bench_settings, preload, RatesWatch
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from contracts.events import Click, Session, encode
from contracts.geo import ACTIONS, PLATFORMS, PROVINCE_CODES, SECTIONS
from contracts.rates import decode_head
from contracts.settings import Settings, settings_env
from ops.local_process import free_port

PARTITIONS = 4
T0_MS = 1_647_216_000_000  # 2022-03-14 08:00 Beijing
SESSION_TIMEOUT_S = 80.0  # the worker stays in its group while frozen (Faust caps it at its 90 s request timeout)


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------------
# Broker, topics, settings
# --------------------------------------------------------------------------------------------------


@contextmanager
def broker(tmp: Path) -> Iterator[str]:
    from ops.kafka_local import LocalKafka, metadata_ready

    reuse = os.environ.get("EDU_KAFKA_BOOTSTRAP")
    if reuse:
        host, _, port = reuse.split(",")[0].rpartition(":")
        if metadata_ready(host, int(port)):
            log(f"reusing Kafka at {reuse}")
            yield reuse
            return
        log(f"EDU_KAFKA_BOOTSTRAP={reuse} does not answer; starting a local broker")
    kafka = LocalKafka(
        free_port(), free_port(), data_dir=tmp / "kafka", extra_config={"message.max.bytes": str(4 * 1024 * 1024)}
    )
    kafka.fetch()
    kafka.start(timeout=120)
    try:
        yield kafka.bootstrap_servers
    finally:
        kafka.stop()


def bench_settings(bootstrap: str, tag: str, tmp: Path, **overrides: object) -> Settings:
    """Settings whose every topic and group is private to this run and variant."""
    names: dict[str, object] = {
        name: f"bench.{tag}.{name[len('topic_') :]}"
        for name in Settings.model_fields
        if name.startswith("topic_") and name not in ("topic_partitions", "topic_replication")
    }
    base: dict[str, object] = dict(
        kafka_bootstrap=bootstrap,
        topic_partitions=PARTITIONS,
        worker_id=f"bench-{tag}-worker",
        sink_group=f"bench-{tag}-sink",
        worker_metrics_port=0,
        sink_metrics_port=0,
        worker_session_timeout_s=SESSION_TIMEOUT_S,
        data_dir=tmp / tag,
        clickhouse_database=f"bench_{tag.replace('-', '_')}",
        **names,
    )
    return Settings(**{**base, **overrides})  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------------
# Events
# --------------------------------------------------------------------------------------------------


def clicks(n: int, seed: int, start_ms: int = T0_MS, span_ms: int = 3 * 3600_000) -> Iterator[Click]:
    """n clicks in time order, spread over every platform, province, section and action.

    Fields come from a seeded pool of 50,000 random combinations (2 M users, 500 k sessions,
    28,052 resources), with each event's own id and time, so generation does not slow the preload.
    """
    import msgspec

    rng = random.Random(seed)
    platforms, provinces, sections = list(PLATFORMS), list(PROVINCE_CODES), list(SECTIONS)
    pool = []
    for _ in range(min(n, 50_000)):
        province = rng.choice(provinces)
        pool.append(
            Click(
                id="x",
                ts=start_ms,
                platform=rng.choice(platforms),
                province=province,
                country="SG" if province == "abroad" else None,
                user=f"u{rng.randrange(2_000_000)}",
                session=f"s{rng.randrange(500_000)}",
                resource=f"r{rng.randrange(28_052)}",
                section=rng.choice(sections),
                action=rng.choice(ACTIONS),
            )
        )
    replace = msgspec.structs.replace
    size = len(pool)
    for i in range(n):
        yield replace(pool[i % size], id=f"e{seed}-{i}", ts=start_ms + i * span_ms // n)


def messages(n: int, per_message: int, seed: int) -> Iterator[tuple[bytes, bytes]]:
    """(key, value): client batches of `per_message` events keyed by session, or single events."""
    chunk: list[Click | Session] = []
    for c in clicks(n, seed):
        chunk.append(c)
        if len(chunk) == per_message:
            yield chunk[0].session.encode(), encode(chunk if per_message > 1 else chunk[0])
            chunk = []
    if chunk:
        yield chunk[0].session.encode(), encode(chunk)


def make_producer(bootstrap: str):
    from kafka import KafkaProducer

    return KafkaProducer(
        bootstrap_servers=bootstrap.split(","),
        acks="all",
        linger_ms=20,
        batch_size=1024 * 1024,
        max_request_size=4 * 1024 * 1024,
    )


def preload(bootstrap: str, topic: str, n: int, per_message: int, seed: int) -> tuple[int, float]:
    """Send n events; returns (messages, seconds). All acked before returning."""
    prod = make_producer(bootstrap)
    t0 = time.perf_counter()
    count = 0
    for key, value in messages(n, per_message, seed):
        prod.send(topic, key=key, value=value)
        count += 1
    prod.flush(600)
    prod.close()
    return count, time.perf_counter() - t0


def warm_up(bootstrap: str, topic: str, per_message: int) -> int:
    """One message per partition, so every consumer can be seen to be assigned and running.

    Its events lie in the minute an hour before the measured stream (T0_MS): the watermark they set
    must not be ahead of the stream, or every measured event would be late (counted, not folded)."""
    prod = make_producer(bootstrap)
    evs: list[Click | Session] = list(
        clicks(per_message * PARTITIONS, seed=999, start_ms=T0_MS - 3600_000, span_ms=60_000)
    )
    for p in range(PARTITIONS):
        chunk = evs[p * per_message : (p + 1) * per_message]
        prod.send(topic, value=encode(chunk if per_message > 1 else chunk[0]), partition=p).get(60)
    prod.close()
    return per_message * PARTITIONS


def end_offsets(bootstrap: str, topic: str) -> dict[int, int]:
    from kafka import KafkaConsumer, TopicPartition

    c = KafkaConsumer(bootstrap_servers=bootstrap.split(","), group_id=None, enable_auto_commit=False)
    try:
        return {
            tp.partition: o for tp, o in c.end_offsets([TopicPartition(topic, p) for p in range(PARTITIONS)]).items()
        }
    finally:
        c.close(autocommit=False)


def committed_offsets(bootstrap: str, group: str, topic: str) -> dict[int, int]:
    from kafka import KafkaAdminClient

    admin = KafkaAdminClient(bootstrap_servers=bootstrap.split(","))
    try:
        got = admin.list_consumer_group_offsets(group)
        return {tp.partition: m.offset for tp, m in got.items() if tp.topic == topic}
    finally:
        admin.close()


class RatesWatch:
    """Follows a rates topic: per source partition the last covered offset, events, CreateTime."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        from kafka import KafkaConsumer, TopicPartition

        self.consumer = KafkaConsumer(
            bootstrap_servers=bootstrap.split(","),
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            fetch_max_bytes=64 * 1024 * 1024,
            receive_message_max_bytes=65 * 1024 * 1024,
            max_partition_fetch_bytes=16 * 1024 * 1024,
        )
        self.tps = [TopicPartition(topic, p) for p in range(PARTITIONS)]
        self.consumer.assign(self.tps)
        self.consumer.seek_to_beginning(*self.tps)
        self.last: dict[int, int] = {}
        self.events = 0
        self.batches = 0
        self.last_ts_ms = 0
        self.first_ts_ms = 0

    def poll(self, timeout_ms: int = 200) -> None:
        for _tp, recs in self.consumer.poll(timeout_ms=timeout_ms, max_records=100_000).items():
            for r in recs:
                b = decode_head(r.value)
                self.last[b.src_partition] = b.last_offset
                self.events += b.events
                self.batches += 1
                self.last_ts_ms = max(self.last_ts_ms, r.timestamp)
                self.first_ts_ms = self.first_ts_ms or r.timestamp

    def covers(self, ends: dict[int, int]) -> bool:
        return all(self.last.get(p, -1) >= end - 1 for p, end in ends.items() if end > 0)

    def close(self) -> None:
        self.consumer.close(autocommit=False)


def wait(cond, timeout: float, what: str, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = cond()
        if got:
            return got
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")


class Child:
    def __init__(self, name: str, cmd: list[str], env: dict[str, str], log_path: Path) -> None:
        self.name = name
        # Faust writes a `<app id>-data` directory into its working directory: keep it in tmp.
        root = str(Path(__file__).resolve().parents[1])
        env = {**env, "PYTHONPATH": os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))}
        with open(log_path, "ab") as out:
            self.proc = subprocess.Popen(cmd, cwd=log_path.parent, env=env, stdout=out, stderr=subprocess.STDOUT)
        self.log_path = log_path

    def check(self) -> None:
        if self.proc.poll() is not None:
            raise RuntimeError(
                f"{self.name} exited with {self.proc.returncode}; log {self.log_path}:\n"
                + self.log_path.read_text(errors="replace")[-3000:]
            )

    def cpu(self) -> dict[str, float]:
        """CPU seconds (user + system) per thread of the child, keyed by thread id."""
        import psutil

        return {str(th.id): th.user_time + th.system_time for th in psutil.Process(self.proc.pid).threads()}

    def freeze(self) -> None:
        self.proc.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        self.proc.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(30)


def start_worker(settings: Settings, tmp: Path, name: str, profile: Path | None = None) -> Child:
    """`edu-worker` as a child; with `profile`, under stream_throughput's wall-clock stack sampler."""
    args = ["--loglevel", "error"]  # Faust refuses "warning" as a log level
    if profile is not None:
        cmd = [sys.executable, "-m", "bench.stream_throughput", "--sampler-child", str(profile), *args]
    else:
        cmd = [sys.executable, "-m", "streams.cli", *args]
    return Child(name, cmd, settings_env(settings), tmp / f"{name}.log")
