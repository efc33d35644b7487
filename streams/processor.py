"""Turn runs of source messages into rate batches and dead letters, exactly once.

Exactly once without Kafka transactions: the rates topic is co-partitioned with the source, and
its last message per partition records the last source offset whose output was sent
(`RateBatch.last_offset`) and the watermark then. When a partition is (re)assigned, the processor
reads that checkpoint and skips re-read messages at or below it, so a worker killed after sending
but before committing its consumer offset re-reads them without sending them twice.
Kafka I/O is injected (`send`, `load_checkpoint`), so unit tests drive this with plain functions.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from contracts.deadletter import encode_record, make_record
from contracts.events import split_array
from contracts.rates import RateBatch, encode_batch
from contracts.settings import Settings
from streams.aggregate import Aggregated, DeadLetter, Limits, Message, aggregate_safely
from streams.metrics import WorkerMetrics

log = logging.getLogger(__name__)

# send(topic, partition or None, value) -> awaitable that resolves once the broker has the record
Send = Callable[[str, int | None, bytes], Awaitable[Awaitable[object]]]
# load_checkpoint(source partition) -> the last RateBatch on rates partition p, or None
LoadCheckpoint = Callable[[int], Awaitable[RateBatch | None]]

# A rate batch stays under Kafka's default message.max.bytes (1 MB) and the producer's request size.
MAX_RATES_BYTES = 900_000
# Runs are cut up front into pieces expected to fill this share of a batch, from the bytes per
# source message of the last batch: cutting after aggregating (halving a run whose batch came out
# too big) folded a backlog's events ~3.7 times each.
FILL = 0.6


@dataclass
class PartitionState:
    last_offset: int  # last source offset whose output was sent; -1 before any
    watermark_ms: int


class Processor:
    def __init__(
        self,
        settings: Settings,
        send: Send,
        load_checkpoint: LoadCheckpoint,
        metrics: WorkerMetrics,
        clock: Callable[[], float] = time.time,
        *,
        source_topic: str | None = None,
        rates_topic: str | None = None,
    ) -> None:
        self.topic = source_topic or settings.topic_clicks
        self.rates_topic = rates_topic or settings.topic_rates
        self.dead_topic = settings.topic_deadletter
        self.limits = Limits.from_settings(settings)
        self._send = send
        self._load = load_checkpoint
        self._metrics = metrics
        self._clock = clock
        self.partitions: dict[int, PartitionState] = {}
        self._bytes_per_message = 0.0  # output bytes per source message in the last batch sent

    def forget(self, partitions: Sequence[int]) -> None:
        """Partitions revoked: their checkpoint must be re-read if they come back."""
        for p in partitions:
            self.partitions.pop(p, None)

    async def _state(self, partition: int) -> PartitionState:
        state = self.partitions.get(partition)
        if state is None:
            last = await self._load(partition)
            if last is not None and last.src_topic != self.topic:
                raise RuntimeError(
                    f"checkpoint on {self.rates_topic}[{partition}] is for {last.src_topic!r}, "
                    f"not {self.topic!r}: two source topics share one rates topic"
                )
            state = PartitionState(last.last_offset, last.watermark_ms) if last else PartitionState(-1, 0)
            self.partitions[partition] = state
        return state

    async def handle(self, partition: int, messages: Sequence[Message]) -> RateBatch | None:
        """Process one partition's run of (offset, value[, broker timestamp ms]), in offset order;
        return what was sent."""
        m = self._metrics
        m.messages.labels(self.topic).inc(len(messages))
        state = await self._state(partition)
        fresh = [msg for msg in messages if msg[0] > state.last_offset]
        if len(fresh) < len(messages):
            m.skipped.labels(self.topic).inc(len(messages) - len(fresh))
        if not fresh:
            return None
        size = len(fresh)
        if self._bytes_per_message:
            size = max(1, int(MAX_RATES_BYTES * FILL / self._bytes_per_message))
        now = self._clock()
        # One batch in flight per partition: piece i+1 is folded while piece i travels to the
        # broker, and is sent only once piece i is acknowledged, so the checkpoint (the last batch
        # in the rates partition) never runs ahead of a batch that could still fail.
        inflight: _InFlight | None = None
        sent = None
        watermark = state.watermark_ms
        for i in range(0, len(fresh), size):
            started = time.perf_counter()
            for agg, value, letters, n_messages in self._fold(partition, fresh[i : i + size], watermark, now):
                watermark = agg.batch.watermark_ms
                b = agg.batch
                aside = sum(1 for o in agg.set_aside if b.first_offset <= o <= b.last_offset)
                if aside:
                    self._metrics.set_aside.labels(self.topic).inc(aside)
                if inflight is not None:
                    sent = await self._settle(state, inflight, now)
                await self._dead_letters(partition, agg.dead, letters)
                inflight = _InFlight(
                    agg.batch, await self._send(self.rates_topic, partition, value), n_messages, started
                )
                await asyncio.sleep(0)  # let the producer's sender take it to the broker meanwhile
        if inflight is not None:
            sent = await self._settle(state, inflight, now)
        return sent

    def _fold(
        self,
        partition: int,
        run: Sequence[Message],
        watermark_ms: int,
        now: float,
        set_aside: dict[int, str] | None = None,
    ) -> list[tuple[Aggregated, bytes, list[bytes], int]]:
        """Aggregate and encode one run (its batch and its dead letters); a run whose batch would
        exceed one Kafka message is split in halves (each folded on the watermark the first half
        reached), so no batch is ever refused.

        The safety net: a message that raises while folded is set aside by `aggregate_safely`; if
        encoding fails, the run is halved until the one message behind it is found and set aside.
        """
        aside = set_aside or {}
        try:
            agg = aggregate_safely(self.topic, partition, list(run), watermark_ms, int(now * 1000), self.limits, aside)
            value = encode_batch(agg.batch)
            letters = [self._letter(partition, d, now) for d in agg.dead]
        except Exception as err:
            if len(run) > 1:
                half = len(run) // 2
                first = self._fold(partition, run[:half], watermark_ms, now, aside)
                return first + self._fold(partition, run[half:], first[-1][0].batch.watermark_ms, now, aside)
            offset = run[0][0]
            if offset in aside:
                raise
            log.error(
                "%s[%d] offset %d set aside as a dead letter (internal): %s",
                self.topic,
                partition,
                offset,
                err,
                exc_info=err,
            )
            return self._fold(
                partition, run, watermark_ms, now, {**aside, offset: f"{type(err).__name__}: {err}"[:200]}
            )
        self._bytes_per_message = len(value) / len(run)
        if len(value) > MAX_RATES_BYTES and len(run) > 1:
            half = len(run) // 2
            first = self._fold(partition, run[:half], watermark_ms, now, aside)
            return first + self._fold(partition, run[half:], first[-1][0].batch.watermark_ms, now, aside)
        return [(agg, value, letters, len(run))]

    def _letter(self, partition: int, d: DeadLetter, now: float) -> bytes:
        spans = None
        if len(d.refusals) < d.events and d.payload is not None:
            spans = split_array(d.payload)
        rec = make_record(
            topic=self.topic,
            partition=partition,
            offset=d.offset,
            payload=d.payload,
            refusals=d.refusals,
            events=d.events,
            seen_at_ms=int(now * 1000),
            spans=spans,
        )
        return encode_record(rec)

    async def _dead_letters(self, partition: int, dead: Sequence[DeadLetter], letters: Sequence[bytes]) -> None:
        """Send a piece's dead letters (one per refused message) and wait until they are durable,
        before its checkpoint moves."""
        pending = []
        for d, letter in zip(dead, letters, strict=True):
            pending.append(await self._send(self.dead_topic, partition, letter))
            for r in d.refusals:
                self._metrics.deadletter.labels(r.reason).inc()
        if pending:
            await asyncio.gather(*pending)

    async def _settle(self, state: PartitionState, sent: _InFlight, now: float) -> RateBatch:
        """Wait for a batch's acknowledgement, then move the partition's checkpoint past it."""
        m = self._metrics
        await sent.delivered
        batch = sent.batch
        state.last_offset = batch.last_offset
        state.watermark_ms = batch.watermark_ms
        m.events.labels(self.topic).inc(batch.events)
        m.late.inc(sum(r.events for r in batch.late))
        m.batch_messages.observe(sent.messages)
        m.batch_seconds.observe(time.perf_counter() - sent.started)
        if batch.events:
            m.event_delay.observe(max(0.0, now - batch.watermark_ms / 1000))
        return batch


@dataclass
class _InFlight:
    batch: RateBatch
    delivered: Awaitable[object]
    messages: int
    started: float
