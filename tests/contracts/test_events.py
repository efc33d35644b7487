"""The event contract: what is accepted, and the reason code of each kind of refusal."""

from __future__ import annotations

import pytest

from contracts.events import Click, Session, check_time, decode_message, encode

LIMITS = dict(max_bytes=262_144, max_events=1000)
TS = 1_647_216_000_000  # 2022-03-14T00:00:00Z


def click(**kw: object) -> Click:
    base = dict(
        id="e1", ts=TS, platform="k12", province="210000", user="u1", session="s1", resource="r1", section="lessons"
    )
    base.update(kw)
    return Click(**base)  # type: ignore[arg-type]


def test_single_and_batch_round_trip() -> None:
    c = click()
    s = Session(
        id="s-1",
        ts=TS,
        platform="higher",
        province="abroad",
        country="SG",
        user="u",
        session="s",
        kind="end",
        duration_s=120.5,
    )
    assert decode_message(encode(c), **LIMITS) == ([c], [])
    assert decode_message(encode([c, s]), **LIMITS) == ([c, s], [])


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"{broken", "json"),
        (b'{"type":"click","id":"x"}', "schema"),
        (encode(click()).replace(b'"ts":1647216000000', b'"ts":"yesterday"'), "schema"),
        (encode(click()).replace(b"210000", b"999999"), "unknown_province"),
        (encode(click(province="abroad")), "abroad_without_country"),
        (b"[" + b" " * 300_000 + b"]", "too_large"),
    ],
)
def test_refusals_carry_a_reason(raw: bytes, reason: str) -> None:
    good, bad = decode_message(raw, **LIMITS)
    assert good == []
    assert [r.reason for r in bad] == [reason]


def test_one_bad_event_does_not_sink_its_batch() -> None:
    raw = b"[" + encode(click(id="a")) + b',{"type":"click"},' + encode(click(id="b")) + b"]"
    good, bad = decode_message(raw, **LIMITS)
    assert [e.id for e in good] == ["a", "b"]
    assert [(r.reason, r.index) for r in bad] == [("schema", 1)]


def test_batch_size_limit() -> None:
    good, bad = decode_message(encode([click(id=str(i)) for i in range(5)]), max_bytes=10**6, max_events=4)
    assert good == [] and bad[0].reason == "batch_too_large"


def test_absurd_times() -> None:
    now = TS + 3_600_000
    assert check_time(click(ts=now + 601_000), now, 600_000) == "time_future"
    assert check_time(click(ts=1_000), now, 600_000) == "time_past"
    assert check_time(click(), now, 600_000) is None


def test_rate_batch_head_reads_the_coverage_fields_of_a_full_batch() -> None:
    from contracts.rates import RateBatch, VisitorRow, decode_head, encode_batch

    batch = RateBatch(
        src_topic="clicks",
        src_partition=3,
        first_offset=10,
        last_offset=19,
        watermark_ms=5,
        events=42,
        visitors=[VisitorRow(60, "k12", "110000", "u", "s")],
    )
    head = decode_head(encode_batch(batch))
    assert (head.src_partition, head.last_offset, head.events) == (3, 19, 42)
