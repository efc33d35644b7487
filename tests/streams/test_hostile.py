"""Hostile input through the fold and the processor, without Kafka: one letter per refused message
(bounded in bytes), the safety net, a watermark that skewed clocks cannot drag ahead, rejects filed
at a real time, and conservation over runs of hostile messages."""

from __future__ import annotations

import asyncio
import random
from collections import Counter

import pytest
from prometheus_client import CollectorRegistry

import streams.aggregate as aggregate_mod
from contracts.deadletter import DeadLetterRecord, decode_record, encode_record, payload_bytes
from contracts.events import EARLIEST_EVENT_MS, Click, decode, encode, split_array
from contracts.rates import decode_batch
from contracts.settings import Settings
from simulators.hostile import event, hostile_message, poison, valid_message
from streams.aggregate import Limits, aggregate, aggregate_safely
from streams.metrics import WorkerMetrics
from streams.processor import Processor
from tests.streams.test_processor import FakeKafka

LIMITS = Limits(max_bytes=262_144, max_events=1000, allowed_lateness_ms=300_000, max_future_ms=600_000)
T0 = 1_647_216_000_000
NOW = T0 + 30_000  # the wall clock: the traffic is live


def click(i: int, ts: int) -> Click:
    return Click(
        id=f"e{i}", ts=ts, platform="k12", province="210000", user="u", session="s", resource="r", section="lessons"
    )


def processor(kafka: FakeKafka, now_ms: int = NOW) -> tuple[Processor, CollectorRegistry]:
    registry = CollectorRegistry()
    return Processor(
        Settings(), kafka.send, kafka.load, WorkerMetrics.create(registry), clock=lambda: now_ms / 1000
    ), registry


# --- dead letters ------------------------------------------------------------------------------------


def letters(kafka: FakeKafka) -> list[DeadLetterRecord]:
    s = Settings()
    return [decode_record(v) for t, _p, v in kafka.sent if t == s.topic_deadletter]


def test_a_message_of_1000_bad_events_is_one_letter_of_about_its_size() -> None:
    bad = encode([click(i, T0) for i in range(1000)]).replace(b'"210000"', b'"999999"')
    assert 100_000 < len(bad) < 262_144
    kafka = FakeKafka()
    proc, _ = processor(kafka)
    asyncio.run(proc.handle(0, [(7, bad)]))
    [letter] = letters(kafka)
    assert letter.refused == {"unknown_province": list(range(1000))} and letter.events == 1000
    assert letter.payload_kind == "message" and payload_bytes(letter) == bad and not letter.payload_truncated
    sent = len(encode_record(letter))
    assert sent <= 2 * len(bad), (sent, len(bad))


def test_a_few_bad_events_keep_only_themselves_in_the_letter() -> None:
    rng = random.Random(3)
    events = [encode(event(rng, i, T0)) for i in range(500)]
    events[17] = events[17].replace(b'"type":"', b'"type":"x', 1)
    events[400] = events[400].replace(b':"u', b':"\xff', 1)
    raw = b"[" + b",".join(events) + b"]"
    kafka = FakeKafka()
    proc, _ = processor(kafka)
    out = asyncio.run(proc.handle(0, [(3, raw)]))
    assert out is not None and out.events == 498 and out.rejects == {"schema": 1, "encoding": 1}
    [letter] = letters(kafka)
    assert letter.refused == {"schema": [17], "encoding": [400]} and letter.payload_kind == "refused_events"
    assert letter.payload_encoding == "base64"  # the invalid UTF-8 survives byte for byte
    assert payload_bytes(letter) == b"[" + events[17] + b"," + events[400] + b"]"
    refused_bytes = len(events[17]) + len(events[400])
    assert len(encode_record(letter)) <= 2 * refused_bytes + 1024


def test_letters_never_amplify_hostile_input() -> None:
    """Over a hostile stream: one letter per message with refusals, and letter bytes at most twice the
    refused bytes (plus a fixed head per letter)."""
    rng = random.Random(12)
    msgs = [(o, hostile_message(rng), -1) for o in range(1500)]
    now = T0 + 3_600_000
    kafka = FakeKafka()
    proc, _ = processor(kafka, now)
    asyncio.run(proc.handle(0, msgs))
    got = letters(kafka)

    def refuses(raw: bytes | None) -> bool:
        d = decode(raw, max_bytes=LIMITS.max_bytes, max_events=LIMITS.max_events)
        return bool(d.rejects) or any(not EARLIEST_EVENT_MS <= e.ts <= now + LIMITS.max_future_ms for e in d.events)

    assert [x.src_offset for x in got] == [o for o, raw, _ in msgs if refuses(raw)]
    refused = letter_bytes = 0
    for x in got:
        raw = msgs[x.src_offset][1] or b""
        n = sum(len(v) for v in x.refused.values())
        if x.payload_kind == "message":
            refused += len(raw)
        else:
            spans = split_array(raw)
            assert spans is not None
            refused += sum(spans[i][1] - spans[i][0] for v in x.refused.values() for i in v)
        assert n >= 1
        letter_bytes += len(encode_record(x))
    assert letter_bytes <= 2 * refused + 600 * len(got), (letter_bytes, refused, len(got))


def test_v1_letters_still_decode() -> None:
    v1 = (
        b'{"reason":"json","detail":"x","src_topic":"t","src_partition":1,"src_offset":5,"index":-1,'
        b'"payload":"{oops","payload_bytes":5,"seen_at_ms":1,"v":1}'
    )
    rec = decode_record(v1)
    assert (rec.v, rec.reason, rec.payload, rec.refused, rec.payload_encoding) == (1, "json", "{oops", {}, "utf-8")


# --- the safety net ----------------------------------------------------------------------------------


def test_a_message_that_raises_is_set_aside_and_the_rest_counted(monkeypatch: pytest.MonkeyPatch) -> None:
    real = aggregate_mod.decode

    def flaky(raw, **kw):  # type: ignore[no-untyped-def]
        if raw is not None and b"boom" in raw:
            raise KeyError("a bug that only this message reaches")
        return real(raw, **kw)

    monkeypatch.setattr(aggregate_mod, "decode", flaky)
    msgs = [(o, encode(click(o, T0 + o))) for o in range(10)]
    msgs[4] = (4, encode(click(4, T0)).replace(b'"u"', b'"boom"'))
    kafka = FakeKafka()
    proc, registry = processor(kafka)
    out = asyncio.run(proc.handle(0, msgs))
    assert out is not None and (out.first_offset, out.last_offset, out.events) == (0, 9, 9)
    assert out.rejects == {"internal": 1}
    [letter] = letters(kafka)
    assert (letter.src_offset, letter.reason) == (4, "internal") and "KeyError" in letter.detail
    assert registry.get_sample_value("edu_worker_messages_set_aside_total", {"topic": Settings().topic_clicks}) == 1
    # and again on a restart (same input, same verdict): a message fails the fold, never the worker
    kafka2 = FakeKafka()
    out2 = asyncio.run(processor(kafka2)[0].handle(0, msgs))
    assert out2 == out


def test_an_encoding_failure_is_narrowed_to_its_message(monkeypatch: pytest.MonkeyPatch) -> None:
    import streams.processor as proc_mod

    real = proc_mod.encode_batch

    def picky(batch):  # type: ignore[no-untyped-def]
        if batch.first_offset <= 6 <= batch.last_offset and "internal" not in batch.rejects:
            raise ValueError("cannot encode")
        return real(batch)

    monkeypatch.setattr(proc_mod, "encode_batch", picky)
    kafka = FakeKafka()
    proc, registry = processor(kafka)
    asyncio.run(proc.handle(0, [(o, encode(click(o, T0 + o))) for o in range(10)]))
    batches = [decode_batch(v) for t, _p, v in kafka.sent if t == Settings().topic_rates]
    assert sum(b.events for b in batches) == 9 and sum(b.rejects.get("internal", 0) for b in batches) == 1
    assert [(b.first_offset, b.last_offset) for b in batches][-1][1] == 9  # contiguous, nothing lost
    assert all(a.last_offset + 1 == b.first_offset for a, b in zip(batches, batches[1:], strict=False))
    assert [x.src_offset for x in letters(kafka)] == [6]
    assert registry.get_sample_value("edu_worker_messages_set_aside_total", {"topic": Settings().topic_clicks}) == 1


# --- the watermark -----------------------------------------------------------------------------------


def test_one_client_running_ahead_does_not_make_on_time_events_late() -> None:
    """One event 9 minutes ahead of now (accepted: under the 10-minute future tolerance) among on-time
    traffic: it is counted, but moves the watermark only to its record's broker time."""
    msgs = []
    for o in range(200):
        ts = T0 + o * 100
        msgs.append((o, encode(click(o, ts)), ts + 50))  # broker time: 50 ms after the event
    ahead = T0 + 9 * 60_000
    msgs.insert(50, (50, encode(click(999, ahead)), T0 + 5_000))
    msgs = [(o, raw, b) for o, (_o, raw, b) in enumerate(msgs)]
    out = aggregate("clicks", 0, msgs, 0, T0 + 20_000, LIMITS).batch
    assert out.events == 201 and out.late == [] and sum(r.clicks for r in out.clicks) == 201
    assert out.watermark_ms == msgs[-1][2] - 50

    unbounded = aggregate("clicks", 0, [(o, raw) for o, raw, _b in msgs], 0, T0 + 20_000, LIMITS).batch
    assert sum(r.events for r in unbounded.late) > 100  # the control: without broker times, everyone is late


def test_the_bound_lets_replays_and_backlogs_through() -> None:
    """Event times in the past of their broker time (a replay of 2022, a backlog) move the watermark as
    before: the bound only cuts what runs ahead of the broker clock."""
    now = T0 + 4 * 365 * 86_400_000
    msgs = [(o, encode(click(o, T0 + o * 1000)), now) for o in range(100)]
    msgs.append((100, encode(click(100, T0 + 10_000 - 301_000)), now))  # late by the rule
    out = aggregate("clicks", 0, msgs, 0, now, LIMITS).batch
    assert out.watermark_ms == T0 + 99_000 and sum(r.events for r in out.late) == 1


def test_the_bound_is_a_setting() -> None:
    limits = Limits.from_settings(Settings(watermark_lead_s=120))
    msgs = [(0, encode(click(0, T0 + 9 * 60_000)), T0)]
    assert aggregate("clicks", 0, msgs, 0, T0 + 60_000, limits).batch.watermark_ms == T0 + 120_000


# --- rejects filed at a real time ---------------------------------------------------------------------


def test_rejects_without_any_event_time_are_filed_at_the_broker_time() -> None:
    out = aggregate("clicks", 0, [(0, b"garbage", T0 + 7_000), (1, None, T0 + 8_000)], 0, NOW, LIMITS).batch
    assert out.watermark_ms == 0 and out.rejects == {"json": 1, "tombstone": 1}
    assert out.rejects_at_ms == T0 + 7_000
    no_broker_time = aggregate("clicks", 0, [(0, b"garbage")], 0, NOW, LIMITS).batch
    assert no_broker_time.rejects_at_ms == NOW
    with_watermark = aggregate("clicks", 0, [(0, b"garbage", T0)], T0 - 60_000, NOW, LIMITS).batch
    assert with_watermark.rejects_at_ms == T0 - 60_000


# --- conservation over runs -------------------------------------------------------------------------


def test_conservation_through_the_fold() -> None:
    """events in = on time + late + refused, over runs of hostile messages cut at random places."""
    rng = random.Random(1206)
    msgs = [
        (o, hostile_message(rng) if rng.random() < 0.5 else valid_message(rng, NOW - 60_000), NOW) for o in range(4000)
    ]
    units = sum(decode(raw, max_bytes=LIMITS.max_bytes, max_events=LIMITS.max_events).units for _, raw, _ in msgs)
    total = Counter()
    wm = 0
    i = 0
    while i < len(msgs):
        n = rng.randint(1, 400)
        agg = aggregate_safely("clicks", 0, msgs[i : i + n], wm, NOW, LIMITS)
        wm = agg.batch.watermark_ms
        total["events"] += agg.batch.events
        total["refused"] += sum(agg.batch.rejects.values())
        total["letters_refused"] += sum(len(d.refusals) for d in agg.dead)
        i += n
    assert total["events"] + total["refused"] == units
    assert total["letters_refused"] == total["refused"]
    assert total["events"] > 10_000


@pytest.mark.parametrize("kind", ["tombstone", "invalid_utf8", "deep_nesting"])
def test_each_poison_kind_is_one_letter_and_costs_no_neighbour(kind: str) -> None:
    rng = random.Random(4)
    raw, good = poison(kind, rng, 19, NOW - 60_000)
    msgs = [(0, valid_message(rng, NOW - 60_000)), (1, raw), (2, valid_message(rng, NOW - 60_000))]
    units = [decode(r, max_bytes=LIMITS.max_bytes, max_events=LIMITS.max_events).units for _, r in msgs]
    agg = aggregate_safely("clicks", 0, msgs, 0, NOW, LIMITS)
    assert [d.offset for d in agg.dead] == [1] and len(agg.dead[0].refusals) == 1
    assert agg.batch.events == units[0] + good + units[2]
