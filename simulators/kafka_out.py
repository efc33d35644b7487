"""Sending to Kafka with kafka-python: batching, compression, and delivery errors that are counted.

Why a wrapper: the producer's `send` is asynchronous, so a refused record only shows up later in a
future. Every send gets an errback that counts the failure (and hands the caller's payload back via
`on_error`, so ground truth can subtract it); nothing is dropped silently. Start-up fails at once,
with the address, when no broker answers, instead of blocking in the first send.

Keyed sends with a known partition take the bulk path by default (simulators/kafka_bulk.py): they
are held in a list per partition and handed to the producer a few hundred at a time, which costs a
fraction of `KafkaProducer.send()` per message. A held message is handed over when `hand_over()`
is called (the send loop does before it sleeps), when `hand_over_every` are held, and by `flush()`
and `close()`: callers that pause between sends must call `hand_over()` or the messages wait.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kafka import KafkaAdminClient, KafkaProducer
from kafka.admin import NewTopic
from kafka.errors import KafkaError, KafkaTimeoutError, TopicAlreadyExistsError
from kafka.structs import TopicPartition

from contracts.settings import Settings
from contracts.topics import available_codecs, default_compression
from contracts.topics import bootstrap_timeout as _bootstrap_timeout
from simulators.kafka_bulk import BulkAppender, Record
from simulators.kafka_bulk import supported as bulk_supported

_UNREACHABLE = (KafkaTimeoutError, getattr(__import__("kafka.errors").errors, "NoBrokersAvailable", KafkaTimeoutError))


class KafkaUnavailable(RuntimeError):
    """No broker answered at the configured bootstrap address."""


def crc_backend() -> str:
    """'c' when kafka-python checksums record batches with the `crc32c` package, else 'python'.

    The pure-Python CRC-32C runs at about 7 MB/s: without the package it is a fifth or more of a
    fast sender's CPU (bench/simulators_bench.py measures both)."""
    from kafka.record import util

    return "python" if util._crc32c is util.crc32c_py else "c"


@dataclass
class SenderStats:
    messages: int = 0
    bytes: int = 0
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "messages": self.messages,
            "bytes": self.bytes,
            "errors": self.errors,
            "error_samples": list(self.error_samples),
        }


class KafkaSender:
    """A KafkaProducer tuned for throughput, with counted delivery errors.

    `bulk` (default: on where kafka_bulk supports the installed kafka-python) selects the bulk
    path for sends with a partition; `hand_over_every` bounds how many messages it holds.
    """

    DEFAULTS: dict[str, Any] = {
        "linger_ms": 20,
        "batch_size": 256 * 1024,
        "acks": "all",
        # A send retried across a broker restart must not write an event twice: the ground truth
        # a load test compares the store against counts each event once.
        "enable_idempotence": True,
        "max_block_ms": 30_000,
        "request_timeout_ms": 30_000,
        "bootstrap_timeout_ms": 10_000,
    }

    def __init__(
        self, settings: Settings, *, bulk: bool | None = None, hand_over_every: int = 500, **producer_overrides: Any
    ) -> None:
        self.bootstrap = settings.kafka_bootstrap
        config = _bootstrap_timeout(
            KafkaProducer, {**self.DEFAULTS, "compression_type": default_compression(), **producer_overrides}
        )
        codec = config.get("compression_type")
        if codec and codec not in available_codecs():
            raise ValueError(f"compression {codec!r} unavailable here; usable: {available_codecs() or 'none'}")
        try:
            self._producer = KafkaProducer(bootstrap_servers=self.bootstrap.split(","), **config)
        except _UNREACHABLE as err:
            raise KafkaUnavailable(
                f"no Kafka broker answers at {self.bootstrap} (EDU_KAFKA_BOOTSTRAP; {err}); start one with "
                "`python -m ops.kafka_local start` or point EDU_KAFKA_BOOTSTRAP at a running cluster"
            ) from None
        self.config = config
        self.stats = SenderStats()
        self._lock = threading.Lock()  # errbacks run on the producer's I/O thread
        use_bulk = bulk_supported() if bulk is None else bulk
        self._bulk = BulkAppender(self._producer, self._failed) if use_bulk else None
        self.hand_over_every = hand_over_every
        self._held: dict[tuple[str, int], list[Record]] = {}
        self._held_n = 0
        self._tps: dict[tuple[str, int], TopicPartition] = {}

    def send(
        self,
        topic: str,
        value: bytes,
        key: bytes | None = None,
        *,
        on_error: Callable[[Exception], None] | None = None,
        partition: int | None = None,
    ) -> None:
        """Hand one message to the producer; a later delivery failure is counted, never lost."""
        self.stats.messages += 1
        self.stats.bytes += len(value)
        if self._bulk is not None and partition is not None:
            held = self._held.get((topic, partition))
            if held is None:
                held = self._held[(topic, partition)] = []
            held.append((key, value, on_error))
            self._held_n += 1
            if self._held_n >= self.hand_over_every:
                self.hand_over()
            return
        future = self._producer.send(topic, value=value, key=key, partition=partition)
        future.add_errback(self._failed, on_error)

    def hand_over(self) -> None:
        """Give the held messages (bulk path) to the producer, in order per partition."""
        if not self._held_n:
            return
        held, self._held, self._held_n = self._held, {}, 0
        items = list(held.items())
        for i, ((topic, partition), records) in enumerate(items):
            tp = self._tps.get((topic, partition))
            if tp is None:
                tp = self._tps[(topic, partition)] = TopicPartition(topic, partition)
            try:
                self._bulk.append(tp, records)  # type: ignore[union-attr]
            except Exception as exc:  # refused before any record went in: count what is lost, then fail
                for _, rest in items[i:]:
                    for _, _, on_error in rest:
                        self._failed(exc, on_error)
                raise

    def _failed(self, exc: Exception, on_error: Callable[[Exception], None] | None = None) -> None:
        with self._lock:
            self.stats.errors += 1
            if len(self.stats.error_samples) < 5:
                self.stats.error_samples.append(f"{type(exc).__name__}: {exc}")
        if on_error is not None:
            on_error(exc)

    def partitions(self, topic: str) -> int:
        """Number of partitions of a topic (from metadata; waits for it)."""
        parts = self._producer.partitions_for(topic)
        return len(parts) if parts else 1

    def flush(self, timeout: float | None = None) -> None:
        """Block until every message sent so far is acknowledged or has failed."""
        self.hand_over()
        self._producer.flush(timeout=timeout)

    def close(self, timeout: float | None = 30.0) -> None:
        try:
            self.hand_over()
        finally:
            self._producer.close(timeout=timeout)

    def __enter__(self) -> KafkaSender:
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self.flush(timeout=60)
        finally:
            self.close()


def ensure_topics(settings: Settings, topics: list[str] | None = None) -> list[str]:
    """Create the input topics with `topic_partitions` partitions if missing; returns those created."""
    topics = topics or [settings.topic_clicks, settings.topic_sessions]
    try:
        admin = KafkaAdminClient(
            **_bootstrap_timeout(
                KafkaAdminClient,
                {
                    "bootstrap_servers": settings.kafka_bootstrap.split(","),
                    "request_timeout_ms": 15_000,
                    "bootstrap_timeout_ms": 10_000,
                },
            )
        )
    except _UNREACHABLE:
        raise KafkaUnavailable(f"no Kafka broker answers at {settings.kafka_bootstrap}") from None
    created = []
    try:
        existing = set(admin.list_topics())
        new = [NewTopic(t, settings.topic_partitions, settings.topic_replication) for t in topics if t not in existing]
        if new:
            try:
                admin.create_topics(new)
                created = [t.name for t in new]
            except TopicAlreadyExistsError:
                pass
            except KafkaError as err:
                if "TopicAlreadyExists" not in repr(err):
                    raise
    finally:
        admin.close()
    return created
