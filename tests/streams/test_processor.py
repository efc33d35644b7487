"""The processor's exactly-once rule: skip what the checkpoint says was already sent."""

from __future__ import annotations

import asyncio

from prometheus_client import CollectorRegistry

from contracts.deadletter import decode_record
from contracts.events import Click, encode
from contracts.rates import RateBatch, decode_batch
from contracts.settings import Settings
from streams.metrics import WorkerMetrics
from streams.processor import Processor

T0 = 1_647_216_000_000


def msg(offset: int) -> tuple[int, bytes]:
    return offset, encode(
        Click(
            id=f"e{offset}",
            ts=T0 + offset,
            platform="k12",
            province="110000",
            user="u",
            session="s",
            resource="r",
            section="topic",
        )
    )


def distinct(offset: int) -> tuple[int, bytes]:
    """A click with a visitor and a resource of its own: about 200 bytes of rate batch."""
    return offset, encode(
        Click(
            id=f"e{offset}",
            ts=T0 + offset,
            platform="k12",
            province="110000",
            user=f"u{offset}",
            session=f"s{offset}",
            resource=f"r{offset}",
            section="topic",
        )
    )


class FakeKafka:
    def __init__(self, checkpoint: RateBatch | None = None) -> None:
        self.sent: list[tuple[str, int | None, bytes]] = []
        self.checkpoint = checkpoint
        self.loads = 0

    async def send(self, topic: str, partition: int | None, value: bytes):  # type: ignore[no-untyped-def]
        self.sent.append((topic, partition, value))
        fut = asyncio.get_running_loop().create_future()
        fut.set_result(None)
        return fut

    async def load(self, partition: int) -> RateBatch | None:
        self.loads += 1
        return self.checkpoint


def make(kafka: FakeKafka) -> Processor:
    return Processor(
        Settings(), kafka.send, kafka.load, WorkerMetrics.create(CollectorRegistry()), clock=lambda: T0 / 1000 + 86_400
    )


def test_replayed_offsets_are_not_sent_twice() -> None:
    s = Settings()
    ck = RateBatch(
        src_topic=s.topic_clicks, src_partition=2, first_offset=0, last_offset=9, watermark_ms=T0 + 9, events=10
    )
    kafka = FakeKafka(ck)
    proc = make(kafka)
    out = asyncio.run(proc.handle(2, [msg(o) for o in range(5, 15)]))
    assert out is not None and (out.first_offset, out.last_offset, out.events) == (10, 14, 5)
    assert [(t, p) for t, p, _ in kafka.sent] == [(s.topic_rates, 2)]
    assert decode_batch(kafka.sent[0][2]) == out
    assert asyncio.run(proc.handle(2, [msg(o) for o in range(10, 15)])) is None  # all seen
    assert kafka.loads == 1


def test_forget_reloads_checkpoint() -> None:
    kafka = FakeKafka(None)
    proc = make(kafka)
    asyncio.run(proc.handle(0, [msg(0)]))
    proc.forget([0])
    asyncio.run(proc.handle(0, [msg(1)]))
    assert kafka.loads == 2


def test_dead_letters_go_out_before_the_rates() -> None:
    s = Settings()
    kafka = FakeKafka(None)
    asyncio.run(make(kafka).handle(1, [(0, b"{oops"), msg(1)]))
    assert [t for t, _, _ in kafka.sent] == [s.topic_deadletter, s.topic_rates]
    rec = decode_record(kafka.sent[0][2])
    assert (rec.reason, rec.src_partition, rec.src_offset, rec.payload) == ("json", 1, 0, "{oops")


def test_backlog_is_cut_before_folding_not_refolded(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A run too big for one rates message is cut into pieces sized from the last batch's bytes per
    message, so each event is folded about once (halving after the fact folded a backlog ~3.7x)."""
    import streams.processor as processor

    folded = [0]
    real = processor.aggregate_safely

    def counting(topic, partition, messages, *args):  # type: ignore[no-untyped-def]
        messages = list(messages)
        folded[0] += len(messages)
        return real(topic, partition, messages, *args)

    monkeypatch.setattr(processor, "aggregate_safely", counting)
    monkeypatch.setattr(processor, "MAX_RATES_BYTES", 20_000)

    kafka = FakeKafka()
    proc = make(kafka)
    asyncio.run(proc.handle(0, [distinct(o) for o in range(0, 1000)]))  # learns the size by halving
    folded[0] = 0
    kafka.sent.clear()
    asyncio.run(proc.handle(0, [distinct(o) for o in range(1000, 3000)]))
    batches = [decode_batch(v) for _t, _p, v in kafka.sent]
    assert all(len(v) <= 20_000 for _t, _p, v in kafka.sent)
    assert [(b.first_offset, b.last_offset) for b in batches][0][0] == 1000
    assert all(a.last_offset + 1 == b.first_offset for a, b in zip(batches, batches[1:], strict=False))
    assert batches[-1].last_offset == 2999 and sum(b.events for b in batches) == 2000
    assert folded[0] <= 2000 * 1.2, f"{folded[0]} messages folded for 2000"


def test_a_failed_batch_stops_the_run_and_leaves_the_checkpoint_before_it(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Pieces are folded ahead but sent one at a time: when a batch's delivery fails, no later batch
    of the partition has been sent, and the partition's checkpoint stays before the failed one."""
    import pytest

    import streams.processor as processor

    monkeypatch.setattr(processor, "MAX_RATES_BYTES", 2_000)

    class FailSecond(FakeKafka):
        async def send(self, topic, partition, value):  # type: ignore[no-untyped-def]
            self.sent.append((topic, partition, value))
            fut = asyncio.get_running_loop().create_future()
            if len(self.sent) == 2:
                fut.set_exception(RuntimeError("broker refused the batch"))
            else:
                fut.set_result(None)
            return fut

    kafka = FailSecond()
    proc = make(kafka)
    with pytest.raises(RuntimeError, match="refused"):
        asyncio.run(proc.handle(0, [distinct(o) for o in range(0, 200)]))
    assert len(kafka.sent) == 2  # nothing after the failed batch
    first = decode_batch(kafka.sent[0][2])
    assert proc.partitions[0].last_offset == first.last_offset < 199
