"""Pure aggregation of one source partition's run of messages into a `RateBatch`.

No Kafka and no clock inside: the agent passes the raw messages, the partition's watermark and
"now", so unit tests drive every rule (lateness, absurd times, dead letters) directly.

Per valid, on-time event it updates a handful of counters keyed by event-time bucket; late events
(older than watermark - allowed lateness) only count in `late`, since the minutes they belong to
have already been judged by the alerts.
"""

from __future__ import annotations

import logging
from bisect import bisect_left
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from contracts.deadletter import Refusal
from contracts.events import ABROAD, DETAIL_KEEP, EARLIEST_EVENT_MS, Click, Session, check_time, decode
from contracts.rates import (
    DURATION_BUCKETS_S,
    ClickRow,
    CountryRow,
    LateRow,
    RateBatch,
    ResourceRow,
    SessionRow,
    TileRow,
    VisitorRow,
)
from contracts.settings import Settings


@dataclass(frozen=True)
class Limits:
    """The knobs of validation and lateness, taken from settings once."""

    max_bytes: int
    max_events: int
    allowed_lateness_ms: int
    max_future_ms: int
    watermark_lead_ms: int = 0  # how far an event may move the watermark past its record's broker time

    @classmethod
    def from_settings(cls, s: Settings) -> Limits:
        return cls(
            s.max_message_bytes,
            s.max_events_per_message,
            s.allowed_lateness_s * 1000,
            s.max_future_s * 1000,
            s.watermark_lead_s * 1000,
        )


@dataclass(frozen=True)
class DeadLetter:
    """A source message with refused events (or refused whole), where it came from and why."""

    offset: int
    refusals: list[Refusal]
    events: int  # events in the message (array length, or 1)
    payload: bytes | None
    timestamp_ms: int  # the record's broker timestamp, -1 if it has none

    @property
    def reason(self) -> str:
        return self.refusals[0].reason


@dataclass
class Aggregated:
    batch: RateBatch
    dead: list[DeadLetter] = field(default_factory=list)
    set_aside: dict[int, str] = field(default_factory=dict)  # offset -> error, refused as `internal`


class PoisonMessage(Exception):
    """Processing one message raised: the caller folds the run again with it set aside."""

    def __init__(self, offset: int, err: BaseException) -> None:
        super().__init__(f"offset {offset}: {type(err).__name__}: {err}")
        self.offset = offset


# A source record: (offset, value) or (offset, value, broker timestamp in ms, -1 if none).
Message = tuple[int, bytes | None] | tuple[int, bytes | None, int]


log = logging.getLogger(__name__)

_ACTION_SLOT = {"view": 0, "play": 1, "download": 2}
_N_DURATION = len(DURATION_BUCKETS_S) + 1


def aggregate(
    topic: str,
    partition: int,
    messages: Iterable[Message],
    watermark_ms: int,
    now_ms: int,
    limits: Limits,
    set_aside: Mapping[int, str] | None = None,
) -> Aggregated:
    """Fold source records, in offset order, into per-bucket partial sums.

    The watermark is the largest event time seen so far in this partition, each event's time taken
    at most `watermark_lead_ms` past its record's broker timestamp: a client whose clock runs ahead
    cannot make everyone else late (docs/exactly-once.md). Messages in `set_aside` are refused
    whole as `internal`, unread; any exception on a message raises `PoisonMessage`, and the state
    it leaves is dropped with the fold (see `aggregate_safely`).
    """
    # Plain dicts with .get (in C), not Counter/defaultdict: those call Python (__missing__, a
    # lambda) for every new key, and here nearly every event brings a new key.
    clicks: dict[tuple[int, str, str, str, str], int] = {}
    late: dict[tuple[int, str, str], int] = {}
    tiles: dict[tuple[int, str], int] = {}
    resources: dict[tuple[int, str, str, str], list[int]] = {}
    visitors: set[VisitorRow] = set()  # rows from the start: a set of tuples converted at the end cost more
    sessions: dict[tuple[int, str, str], list[float]] = {}
    countries: dict[tuple[int, str, str], int] = {}
    rejects: Counter[str] = Counter()
    dead: list[DeadLetter] = []
    first = last = -1
    n_events = 0
    wm = watermark_ms
    lateness = limits.allowed_lateness_ms
    lead = limits.watermark_lead_ms
    latest_ok = now_ms + limits.max_future_ms
    slots = _ACTION_SLOT
    aside = set_aside or {}
    refused_at = -1  # broker time of the first message with refusals
    for msg in messages:
        offset = msg[0]
        raw = msg[1]
        broker_ms = msg[2] if len(msg) > 2 else -1
        if first < 0:
            first = offset
        last = offset
        if offset in aside:
            _letter(dead, rejects, offset, [Refusal("internal", aside[offset], -1)], 1, raw, broker_ms)
            refused_at = broker_ms if refused_at < 0 else refused_at
            continue
        try:
            d = decode(raw, max_bytes=limits.max_bytes, max_events=limits.max_events)
            events = d.events
            refused = [Refusal(r.reason, r.detail, r.index) for r in d.rejects] if d.rejects else None
            # No event moves the watermark further than `lead` past the time the broker (or the
            # producer, for CreateTime topics) stamped its record; records without a time: no bound.
            bound = broker_ms + lead if broker_ms >= 0 else 1 << 62
            for j, ev in enumerate(events):
                ts = ev.ts
                if ts > latest_ok or ts < EARLIEST_EVENT_MS:
                    reason = check_time(ev, now_ms, limits.max_future_ms) or "time_past"
                    at = (d.indexes[j] if d.indexes is not None else j) if d.units > 1 or d.indexes else -1
                    if refused is None:
                        refused = []
                    refused.append(Refusal(reason, f"event {ev.id} ts={ts}", at))
                    continue
                n_events += 1
                if ts > wm:
                    if ts <= bound:
                        wm = ts
                    elif bound > wm:
                        wm = bound
                minute = ts // 60_000 * 60
                platform, province = ev.platform, ev.province
                if ts < wm - lateness:
                    key3 = (minute, platform, province)
                    late[key3] = late.get(key3, 0) + 1
                    continue
                visitors.add(
                    VisitorRow(minute=minute, platform=platform, province=province, user=ev.user, session=ev.session)
                )
                if province == ABROAD:
                    ckey = (minute, platform, ev.country or "ZZ")
                    countries[ckey] = countries.get(ckey, 0) + 1
                if ev.__class__ is Click:
                    click: Click = ev  # type: ignore[assignment]  # narrowed by the class check (no call per event)
                    action = click.action
                    key = (minute, platform, province, click.section, action)
                    clicks[key] = clicks.get(key, 0) + 1
                    tkey = (ts // 10_000 * 10, platform)
                    tiles[tkey] = tiles.get(tkey, 0) + 1
                    slot = slots.get(action)
                    if slot is not None:
                        rkey = (minute, platform, click.resource, click.section)
                        row = resources.get(rkey)
                        if row is None:
                            row = resources[rkey] = [0, 0, 0]
                        row[slot] += 1
                else:
                    sess: Session = ev  # type: ignore[assignment]  # the other class (no call per event)
                    skey = (minute, platform, province)
                    srow = sessions.get(skey)
                    if srow is None:
                        srow = sessions[skey] = [0] * (3 + _N_DURATION) + [0.0]
                    if sess.kind == "start":
                        srow[0] += 1
                    elif sess.kind == "end":
                        srow[1] += 1
                        srow[3 + bisect_left(DURATION_BUCKETS_S, sess.duration_s + 1e-9)] += 1
                        srow[-1] += sess.duration_s
                    else:
                        srow[2] += 1
            if refused:
                refused.sort(key=_by_index)
                _letter(dead, rejects, offset, refused, d.units, raw, broker_ms)
                refused_at = broker_ms if refused_at < 0 else refused_at
        except Exception as err:
            raise PoisonMessage(offset, err) from err
    batch = RateBatch(
        src_topic=topic,
        src_partition=partition,
        first_offset=first,
        last_offset=last,
        watermark_ms=wm,
        events=n_events,
        clicks=[
            ClickRow(minute=m, platform=pl, province=pr, section=sec, action=act, clicks=n)
            for (m, pl, pr, sec, act), n in clicks.items()
        ],
        late=[LateRow(minute=m, platform=pl, province=pr, events=n) for (m, pl, pr), n in late.items()],
        rejects=dict(rejects),
        rejects_at_ms=(wm if wm > 0 else refused_at if refused_at >= 0 else now_ms) if rejects else 0,
        tiles=[TileRow(ts=t, platform=pl, clicks=n) for (t, pl), n in tiles.items()],
        resources=[
            ResourceRow(minute=m, platform=pl, resource=res, section=sec, views=v[0], plays=v[1], downloads=v[2])
            for (m, pl, res, sec), v in resources.items()
        ],
        visitors=list(visitors),
        sessions=[_session_row(k, v) for k, v in sessions.items()],
        countries=[CountryRow(minute=m, platform=pl, country=c, events=n) for (m, pl, c), n in countries.items()],
    )
    return Aggregated(batch, dead, dict(aside))


def aggregate_safely(
    topic: str,
    partition: int,
    messages: list[Message],
    watermark_ms: int,
    now_ms: int,
    limits: Limits,
    set_aside: Mapping[int, str] | None = None,
) -> Aggregated:
    """`aggregate`, with every message that raises set aside (refused as `internal`, logged with
    its offset) and the run folded again without it: a message can fail the fold, never the worker.
    The fold is a pure function of the run, so the same messages are set aside after a restart."""
    aside = dict(set_aside or {})
    while True:
        try:
            return aggregate(topic, partition, messages, watermark_ms, now_ms, limits, aside)
        except PoisonMessage as poison:
            if poison.offset in aside:
                raise  # setting it aside failed too: a bug outside any one message
            log.error(
                "%s[%d] offset %d set aside as a dead letter (internal): %s",
                topic,
                partition,
                poison.offset,
                poison.__cause__,
                exc_info=poison.__cause__,
            )
            aside[poison.offset] = str(poison)[:DETAIL_KEEP]


@dataclass(frozen=True)
class ClickColumns:
    """Click events as columns of codes, in offset order: an offline source (the simulator's arrays),
    one event per record and no broker times, as the offline replay sends them."""

    ts: np.ndarray  # event time, ms
    platform: np.ndarray  # index into `platforms`
    province: np.ndarray
    section: np.ndarray
    action: np.ndarray
    platforms: Sequence[str]
    provinces: Sequence[str]
    sections: Sequence[str]
    actions: Sequence[str]


@dataclass(frozen=True)
class ClickFold:
    clicks: list[ClickRow]
    watermark_ms: int
    events: int  # valid events, late ones included (RateBatch.events)
    late: int


def fold_clicks(cols: ClickColumns, watermark_ms: int, now_ms: int, limits: Limits) -> ClickFold:
    """The click rows, watermark and event counts that `aggregate` makes of the same clicks, in a
    few array operations: offline replays fold weeks of simulated clicks, and decoding each message
    again was half their time. The events must be ones the decoder accepts (the simulator's are, by
    construction): its field checks are not repeated. Same rules: events outside the time bounds are
    refused, the watermark
    is the running maximum of event times, an event older than it minus the lateness is late, and
    rows come in the order of their first event (tests/streams/test_fold_clicks.py holds the two
    folds to identical rows on simulated traffic and on hand-made edge cases)."""
    ts = np.asarray(cols.ts, dtype=np.int64)
    valid = np.flatnonzero((ts <= now_ms + limits.max_future_ms) & (ts >= EARLIEST_EVENT_MS))
    ts = ts[valid]
    if ts.size == 0:
        return ClickFold([], watermark_ms, 0, 0)
    running = np.maximum(np.maximum.accumulate(ts), watermark_ms)
    on_time = ts >= running - limits.allowed_lateness_ms
    keep = valid[on_time]
    minute = ts[on_time] // 60_000 * 60
    plat, prov = cols.platform[keep].astype(np.int64), cols.province[keep].astype(np.int64)
    sec, act = cols.section[keep].astype(np.int64), cols.action[keep].astype(np.int64)
    rows: list[ClickRow] = []
    if minute.size:
        P, V, S, A = len(cols.platforms), len(cols.provinces), len(cols.sections), len(cols.actions)
        key = (((((minute - minute.min()) // 60) * P + plat) * V + prov) * S + sec) * A + act
        _, first, counts = np.unique(key, return_index=True, return_counts=True)
        order = np.argsort(first, kind="stable")
        at, n = first[order], counts[order].tolist()
        pl, pv, sc, ac = cols.platforms, cols.provinces, cols.sections, cols.actions
        rows = [
            ClickRow(minute=m, platform=pl[p], province=pv[v], section=sc[s], action=ac[a], clicks=c)
            for m, p, v, s, a, c in zip(
                minute[at].tolist(),
                plat[at].tolist(),
                prov[at].tolist(),
                sec[at].tolist(),
                act[at].tolist(),
                n,
                strict=True,
            )
        ]
    return ClickFold(rows, int(running[-1]), int(ts.size), int(ts.size - minute.size))


def _session_row(key: tuple[int, str, str], v: list[float]) -> SessionRow:
    """A sessions accumulator ([started, ended, heartbeats, *duration buckets, seconds]) as its row."""
    minute, platform, province = key
    return SessionRow(
        minute=minute,
        platform=platform,
        province=province,
        started=int(v[0]),
        ended=int(v[1]),
        heartbeats=int(v[2]),
        d_lt_1m=int(v[3]),
        d_1_5m=int(v[4]),
        d_5_15m=int(v[5]),
        d_15_30m=int(v[6]),
        d_30_60m=int(v[7]),
        d_ge_60m=int(v[8]),
        duration_s=float(v[-1]),
    )


def _by_index(r: Refusal) -> int:
    return r.index


def _letter(
    dead: list[DeadLetter],
    rejects: Counter[str],
    offset: int,
    refused: list[Refusal],
    units: int,
    raw: bytes | None,
    broker_ms: int,
) -> None:
    for r in refused:
        rejects[r.reason] += 1
    dead.append(DeadLetter(offset, refused, units, raw, broker_ms))
