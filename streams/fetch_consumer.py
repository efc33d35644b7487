"""Faust's consumer, handing whole fetches of the worker's source topics to their handlers.

Faust's per-record path (conductor, channel, event, stream, one ack per record) cost ~60 us a message
(bench/README.md); the worker's processor takes runs per partition, and its exactness comes from the
checkpoints in the rates topic, not from acks. So this consumer keeps Faust's group membership,
rebalancing, flow control and commit timer, and hands each partition's run (collected for up to
`window_s` or `max_messages`, at once when the broker holds a backlog) to its topic's handler in one
call. A partition's committable offset is the one after the last record its handler returned
from; on a rebalance, runs not yet handed over are dropped (Faust seeks back to the committed offset)
and a hand-over in progress finishes first. Topics without a handler keep Faust's own path.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP

log = logging.getLogger(__name__)

# A partition whose broker holds this many more messages than its run is in a backlog, and handed
# over at once (a fetch brings ~3,400 client batches a partition).
BACKLOG_MESSAGES = 1000

# handler(partition, [(offset, value, broker timestamp ms), ...] in offset order); returns once the
# run's output is durable. The value is None for a tombstone.
FetchHandler = Callable[[int, list[tuple[int, bytes | None, int]]], Awaitable[object]]


@dataclass
class FetchRoute:
    """Which topics bypass Faust's per-record path, and how long records wait to form a run."""

    window_s: float
    max_messages: int
    fetch_wait_s: float  # how long the broker may hold a fetch that finds nothing new
    handlers: dict[str, FetchHandler] = field(default_factory=dict)


class _ConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    """Faust's consumer thread with the broker's fetch wait from the route.

    Faust fixes it at 1.5 s. The consumer has one fetch in flight per broker, so a partition left
    out of a fetch that finds nothing new (its records were still buffered when the fetch went out)
    waits that long: up to 1.5 s of an event's way to the store, and a stall of ~1 s at the end
    of each backlog in the throughput bench."""

    def _create_worker_consumer(self, transport):
        consumer = super()._create_worker_consumer(transport)
        route: FetchRoute | None = getattr(self.app, "fetch_route", None)
        if route is not None:
            if not hasattr(consumer, "_fetch_max_wait_ms"):
                raise RuntimeError(
                    "aiokafka's consumer has no _fetch_max_wait_ms: re-check FetchConsumer "
                    "against this aiokafka version"
                )
            consumer._fetch_max_wait_ms = int(route.fetch_wait_s * 1000)
        return consumer


class FetchConsumer(faust_aiokafka.Consumer):
    """The aiokafka consumer of Faust with fetch hand-over for the topics of `app.fetch_route`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._collected: dict[TP, list[tuple[int, bytes | None, int]]] = {}
        self._collected_n = 0
        self._due = 0.0  # monotonic time by which the collected runs are handed over
        self._generation: int | None = None  # consumer generation the collected records were fetched in
        self._settled: dict[TP, int] = {}  # next offset to commit, per partition handed over
        self._reseek = False  # records were dropped: seek to the committed offsets before the next fetch
        self._idle = asyncio.Event()
        self._idle.set()

    def _new_consumer_thread(self) -> faust_aiokafka.AIOKafkaConsumerThread:
        return _ConsumerThread(self, loop=self.loop, beacon=self.beacon)

    @property
    def _route(self) -> FetchRoute | None:
        return getattr(self.app, "fetch_route", None)

    async def _wait_next_records(self, timeout: float):
        route = self._route
        if route is None or not route.handlers:
            return await super()._wait_next_records(timeout)
        if self._reseek and self.flow_active:
            # Records were dropped: read every partition again from its committed offset (never
            # past the processor's checkpoint, which skips what it has already sent).
            self._reseek = False
            await self.perform_seek()
        if self._collected:
            timeout = max(0.0, min(timeout, self._due - time.monotonic()))
        generation = self.app.consumer_generation_id
        records, active = await super()._wait_next_records(timeout)
        if records:
            if not self.flow_active or self.app.consumer_generation_id != generation:
                # A rebalance began or ended while this fetch was under way: its records may be
                # from before or after the seek to the committed offsets. Drop them and seek again.
                self._drop_collected()
                records = {tp: recs for tp, recs in records.items() if tp.topic not in route.handlers}
            else:
                records = self._collect(route, records, active, generation)
        if self._collected and (
            self._collected_n >= route.max_messages or time.monotonic() >= self._due or self._behind()
        ):
            await self._hand_over(route)
        return records, active

    def _collect(
        self,
        route: FetchRoute,
        records: Mapping[TP, list[Any]],
        active: set | None,
        generation: int,
    ) -> dict[TP, list[Any]]:
        """Take the records of handled topics into the runs; return the others for Faust's path."""
        if self._collected and generation != self._generation:
            self._drop_collected()
        rest: dict[TP, list[Any]] = {}
        for tp, recs in records.items():
            if tp.topic not in route.handlers:
                rest[tp] = recs
                continue
            if not recs:
                continue
            if active is not None and tp not in active and tp not in self._buffered_partitions:
                self._reseek = True  # paused or no longer ours: skipped as Faust's getmany does, and read again
                continue
            if not self._collected:
                self._due = time.monotonic() + route.window_s
                self._generation = generation
            run = self._collected.get(tp)
            if run is None:
                run = self._collected[tp] = []
            elif recs[0].offset <= run[-1][0]:
                # The partition was sought back (the checks above should have seen why): a run must
                # never hold an offset twice, or it is counted twice. The records from that offset
                # on are the same messages again: keep the first copy's predecessors only.
                log.warning("%s: fetched offset %d after %d; the run is cut there", tp, recs[0].offset, run[-1][0])
                kept = [m for m in run if m[0] < recs[0].offset]
                self._collected_n -= len(run) - len(kept)
                run[:] = kept
            run.extend([(r.offset, r.value, r.timestamp) for r in recs])
            self._collected_n += len(recs)
        return rest

    def _behind(self) -> bool:
        """The broker already holds `BACKLOG_MESSAGES` more of a collected partition: a backlog,
        where waiting out the window would only idle (the next fetch is under way while the runs
        are processed). A steady stream is only a few records ahead of its run at any moment (~6
        at 50,000 events/s in client batches), and waits: fuller rate batches, fewer of them."""
        for tp, run in self._collected.items():
            high = self.highwater(tp)
            if high is not None and high - (run[-1][0] + 1) >= BACKLOG_MESSAGES:
                return True
        return False

    async def _hand_over(self, route: FetchRoute) -> None:
        if not self.flow_active or self.app.consumer_generation_id != self._generation:
            self._drop_collected()  # a rebalance began: these records are read again
            return
        runs = self._collected
        self._collected = {}
        self._collected_n = 0
        self._idle.clear()
        try:
            await asyncio.gather(*(route.handlers[tp.topic](tp.partition, run) for tp, run in runs.items()))
        finally:
            self._idle.set()
        inbound = self.app.monitor.stream_inbound_time if self.app.monitor is not None else {}
        now = time.monotonic()
        for tp, run in runs.items():
            self._settled[tp] = run[-1][0] + 1
            self._acked[tp]
            inbound[tp] = now  # Faust's livelock check: this partition's stream is moving

    def stop_flow(self) -> None:
        """A rebalance begins: drop the collected runs (read again from the committed offsets)."""
        super().stop_flow()
        self._drop_collected()

    def _drop_collected(self) -> None:
        """Forget the collected runs; the next fetch first seeks back to the committed offsets."""
        self._collected = {}
        self._collected_n = 0
        self._reseek = True

    def _new_offset(self, tp: TP) -> int | None:
        route = self._route
        if route is not None and tp.topic in route.handlers:
            return self._settled.get(tp)
        return super()._new_offset(tp)

    async def on_partitions_revoked(self, revoked: set[TP]) -> None:
        for tp in revoked:
            self._settled.pop(tp, None)
        await super().on_partitions_revoked(revoked)

    async def wait_empty(self) -> None:
        """Before partitions are given away (or the worker stops): no run half handed over."""
        self._drop_collected()
        await self._idle.wait()
        await super().wait_empty()
