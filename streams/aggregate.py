"""Pure aggregation of one source partition's run of messages into a `RateBatch`.

No Kafka and no clock inside: the agent passes the raw messages, the partition's watermark and
"now", so unit tests drive every rule (lateness, absurd times, dead letters) directly.

Per valid, on-time event it updates a handful of counters keyed by event-time bucket; late events
(older than watermark - allowed lateness) only count in `late`, since the minutes they belong to
have already been judged by the alerts.
"""
from __future__ import annotations

from bisect import bisect_left
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from contracts.events import ABROAD, EARLIEST_EVENT_MS, Click, Reject, check_time, decode_message
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
    # Plain dicts with .get (in C), not Counter/defaultdict: those call Python (__missing__, a
    # lambda) for every new key, and here nearly every event brings a new key.
    clicks: dict[tuple[int, str, str, str, str], int] = {}
    late: dict[tuple[int, str, str], int] = {}
    tiles: dict[tuple[int, str], int] = {}
    resources: dict[tuple[int, str, str, str], list[int]] = {}
    visitors: set[tuple[int, str, str, str, str]] = set()
    sessions: dict[tuple[int, str, str], list[float]] = {}
    countries: dict[tuple[int, str, str], int] = {}
    rejects: Counter[str] = Counter()
    dead: list[DeadLetter] = []
    first = last = -1
    n_events = 0
    wm = watermark_ms
    lateness = limits.allowed_lateness_ms
    latest_ok = now_ms + limits.max_future_ms
    slots = _ACTION_SLOT
    for offset, raw in messages:
        if first < 0:
            first = offset
        last = offset
        events, refused = decode_message(raw or b"", max_bytes=limits.max_bytes, max_events=limits.max_events)
        for rej in refused:
            _refuse(dead, rejects, offset, rej, raw)
        for ev in events:
            ts = ev.ts
            if ts > latest_ok or ts < EARLIEST_EVENT_MS:
                bad_time = check_time(ev, now_ms, limits.max_future_ms)
                _refuse(dead, rejects, offset, Reject(bad_time or "time_past", f"event {ev.id} ts={ts}"), raw)
                continue
            n_events += 1
            if ts > wm:
                wm = ts
            minute = ts // 60_000 * 60
            platform, province = ev.platform, ev.province
            if ts < wm - lateness:
                key3 = (minute, platform, province)
                late[key3] = late.get(key3, 0) + 1
                continue
            visitors.add((minute, platform, province, ev.user, ev.session))
            if province == ABROAD:
                ckey = (minute, platform, ev.country or "ZZ")
                countries[ckey] = countries.get(ckey, 0) + 1
            if ev.__class__ is Click:
                action = ev.action
                key = (minute, platform, province, ev.section, action)
                clicks[key] = clicks.get(key, 0) + 1
                tkey = (ts // 10_000 * 10, platform)
                tiles[tkey] = tiles.get(tkey, 0) + 1
                slot = slots.get(action)
                if slot is not None:
                    rkey = (minute, platform, ev.resource, ev.section)
                    row = resources.get(rkey)
                    if row is None:
                        row = resources[rkey] = [0, 0, 0]
                    row[slot] += 1
            else:
                skey = (minute, platform, province)
                srow = sessions.get(skey)
                if srow is None:
                    srow = sessions[skey] = [0] * (3 + _N_DURATION) + [0.0]
                if ev.kind == "start":
                    srow[0] += 1
                elif ev.kind == "end":
                    srow[1] += 1
                    srow[3 + bisect_left(DURATION_BUCKETS_S, ev.duration_s + 1e-9)] += 1
                    srow[-1] += ev.duration_s
                else:
                    srow[2] += 1
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
