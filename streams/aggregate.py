"""Pure aggregation of one source partition's run of messages into a `RateBatch`.

No Kafka and no clock inside: the agent passes the raw messages, the partition's watermark and
"now", so unit tests drive every rule (lateness, absurd times, dead letters) directly.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from contracts.events import Click, Reject, check_time, decode_message
from contracts.rates import RateBatch
from contracts.settings import Settings


@dataclass(frozen=True)
class Limits:
    """The knobs of validation and lateness, taken from settings once."""

    max_bytes: int
    max_events: int
    allowed_lateness_ms: int
    max_future_ms: int

    @classmethod
    def from_settings(cls, s: Settings) -> "Limits":
        return cls(s.max_message_bytes, s.max_events_per_message, s.allowed_lateness_s * 1000,
                   s.max_future_s * 1000)


@dataclass(frozen=True)
class DeadLetter:
    """A refused message or event, with where it came from and why."""

    offset: int
    reason: str
    detail: str
    index: int
    payload: bytes


@dataclass
class Aggregated:
    batch: RateBatch
    dead: list[DeadLetter] = field(default_factory=list)


def aggregate(
    topic: str,
    partition: int,
    messages: Iterable[tuple[int, bytes]],
    watermark_ms: int,
    now_ms: int,
    limits: Limits,
) -> Aggregated:
    """Fold (offset, raw value) pairs, in offset order, into per-minute partial sums.

    The watermark is the largest event time seen so far in this partition; an event older than
    watermark - allowed lateness is late: counted in `late`, not in `clicks`.
    """
    clicks: Counter[tuple[int, str, str, str, str]] = Counter()
    late: Counter[tuple[int, str, str]] = Counter()
    rejects: Counter[str] = Counter()
    dead: list[DeadLetter] = []
    first = last = -1
    n_events = 0
    wm = watermark_ms
    lateness = limits.allowed_lateness_ms
    for offset, raw in messages:
        if first < 0:
            first = offset
        last = offset
        events, refused = decode_message(raw or b"", max_bytes=limits.max_bytes, max_events=limits.max_events)
        for rej in refused:
            _refuse(dead, rejects, offset, rej, raw)
        for ev in events:
            bad_time = check_time(ev, now_ms, limits.max_future_ms)
            if bad_time is not None:
                _refuse(dead, rejects, offset, Reject(bad_time, f"event {ev.id} ts={ev.ts}"), raw)
                continue
            n_events += 1
            if ev.ts > wm:
                wm = ev.ts
            if not isinstance(ev, Click):
                continue  # session events are aggregated by the sessions stage
            minute = ev.ts // 60_000 * 60
            if ev.ts < wm - lateness:
                late[(minute, ev.platform, ev.province)] += 1
            else:
                clicks[(minute, ev.platform, ev.province, ev.section, ev.action)] += 1
    batch = RateBatch(
        src_topic=topic,
        src_partition=partition,
        first_offset=first,
        last_offset=last,
        watermark_ms=wm,
        events=n_events,
        clicks=[(*k, n) for k, n in clicks.items()],
        late=[(*k, n) for k, n in late.items()],
        rejects=dict(rejects),
    )
    return Aggregated(batch, dead)


def _refuse(dead: list[DeadLetter], rejects: Counter[str], offset: int, rej: Reject, raw: bytes) -> None:
    rejects[rej.reason] += 1
    dead.append(DeadLetter(offset, rej.reason, rej.detail, rej.index, raw))
