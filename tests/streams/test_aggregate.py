"""Aggregation rules, driven as plain functions: minutes, lateness, dead letters."""

from __future__ import annotations

from contracts.events import Click, encode
from contracts.rates import CountryRow, LateRow, ResourceRow, SessionRow, TileRow, VisitorRow
from streams.aggregate import Limits, aggregate

LIMITS = Limits(max_bytes=262_144, max_events=1000, allowed_lateness_ms=300_000, max_future_ms=600_000)
T0 = 1_647_216_000_000  # 2022-03-14T00:00:00Z, a minute boundary
NOW = T0 + 86_400_000


def click(i: int, ts: int, province: str = "210000", platform: str = "k12") -> Click:
    return Click(
        id=f"e{i}", ts=ts, platform=platform, province=province, user="u", session="s", resource="r", section="lessons"
    )


def test_counts_per_minute_and_key() -> None:
    msgs = [
        (0, encode(click(0, T0))),
        (1, encode([click(1, T0 + 59_999), click(2, T0 + 60_000)])),
        (2, encode(click(3, T0 + 1, province="370000"))),
    ]
    out = aggregate("clicks", 3, msgs, 0, NOW, LIMITS).batch
    assert (out.first_offset, out.last_offset, out.events) == (0, 2, 4)
    got = {(r.minute, r.province): r.clicks for r in out.clicks}
    assert got == {(T0 // 1000, "210000"): 2, (T0 // 1000 + 60, "210000"): 1, (T0 // 1000, "370000"): 1}
    assert out.watermark_ms == T0 + 60_000


def test_late_event_counted_apart_and_within_lateness_counted() -> None:
    wm = T0 + 3_600_000
    msgs = [(10, encode(click(0, wm - 299_000))), (11, encode(click(1, wm - 301_000)))]
    out = aggregate("clicks", 0, msgs, wm, NOW, LIMITS).batch
    assert sum(r.clicks for r in out.clicks) == 1
    assert out.late == [LateRow((wm - 301_000) // 60_000 * 60, "k12", "210000", 1)]
    assert out.events == 2


def test_bad_input_dead_lettered_with_offsets() -> None:
    msgs = [(5, b"not json"), (6, encode(click(0, NOW + 3_600_000))), (7, encode(click(1, T0)))]
    agg = aggregate("clicks", 1, msgs, 0, NOW, LIMITS)
    assert [(d.offset, d.reason) for d in agg.dead] == [(5, "json"), (6, "time_future")]
    assert agg.batch.rejects == {"json": 1, "time_future": 1}
    assert agg.batch.events == 1


def test_resources_tiles_visitors_countries_and_sessions() -> None:
    from contracts.events import Session

    def sess(i: int, ts: int, kind: str, duration: float = 0.0) -> Session:
        return Session(
            id=f"s{i}",
            ts=ts,
            platform="higher",
            province="abroad",
            country="SG",
            user=f"u{i}",
            session=f"x{i}",
            kind=kind,
            duration_s=duration,
        )

    c_play = Click(
        id="p",
        ts=T0 + 5_000,
        platform="k12",
        province="210000",
        user="u1",
        session="s1",
        resource="r9",
        section="lessons",
        action="play",
    )
    msgs = [
        (0, encode([click(0, T0), click(1, T0 + 11_000), c_play])),
        (
            1,
            encode(
                [
                    sess(1, T0, "start"),
                    sess(1, T0 + 30_000, "heartbeat", 30),
                    sess(1, T0 + 59_000, "end", 59),
                    sess(2, T0 + 1_000, "end", 4000),
                ]
            ),
        ),
    ]
    out = aggregate("mixed", 0, msgs, 0, NOW, LIMITS).batch
    m = T0 // 1000
    assert sorted(out.tiles) == [TileRow(m, "k12", 2), TileRow(m + 10, "k12", 1)]
    assert sorted(out.resources) == [
        ResourceRow(m, "k12", "r", "lessons", views=2, plays=0, downloads=0),
        ResourceRow(m, "k12", "r9", "lessons", views=0, plays=1, downloads=0),
    ]
    assert sorted(out.visitors) == [
        VisitorRow(m, "higher", "abroad", "u1", "x1"),
        VisitorRow(m, "higher", "abroad", "u2", "x2"),
        VisitorRow(m, "k12", "210000", "u", "s"),
        VisitorRow(m, "k12", "210000", "u1", "s1"),
    ]
    assert out.countries == [CountryRow(m, "higher", "SG", 4)]
    assert out.sessions == [
        SessionRow(
            m,
            "higher",
            "abroad",
            started=1,
            ended=2,
            heartbeats=1,
            d_lt_1m=1,
            d_1_5m=0,
            d_5_15m=0,
            d_15_30m=0,
            d_30_60m=0,
            d_ge_60m=1,
            duration_s=4059.0,
        )
    ]


def _reference(messages: list[tuple[int, bytes]], watermark_ms: int) -> dict[str, object]:
    """The fold written plainly, event by event, as the contract states it: the oracle for the
    optimised `aggregate` (whose dict and key handling is tuned for speed)."""
    from collections import Counter

    from contracts.events import ABROAD, Session, check_time, decode_message

    out: dict[str, Counter] = {k: Counter() for k in ("clicks", "late", "tiles", "res", "countries", "sess")}
    visitors: set[tuple] = set()
    wm, events, dead = watermark_ms, 0, []
    for offset, raw in messages:
        evs, refused = decode_message(raw, max_bytes=LIMITS.max_bytes, max_events=LIMITS.max_events)
        dead += [(offset, r.reason) for r in refused]
        for ev in evs:
            bad = check_time(ev, NOW, LIMITS.max_future_ms)
            if bad:
                dead.append((offset, bad))
                continue
            events += 1
            wm = max(wm, ev.ts)
            m = ev.ts // 60_000 * 60
            if ev.ts < wm - LIMITS.allowed_lateness_ms:
                out["late"][(m, ev.platform, ev.province)] += 1
                continue
            visitors.add((m, ev.platform, ev.province, ev.user, ev.session))
            if ev.province == ABROAD:
                out["countries"][(m, ev.platform, ev.country)] += 1
            if isinstance(ev, Session):
                out["sess"][(m, ev.platform, ev.province, ev.kind)] += 1
                continue
            out["clicks"][(m, ev.platform, ev.province, ev.section, ev.action)] += 1
            out["tiles"][(ev.ts // 10_000 * 10, ev.platform)] += 1
            if ev.action != "search":
                out["res"][(m, ev.platform, ev.resource, ev.section, ev.action)] += 1
    return {**out, "visitors": visitors, "wm": wm, "events": events, "dead": dead}


def test_fold_equals_the_plain_reference_on_random_traffic() -> None:
    import random

    from contracts.events import Session

    rng = random.Random(7)
    messages, offset = [], 100
    for _ in range(400):
        batch = []
        for _ in range(rng.choice((1, 1, 3, 20))):
            ts = T0 + rng.randrange(0, 3_600_000)  # an hour of jitter around the watermark: some late
            if rng.random() < 0.01:
                ts = rng.choice((NOW + 3_600_000, 1_000))  # absurd times
            province = rng.choice(("210000", "370000", "abroad"))
            common = dict(
                id=f"e{offset}-{len(batch)}",
                ts=ts,
                platform=rng.choice(("k12", "higher")),
                province=province,
                country="SG" if province == "abroad" else None,
                user=f"u{rng.randrange(50)}",
                session=f"s{rng.randrange(80)}",
            )
            if rng.random() < 0.2:
                batch.append(Session(kind=rng.choice(("start", "heartbeat", "end")), **common))
            else:
                batch.append(
                    Click(
                        resource=f"r{rng.randrange(30)}",
                        section=rng.choice(("lessons", "topic")),
                        action=rng.choice(("view", "play", "download", "search")),
                        **common,
                    )
                )
        messages.append((offset, encode(batch if len(batch) > 1 else batch[0])))
        offset += 1
    messages.insert(50, (offset, b"{broken"))
    want = _reference(messages, T0 + 1_800_000)
    agg = aggregate("clicks", 0, messages, T0 + 1_800_000, NOW, LIMITS)
    got = agg.batch
    assert want["late"] and want["dead"], "the input must exercise lateness and dead letters"
    assert (got.watermark_ms, got.events) == (want["wm"], want["events"])
    assert [(d.offset, d.reason) for d in agg.dead] == want["dead"]
    assert {(r.minute, r.platform, r.province, r.section, r.action): r.clicks for r in got.clicks} == want["clicks"]
    assert {(r.minute, r.platform, r.province): r.events for r in got.late} == want["late"]
    assert {(r.ts, r.platform): r.clicks for r in got.tiles} == want["tiles"]
    assert {(r.minute, r.platform, r.country): r.events for r in got.countries} == want["countries"]
    visitors = {(r.minute, r.platform, r.province, r.user, r.session) for r in got.visitors}
    assert visitors == want["visitors"] and len(got.visitors) == len(want["visitors"])
    res = {}
    for rr in got.resources:
        for action, n in (("view", rr.views), ("play", rr.plays), ("download", rr.downloads)):
            if n:
                res[(rr.minute, rr.platform, rr.resource, rr.section, action)] = n
    assert res == want["res"]
    sess = {}
    for sr in got.sessions:
        for kind, n in (("start", sr.started), ("end", sr.ended), ("heartbeat", sr.heartbeats)):
            if n:
                sess[(sr.minute, sr.platform, sr.province, kind)] = n
    assert sess == want["sess"]


def test_every_field_of_every_rates_row_is_fed() -> None:
    """Traffic of every kind fills every field of every row list with something: a field added to a
    rates row (`contracts/rates.py`) fails here until `aggregate` counts it, instead of travelling
    as its default forever."""
    import typing

    import msgspec

    from contracts.events import Session
    from contracts.rates import RateBatch

    wm = T0 + 400_000

    def sess(i: int, kind: str, duration: float = 0.0, province: str = "210000") -> Session:
        return Session(
            id=f"s{i}",
            ts=wm + i,
            platform="k12",
            province=province,
            country="SG" if province == "abroad" else None,
            user=f"u{i}",
            session=f"x{i}",
            kind=kind,
            duration_s=duration,
        )

    clicks = [
        Click(
            id=f"c{a}{p}",
            ts=wm + 1,
            platform="k12",
            province=p,
            country=c,
            user="u",
            session="s",
            resource="r",
            section="lessons",
            action=a,
        )
        for a in ("view", "play", "download")
        for p, c in (("210000", None), ("abroad", "SG"))
    ]
    ends = [sess(10 + i, "end", d) for i, d in enumerate((30, 120, 600, 1200, 2400, 4000))]
    events = [*clicks, sess(1, "start"), sess(2, "heartbeat"), sess(3, "start", province="abroad"), *ends]
    msgs = [(0, encode(events)), (1, encode(click(99, T0)))]  # the last one is late
    batch = aggregate("mixed", 0, msgs, wm, NOW, LIMITS).batch
    hints = typing.get_type_hints(RateBatch)
    unfed = []
    for f in msgspec.structs.fields(RateBatch):
        if typing.get_origin(hints[f.name]) is not list:
            continue
        rows = getattr(batch, f.name)
        (row_type,) = typing.get_args(hints[f.name])
        unfed += [
            f"{f.name}.{c.name}" for c in msgspec.structs.fields(row_type) if not any(getattr(r, c.name) for r in rows)
        ]
    assert not unfed, f"never counted by streams/aggregate.py: {unfed}"
