"""Pure aggregation of one source partition's run of messages into a `RateBatch`.

No Kafka and no clock inside: the agent passes the raw messages, the partition's watermark and
"now", so unit tests drive every rule (lateness, absurd times, dead letters) directly.

Per valid, on-time event it updates a handful of counters keyed by event-time bucket; late events
(older than watermark - allowed lateness) only count in `late`, since the minutes they belong to
have already been judged by the alerts.
"""
from __future__ import annotations

from bisect import bisect_left
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from contracts.events import ABROAD, Click, Reject, check_time, decode_message
from contracts.rates import DURATION_BUCKETS_S, RateBatch
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


_ACTION_SLOT = {"view": 0, "play": 1, "download": 2}
_N_DURATION = len(DURATION_BUCKETS_S) + 1


def aggregate(
    topic: str,
    partition: int,
    messages: Iterable[tuple[int, bytes]],
    watermark_ms: int,
    now_ms: int,
    limits: Limits,
) -> Aggregated:
    """Fold (offset, raw value) pairs, in offset order, into per-bucket partial sums.

    The watermark is the largest event time seen so far in this partition.
    """
    clicks: Counter[tuple[int, str, str, str, str]] = Counter()
    late: Counter[tuple[int, str, str]] = Counter()
    tiles: Counter[tuple[int, str]] = Counter()
    resources: dict[tuple[int, str, str, str], list[int]] = defaultdict(lambda: [0, 0, 0])
    visitors: set[tuple[int, str, str, str, str]] = set()
    sessions: dict[tuple[int, str, str], list[float]] = defaultdict(lambda: [0] * (3 + _N_DURATION) + [0.0])
    countries: Counter[tuple[int, str, str]] = Counter()
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
            ts = ev.ts
            if ts > wm:
                wm = ts
            minute = ts // 60_000 * 60
            platform, province = ev.platform, ev.province
            if ts < wm - lateness:
                late[(minute, platform, province)] += 1
                continue
            visitors.add((minute, platform, province, ev.user, ev.session))
            if province == ABROAD:
                countries[(minute, platform, ev.country or "ZZ")] += 1
            if isinstance(ev, Click):
                clicks[(minute, platform, province, ev.section, ev.action)] += 1
                tiles[(ts // 10_000 * 10, platform)] += 1
                slot = _ACTION_SLOT.get(ev.action)
                if slot is not None:
                    resources[(minute, platform, ev.resource, ev.section)][slot] += 1
            else:
                row = sessions[(minute, platform, province)]
                if ev.kind == "start":
                    row[0] += 1
                elif ev.kind == "end":
                    row[1] += 1
                    row[3 + bisect_left(DURATION_BUCKETS_S, ev.duration_s + 1e-9)] += 1
                    row[-1] += ev.duration_s
                else:
                    row[2] += 1
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
        tiles=[(*k, n) for k, n in tiles.items()],
        resources=[(*k, *v) for k, v in resources.items()],
        visitors=list(visitors),
        sessions=[(*k, *(int(x) for x in v[:-1]), float(v[-1])) for k, v in sessions.items()],
        countries=[(*k, n) for k, n in countries.items()],
    )
    return Aggregated(batch, dead)


def _refuse(dead: list[DeadLetter], rejects: Counter[str], offset: int, rej: Reject, raw: bytes) -> None:
    rejects[rej.reason] += 1
    dead.append(DeadLetter(offset, rej.reason, rej.detail, rej.index, raw))
