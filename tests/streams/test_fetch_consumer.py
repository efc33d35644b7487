"""The worker's consumer hands whole fetches to its handlers, commits only what they finished, and
gives partitions away only between hand-overs.

The consumer is the real `FetchConsumer` of a real `WorkerApp`; only its I/O seams are scripted:
the thread fetch (`_getmany`), the assignment and the offset commit.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Awaitable, Callable
from typing import NamedTuple

import pytest
from faust.types import TP

from contracts.settings import Settings
from streams.app import create_app
from streams.fetch_consumer import BACKLOG_MESSAGES, FetchConsumer

CLICKS, SESSIONS, OTHER = "clicks", "sessions", "other"


class Record(NamedTuple):
    offset: int
    value: bytes
    timestamp: int = -1


def records(topic: str, partition: int, offsets: range) -> tuple[TP, list[Record]]:
    return TP(topic, partition), [Record(o, f"{topic}/{partition}/{o}".encode()) for o in offsets]


class Harness:
    """A WorkerApp whose consumer fetches from a script and commits into a list."""

    def __init__(self, window_s: float = 60.0, max_messages: int = 1000) -> None:
        settings = Settings(
            kafka_bootstrap="127.0.0.1:1", worker_batch_within_s=window_s, worker_batch_max=max_messages
        )
        self.app = create_app(settings)
        self.calls: list[tuple[str, int, list[int]]] = []
        self.fetches: list[dict[TP, list[Record]]] = []
        self.commits: list[dict[TP, int]] = []
        self.timeouts: list[float] = []  # of each fetch
        self.highwater: dict[TP, int] = {}  # the broker's end offsets, as the last fetch saw them
        self.during_fetch: list[Callable[[], None]] = []  # what happens elsewhere while a fetch is under way
        self.seeks = 0  # seeks of every partition back to its committed offset
        self.assigned = {TP(t, p) for t in (CLICKS, SESSIONS, OTHER) for p in range(2)}
        self.consumer = self._consumer()
        for topic in (CLICKS, SESSIONS):
            self.app.fetch_route.handlers[topic] = self._recorder(topic)

    def _recorder(self, topic: str) -> Callable:  # type: ignore[type-arg]
        async def handle(partition: int, run: list[tuple[int, bytes]]) -> None:
            assert all(value == f"{topic}/{partition}/{o}".encode() for o, value, _ts in run), run
            self.calls.append((topic, partition, [m[0] for m in run]))

        return handle

    def _consumer(self) -> FetchConsumer:
        harness = self

        class Scripted(FetchConsumer):
            async def _getmany(self, active_partitions, timeout):  # type: ignore[no-untyped-def]
                harness.timeouts.append(timeout)
                if harness.during_fetch:
                    harness.during_fetch.pop(0)()
                if harness.fetches:
                    return harness.fetches.pop(0)
                await asyncio.sleep(min(timeout, 2.0))  # the broker's long poll, with nothing new
                return {}

            def _get_active_partitions(self):  # type: ignore[no-untyped-def]
                return harness.assigned

            def assignment(self):  # type: ignore[no-untyped-def]
                return harness.assigned

            def highwater(self, tp):  # type: ignore[no-untyped-def]
                return harness.highwater.get(tp)

            async def seek_to_committed(self):  # type: ignore[no-untyped-def]
                harness.seeks += 1
                return {}

            async def _commit(self, offsets):  # type: ignore[no-untyped-def]
                harness.commits.append(dict(offsets))
                return True

        consumer = Scripted(
            self.app.transport,
            callback=self.app.topics.on_message,
            loop=asyncio.get_running_loop(),
            on_partitions_revoked=self.app._on_partitions_revoked,
            on_partitions_assigned=self.app._on_partitions_assigned,
            beacon=self.app.beacon,
        )
        self.app._consumer = consumer  # what app.consumer returns (the producer flush before a commit)
        return consumer

    async def fetch(self, timeout: float = 1.0) -> dict[TP, list[Record]]:
        got, _active = await self.consumer._wait_next_records(timeout)
        return got or {}

    def committable(self) -> dict[TP, int]:
        return self.consumer._filter_committable_offsets(list(self.consumer._acked))


def run_async(test: Callable[..., Awaitable[None]]) -> Callable[..., None]:
    """Run an async test body on a fresh event loop (the consumer binds to the running loop)."""

    @functools.wraps(test)
    def wrapper(*args: object, **kwargs: object) -> None:
        asyncio.run(test(*args, **kwargs))

    return wrapper


@pytest.fixture()
def no_producer_flush(monkeypatch: pytest.MonkeyPatch) -> None:
    """Commits flush the producer first; this app's producer never started (nothing to flush)."""
    from faust.transport.drivers.aiokafka import Producer

    async def flush(self) -> None:  # type: ignore[no-untyped-def]
        return None

    monkeypatch.setattr(Producer, "flush", flush)


@run_async
async def test_runs_go_whole_to_the_handler_per_partition_in_offset_order() -> None:
    h = Harness(max_messages=9)
    h.fetches = [
        dict([records(CLICKS, 0, range(0, 3)), records(SESSIONS, 1, range(10, 12)), records(OTHER, 0, range(0, 2))]),
        dict([records(CLICKS, 0, range(3, 5)), records(CLICKS, 1, range(7, 9))]),
    ]
    rest = await h.fetch()
    assert h.calls == []  # 5 collected, fewer than 9, window not over
    assert set(rest) == {TP(OTHER, 0)}  # a topic without a handler keeps Faust's own path
    assert await h.fetch() == {}
    # 9 collected: one call per partition, each with all of its records in offset order.
    assert sorted(h.calls) == [(CLICKS, 0, [0, 1, 2, 3, 4]), (CLICKS, 1, [7, 8]), (SESSIONS, 1, [10, 11])]
    # The committable offset is the one after the last record handed over.
    assert h.committable() == {TP(CLICKS, 0): 5, TP(CLICKS, 1): 9, TP(SESSIONS, 1): 12}


@run_async
async def test_a_partial_run_is_handed_over_when_its_window_ends_without_waiting_for_a_fetch() -> None:
    h = Harness(window_s=0.2)
    h.fetches = [dict([records(CLICKS, 0, range(0, 3))])]
    await h.fetch()
    assert h.calls == []
    started = time.monotonic()
    await h.fetch(timeout=5.0)  # nothing new arrives
    # The fetch waited only for what was left of the window, not for its 5 s timeout.
    assert h.calls == [(CLICKS, 0, [0, 1, 2])]
    assert h.timeouts[-1] <= 0.2
    assert time.monotonic() - started < 1.0


@run_async
async def test_a_backlog_is_handed_over_at_once_without_waiting_out_the_window() -> None:
    h = Harness(window_s=60.0)
    h.highwater = {TP(CLICKS, 0): 9, TP(CLICKS, 1): 100 + BACKLOG_MESSAGES}
    h.fetches = [dict([records(CLICKS, 0, range(0, 3))])]
    await h.fetch()
    # A steady stream on partition 0: a short run, a few more records already at the broker. It
    # waits for the window, so that its rate batches are fuller and fewer.
    assert h.calls == []
    h.fetches = [dict([records(CLICKS, 1, range(0, 100))])]
    await h.fetch()
    # Partition 1 has BACKLOG_MESSAGES more records at the broker: waiting would only idle.
    assert sorted(h.calls) == [(CLICKS, 0, [0, 1, 2]), (CLICKS, 1, list(range(100)))]


@run_async
async def test_a_backlog_is_told_by_what_the_broker_holds_beyond_the_run() -> None:
    h = Harness(window_s=60.0, max_messages=100_000)
    h.highwater = {TP(CLICKS, 0): 3000 + BACKLOG_MESSAGES - 1}
    h.fetches = [dict([records(CLICKS, 0, range(0, 3000))])]
    await h.fetch()
    assert h.calls == []  # the last of a backlog, fewer than BACKLOG_MESSAGES left: the window
    h.highwater = {TP(CLICKS, 1): 3000 + BACKLOG_MESSAGES}
    h.fetches = [dict([records(CLICKS, 1, range(0, 3000))])]
    await h.fetch()
    assert sorted(h.calls) == [(CLICKS, 0, list(range(3000))), (CLICKS, 1, list(range(3000)))]


@run_async
async def test_a_rebalance_drops_what_was_collected_so_nothing_is_handed_over_twice() -> None:
    h = Harness(max_messages=4)
    h.fetches = [dict([records(CLICKS, 0, range(0, 3))])]
    await h.fetch()
    h.consumer.stop_flow()  # what Faust does first when partitions are revoked
    assert h.calls == [] and h.committable() == {}
    # Faust seeks back to the committed offset before it resumes the flow: 0..2 are read again.
    h.consumer.resume_flow()
    h.fetches = [dict([records(CLICKS, 0, range(0, 6))])]
    await h.fetch()
    assert h.calls == [(CLICKS, 0, [0, 1, 2, 3, 4, 5])]
    # A new consumer generation (the group rebalanced) also drops what the old one collected.
    h.fetches = [dict([records(CLICKS, 1, range(0, 3))]), dict([records(CLICKS, 1, range(0, 4))])]
    await h.fetch()
    h.app.consumer_generation_id += 1
    await h.fetch()
    assert h.calls[1:] == [(CLICKS, 1, [0, 1, 2, 3])]


@run_async
async def test_records_fetched_across_a_rebalance_are_not_collected() -> None:
    """The CI failure of 2026-12-04 (60,360 events for 60,000 in the two-worker test): a fetch under
    way while the group rebalanced returned records from before the seek back to the committed
    offset; stamped with the new generation, the re-read records were appended to them."""
    h = Harness(max_messages=14)

    def rebalance() -> None:
        h.app.consumer_generation_id += 1  # assigned again while the fetch was under way

    h.during_fetch = [rebalance]
    h.fetches = [
        dict([records(CLICKS, 0, range(100, 104))]),  # under way across the rebalance
        dict([records(CLICKS, 0, range(90, 104))]),
    ]  # after the seek to the committed offset 90
    await h.fetch()
    assert h.calls == [] and h.seeks == 0
    await h.fetch()
    # Whether they came from before or after the group's own seek, the dropped records are read
    # again: the consumer seeks to the committed offsets itself before it fetches again.
    assert h.seeks == 1
    assert h.calls == [(CLICKS, 0, list(range(90, 104)))]


@run_async
async def test_a_run_never_holds_an_offset_twice() -> None:
    h = Harness(max_messages=8)
    h.fetches = [dict([records(CLICKS, 0, range(0, 5))]), dict([records(CLICKS, 0, range(2, 8))])]
    await h.fetch()
    await h.fetch()  # sought back to 2 with no rebalance seen: 2..4 again, then 5..7
    assert h.calls == [(CLICKS, 0, list(range(0, 8)))]


@run_async
async def test_a_failed_run_is_not_committed() -> None:
    h = Harness(max_messages=2)

    async def broken(partition: int, run: list[tuple[int, bytes]]) -> None:
        raise RuntimeError("broker refused the rate batch")

    h.app.fetch_route.handlers[SESSIONS] = broken
    h.fetches = [dict([records(CLICKS, 0, range(0, 2)), records(SESSIONS, 0, range(0, 2))])]
    with pytest.raises(RuntimeError, match="refused"):
        await h.fetch()
    assert TP(SESSIONS, 0) not in h.committable()


@run_async
async def test_partitions_are_given_away_only_after_the_hand_over_in_progress(no_producer_flush: None) -> None:
    h = Harness(max_messages=2)
    release = asyncio.Event()
    entered = asyncio.Event()

    async def slow(partition: int, run: list[tuple[int, bytes]]) -> None:
        entered.set()
        await release.wait()
        h.calls.append((CLICKS, partition, [m[0] for m in run]))

    h.app.fetch_route.handlers[CLICKS] = slow
    h.fetches = [dict([records(CLICKS, 0, range(40, 42))])]
    handing = asyncio.create_task(h.fetch())
    await asyncio.wait_for(entered.wait(), 5)
    # Faust's revocation: stop the flow, then wait until the consumer is empty (and commit).
    h.consumer.stop_flow()
    emptied = asyncio.create_task(h.consumer.wait_empty())
    done, _ = await asyncio.wait({emptied}, timeout=0.2)
    assert not done, "wait_empty returned while a run was still being handed over"
    release.set()
    await asyncio.wait_for(asyncio.gather(handing, emptied), 5)
    assert h.calls == [(CLICKS, 0, [40, 41])]
    assert h.commits and h.commits[-1] == {TP(CLICKS, 0): 42}  # and its offsets were committed


@run_async
async def test_the_broker_holds_an_empty_fetch_for_the_route_wait_not_fausts_fixed_one_and_a_half_seconds() -> None:
    h = Harness()
    thread = h.consumer._new_consumer_thread()
    aiokafka_consumer = thread._create_worker_consumer(h.app.transport)
    assert aiokafka_consumer._fetch_max_wait_ms == 100  # worker_fetch_wait_s, passed on to the fetcher at start
