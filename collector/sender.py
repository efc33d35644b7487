"""The journal's sender: records go to Kafka in journal order, exactly once, on its own thread.

Each message carries a header `edu-collector: <instance>:<seq>`. The checkpoint (written every
0.1 s) holds the longest prefix of the journal known to be in Kafka and, per partition, the offset of
the last of those records. After a crash, or any failed send, the sender reads each partition after
that offset, finds the highest sequence of its own already there, and re-sends only what is not: the
records that were in flight when the collector died are neither lost nor doubled. While Kafka is
down the journal keeps growing (the spool); the HTTP side answers 503 when it is full.
"""

from __future__ import annotations

import collections
import json
import logging
import os
import threading
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from collector.journal import Journal, JournalTail, Record
from contracts.settings import Settings

log = logging.getLogger(__name__)
HEADER = "edu-collector"
MERGE_RECORDS = 64  # journal records merged into one Kafka message at most
MERGE_BYTES = 150_000  # and bytes: under the worker's 256 KiB message limit, < 1,000 events of >= 150 B


@dataclass
class Checkpoint:
    instance: str
    seq: int = 0  # every record <= seq is in Kafka
    segment: int = 1
    offset: int = 0  # position after record `seq` in `segment`
    offsets: dict[str, int] = field(default_factory=dict)  # "topic:partition" -> offset of our last record <= seq
    clean: bool = False  # written at a clean stop: nothing after `seq` was sent

    @classmethod
    def load(cls, path: Path) -> Checkpoint | None:
        try:
            return cls(**json.loads(path.read_text()))
        except FileNotFoundError:
            return None

    def save(self, path: Path) -> None:
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.__dict__))
        os.replace(tmp, path)


def start_checkpoint(journal: Journal, path: Path) -> Checkpoint:
    """The checkpoint at `path`, or a new one at the journal's end (nothing of it sent yet)."""
    ck = Checkpoint.load(path)
    if ck is None:
        ck = Checkpoint(
            instance=os.urandom(6).hex(), seq=journal.next_seq - 1, segment=journal.segment, offset=journal.size
        )
        ck.save(path)
    return ck


class Sender(threading.Thread):
    """Sends the journal to Kafka; `producer_factory()` makes a connected KafkaProducer."""

    def __init__(
        self,
        journal: Journal | JournalTail,
        topics: list[str],
        producer_factory: Any,
        consumer_factory: Any,
        checkpoint_path: Path,
    ) -> None:
        super().__init__(name="collector-sender", daemon=True)
        self.journal, self.topics = journal, topics
        self.producer_factory, self.consumer_factory = producer_factory, consumer_factory
        self.ckpt_path = checkpoint_path
        ck = Checkpoint.load(checkpoint_path)
        if ck is None:
            raise FileNotFoundError(f"{checkpoint_path}: no checkpoint (start_checkpoint() makes the first)")
        self.ckpt = ck
        self.stopping = threading.Event()
        self.connected = False
        self.last_error = ""
        self.sent_acked = 0  # acknowledged by Kafka, checkpointed

    @property
    def position(self) -> tuple[int, int, int]:
        """(seq, segment, offset) of the checkpoint: every record up to there is in Kafka."""
        ck = self.ckpt
        return ck.seq, ck.segment, ck.offset

    # ---------------------------------------------------------------------------------- loop
    def run(self) -> None:
        backoff = 0.2
        while not self.stopping.is_set():
            producer = None
            try:
                producer = self.producer_factory()
                self.connected = True
                self._session(producer)
                backoff = 0.2
            except Exception as err:
                self.last_error = f"{type(err).__name__}: {err}"[:300]
                log.warning("sender: %s; retrying in %.1fs", self.last_error, backoff)
            finally:
                self.connected = False
                if producer is not None:
                    try:
                        producer.close(timeout=5)
                    except Exception as err:
                        log.debug("closing the producer: %s", err)
            self.stopping.wait(backoff)
            backoff = min(backoff * 2, 5.0)

    def stop(self, timeout: float = 30.0) -> None:
        self.stopping.set()
        self.journal.wake()
        self.join(timeout)

    # ------------------------------------------------------------------------------- session
    def _session(self, producer: Any) -> None:
        ck = self.ckpt
        parts = {t: len(producer.partitions_for(t) or [0]) for t in self.topics}
        tps = [(t, p) for t in self.topics for p in range(parts[t])]
        missing = [tp for tp in tps if f"{tp[0]}:{tp[1]}" not in ck.offsets]
        if missing:  # before the first send to a partition, remember where our records start there
            for (t, p), end in self._end_offsets(missing).items():
                ck.offsets[f"{t}:{p}"] = end - 1
            ck.clean = False
            ck.save(self.ckpt_path)
        done = {} if ck.clean else self._already_in_kafka(ck, tps)
        ck.clean = False
        ck.save(self.ckpt_path)
        acks: collections.deque[tuple[int, int]] = collections.deque()  # (seq, offset) from the I/O thread
        failed: list[BaseException] = []
        # seq -> [segment, end, key "t:p", offset or None]
        inflight: collections.OrderedDict[int, list[Any]] = collections.OrderedDict()
        last_save = time.monotonic()

        def bad(exc: BaseException) -> None:
            failed.append(exc)

        # Records bound for one partition are merged into one message (up to MERGE_RECORDS or
        # MERGE_BYTES, or until the reader pauses): one producer call per message, not per
        # request. The header names the merged message's last sequence; since a partition gets its
        # records in journal order, "highest sequence found" still tells exactly what is there.
        held: dict[tuple[str, int], list[Record]] = {}
        held_bytes: dict[tuple[str, int], int] = {}
        last_flush = time.monotonic()

        def ok_many(seqs: list[int], meta: Any) -> None:  # kafka-python passes the callback's args first
            acks.extend((seq, meta.offset) for seq in seqs)

        def send_held(tp: tuple[str, int]) -> None:
            recs = held.pop(tp)
            held_bytes.pop(tp)
            if len(recs) == 1:
                value = recs[0].value
            else:
                value = b"[" + b",".join(r.value[1:-1] if r.value[:1] == b"[" else r.value for r in recs) + b"]"
            seqs = [r.seq for r in recs]
            fut = producer.send(
                tp[0],
                value=value,
                key=recs[0].key or None,
                partition=tp[1],
                headers=[(HEADER, f"{ck.instance}:{seqs[-1]}".encode())],
            )
            fut.add_callback(ok_many, seqs)
            fut.add_errback(bad)

        def flush_held() -> None:
            for tp in list(held):
                send_held(tp)

        reader = self.journal.read(ck.segment, ck.offset, self.stopping)
        for rec in reader:
            if rec is None or rec.seq <= ck.seq:
                flush_held()
                last_flush = time.monotonic()
                if failed:
                    raise RuntimeError(f"send failed: {failed[0]!r}")
                self._advance(acks, inflight)
                last_save = time.monotonic()
                continue
            topic = self.topics[rec.topic]
            part = zlib.crc32(rec.key) % parts[topic] if rec.key else 0
            tpk = f"{topic}:{part}"
            if rec.seq <= done.get(tpk, -1):
                inflight[rec.seq] = [rec.segment, rec.end, tpk, -1]  # already there: acked as found
                acks.append((rec.seq, -1))
            else:
                inflight[rec.seq] = [rec.segment, rec.end, tpk, None]
                tp = (topic, part)
                held.setdefault(tp, []).append(rec)
                held_bytes[tp] = held_bytes.get(tp, 0) + len(rec.value)
                if len(held[tp]) >= MERGE_RECORDS or held_bytes[tp] >= MERGE_BYTES:
                    send_held(tp)
            if failed:
                raise RuntimeError(f"send failed: {failed[0]!r}")
            now = time.monotonic()
            if now - last_flush >= 0.005:
                flush_held()
                last_flush = now
            if now - last_save >= 0.1:
                self._advance(acks, inflight)
                last_save = now
        flush_held()
        # Stopping: let what is in flight land, then a clean checkpoint.
        producer.flush(timeout=30)
        if failed:
            raise RuntimeError(f"send failed: {failed[0]!r}")
        self._advance(acks, inflight)
        if not inflight:
            self.ckpt.clean = True
            self.ckpt.save(self.ckpt_path)

    def _advance(
        self, acks: collections.deque[tuple[int, int]], inflight: collections.OrderedDict[int, list[Any]]
    ) -> None:
        while acks:
            seq, offset = acks.popleft()
            entry = inflight.get(seq)
            if entry is not None:
                entry[3] = offset
        ck, n, moved = self.ckpt, 0, False
        while inflight:
            seq, entry = next(iter(inflight.items()))
            if entry[3] is None:
                break
            inflight.popitem(last=False)
            ck.seq, ck.segment, ck.offset = seq, entry[0], entry[1]
            if entry[3] >= 0:
                ck.offsets[entry[2]] = entry[3]
            n += 1
            moved = True
        if moved:
            ck.save(self.ckpt_path)
            self.journal.drop_before(ck.segment)
            self.sent_acked += n

    # ----------------------------------------------------------------------------- recovery
    def _end_offsets(self, tps: list[tuple[str, int]]) -> dict[tuple[str, int], int]:
        from kafka.structs import TopicPartition

        consumer = self.consumer_factory()
        try:
            ends = consumer.end_offsets([TopicPartition(t, p) for t, p in tps])
            return {(tp.topic, tp.partition): off for tp, off in ends.items()}
        finally:
            consumer.close()

    def _already_in_kafka(self, ck: Checkpoint, tps: list[tuple[str, int]]) -> dict[str, int]:
        """Per partition, the highest of our sequences found after the checkpoint's offset."""
        from kafka.structs import TopicPartition

        found: dict[str, int] = {}
        consumer = self.consumer_factory()
        try:
            want = [TopicPartition(t, p) for t, p in tps]
            ends = consumer.end_offsets(want)
            todo = {tp: ends[tp] for tp in want if ends[tp] > ck.offsets.get(f"{tp.topic}:{tp.partition}", -1) + 1}
            if not todo:
                return found
            consumer.assign(list(todo))
            for tp in todo:
                consumer.seek(tp, ck.offsets.get(f"{tp.topic}:{tp.partition}", -1) + 1)
            prefix = f"{ck.instance}:".encode()
            deadline = time.monotonic() + 300
            while todo and time.monotonic() < deadline:
                for tp, records in consumer.poll(timeout_ms=500, max_records=5000).items():
                    for r in records:
                        for k, v in r.headers or ():
                            if k == HEADER and v.startswith(prefix):
                                key = f"{tp.topic}:{tp.partition}"
                                found[key] = max(found.get(key, -1), int(v[len(prefix) :]))
                for tp in list(todo):
                    if consumer.position(tp) >= todo[tp]:
                        del todo[tp]
            if todo:
                raise RuntimeError(f"recovery scan did not reach the end of {sorted(map(str, todo))}")
            return found
        finally:
            consumer.close()


def producer_factory(settings: Settings) -> Any:
    def make() -> Any:
        from kafka import KafkaProducer

        from contracts.topics import bootstrap_timeout, default_compression

        config = bootstrap_timeout(
            KafkaProducer,
            {
                "bootstrap_servers": settings.kafka_bootstrap.split(","),
                "acks": "all",
                "enable_idempotence": True,
                "linger_ms": 5,
                "batch_size": 256 * 1024,
                "compression_type": default_compression(),
                "max_block_ms": 10_000,
                "request_timeout_ms": 15_000,
                "retries": 2_147_483_647,
                "bootstrap_timeout_ms": 5_000,
                "client_id": "edu-collector",
            },
        )
        return KafkaProducer(**config)

    return make


def consumer_factory(settings: Settings) -> Any:
    def make() -> Any:
        from kafka import KafkaConsumer

        return KafkaConsumer(
            bootstrap_servers=settings.kafka_bootstrap.split(","),
            group_id=None,
            enable_auto_commit=False,
            client_id="edu-collector-recovery",
            request_timeout_ms=15_000,
            consumer_timeout_ms=1000,
        )

    return make


def read_checkpoint(path: Path) -> Checkpoint | None:
    return Checkpoint.load(path)


__all__ = [
    "Checkpoint",
    "Record",
    "Sender",
    "consumer_factory",
    "producer_factory",
    "read_checkpoint",
    "start_checkpoint",
]
