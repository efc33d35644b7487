"""Many pre-encoded records into kafka-python's record accumulator at once: the sender's fast path.

Why: `KafkaProducer.send()` costs ~25 us of Python per message, ~4x generating and encoding the
event. Here one partition's records are appended under one lock acquisition straight into the
producer's `ProducerBatch`es, one callback per batch; the I/O thread then drains, compresses,
sequences, sends and retries as usual, so ordering, idempotence and compression hold as with `send()`.

Delivery failures stay counted: a batch that fails (error response, expiry, abort at close) hands
each of its records' payloads to `on_failed`, exactly as a failed record future would.

This reaches into kafka-python's accumulator (`_accumulator`, `_tp_lock`, `_batches`,
`_incomplete`); it is written against 2.3.x and refuses to start on another major.minor version
rather than misbehave (`supported()`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import kafka
from kafka import KafkaProducer
from kafka.errors import KafkaError, MessageSizeTooLargeError
from kafka.producer.producer_batch import ProducerBatch
from kafka.record.memory_records import MemoryRecordsBuilder
from kafka.structs import TopicPartition

SUPPORTED = ("2.3.",)  # kafka-python versions whose accumulator internals this was checked against
_NO_HEADERS: list[tuple[str, bytes]] = []
_ATTR = "_edu_payloads"  # per batch: the payloads of the records appended here, in order

Record = tuple[bytes | None, bytes, Any]  # key, value, payload handed back if delivery fails


def supported(version: str = kafka.__version__) -> bool:
    return version.startswith(SUPPORTED)


class BulkAppender:
    """Appends records to a producer's accumulator in bulk, one failure callback per batch."""

    def __init__(self, producer: KafkaProducer, on_failed: Callable[[Exception, Any], None]) -> None:
        if not supported():
            raise RuntimeError(
                f"kafka-python {kafka.__version__}: the bulk send path is checked against "
                f"{', '.join(v + 'x' for v in SUPPORTED)} only; use KafkaSender(bulk=False)"
            )
        self.producer = producer
        self.on_failed = on_failed
        self._acc = producer._accumulator
        cfg = self._acc.config
        self._batch_args = (cfg["message_version"], cfg["compression_attrs"], cfg["batch_size"])
        self._max_value = producer.config["max_request_size"] - 256  # below it, no size check needed
        self._known: set[TopicPartition] = set()

    def append(self, tp: TopicPartition, records: Sequence[Record]) -> None:
        """Hand `records` (in order) to the producer for partition `tp`; returns once they are in
        its batches. Raises like `send()` for a closed producer or a record over max_request_size."""
        if not records:
            return
        producer, acc = self.producer, self._acc
        assert not producer._closed, "KafkaProducer already closed!"
        if tp not in self._known:
            self._learn(tp)
        for key, value, _ in records:
            if len(value) > self._max_value:
                producer._ensure_valid_record_size(producer._estimate_size_in_bytes(key, value, _NO_HEADERS))
        now = time.time()
        ts = int(now * 1000)
        wake = False
        acc._appends_in_progress.increment()  # so abort_incomplete_batches() waits for us
        try:
            with acc._tp_lock(tp):
                assert not acc._closed, "RecordAccumulator is closed"
                dq = acc._batches[tp]
                batch = dq[-1] if dq else None
                payloads = self._payloads(batch) if batch is not None else None
                for key, value, payload in records:
                    if batch is None or batch.records.append(ts, key, value, _NO_HEADERS) is None:
                        batch = ProducerBatch(tp, MemoryRecordsBuilder(*self._batch_args), now=now)
                        if batch.records.append(ts, key, value, _NO_HEADERS) is None:  # pragma: no cover
                            raise MessageSizeTooLargeError(f"record of {len(value)} bytes does not fit a new batch")
                        dq.append(batch)
                        acc._incomplete.add(batch)
                        payloads = self._payloads(batch)
                        wake = True
                    payloads.append(payload)  # type: ignore[union-attr]
                batch.last_append = now  # type: ignore[union-attr]
                wake = wake or len(dq) > 1 or batch.records.is_full()  # type: ignore[union-attr]
        finally:
            acc._appends_in_progress.decrement()
        if wake:
            producer._sender.wakeup()

    def _learn(self, tp: TopicPartition) -> None:
        """What `send()` does for every record, once per partition: the producer fetches metadata
        only for topics it was asked about (without it the batches would wait for a leader forever),
        and an unknown partition fails here, loudly."""
        partitions = self.producer._wait_on_metadata(tp.topic, self.producer.config["max_block_ms"])
        if tp.partition not in partitions:
            raise ValueError(f"{tp.topic} has no partition {tp.partition} (partitions: {sorted(partitions)})")
        self._known.add(tp)

    def _payloads(self, batch: ProducerBatch) -> list[Any]:
        """The batch's payload list, attaching the one completion callback the first time."""
        payloads = getattr(batch, _ATTR, None)
        if payloads is None:
            payloads = []
            setattr(batch, _ATTR, payloads)
            first_index = batch.record_count  # records appended by plain send() come first
            batch.produce_future.add_callback(self._done, batch, first_index)
            batch.produce_future.add_errback(self._failed_all, batch, first_index)
        return payloads

    def _done(
        self, batch: ProducerBatch, first_index: int, result: tuple[int, int, Callable[[int], Exception] | None]
    ) -> None:
        """The batch completed: on the producer's I/O thread. A failure comes as a function from a
        record's index in the batch to its exception."""
        exceptions = result[2]
        if exceptions is None:
            return
        for i, payload in enumerate(getattr(batch, _ATTR)):
            self.on_failed(exceptions(first_index + i), payload)

    def _failed_all(self, batch: ProducerBatch, first_index: int, exc: Exception) -> None:
        for payload in getattr(batch, _ATTR):
            self.on_failed(exc if isinstance(exc, Exception) else KafkaError(str(exc)), payload)
