"""Aggregation rules, driven as plain functions: minutes, lateness, dead letters."""
from __future__ import annotations

from contracts.events import Click, encode
from streams.aggregate import Limits, aggregate

LIMITS = Limits(max_bytes=262_144, max_events=1000, allowed_lateness_ms=300_000, max_future_ms=600_000)
T0 = 1_647_216_000_000  # 2022-03-14T00:00:00Z, a minute boundary
NOW = T0 + 86_400_000


def click(i: int, ts: int, province: str = "210000", platform: str = "k12") -> Click:
    return Click(id=f"e{i}", ts=ts, platform=platform, province=province, user="u", session="s",
                 resource="r", section="lessons")


def test_counts_per_minute_and_key() -> None:
    msgs = [(0, encode(click(0, T0))), (1, encode([click(1, T0 + 59_999), click(2, T0 + 60_000)])),
            (2, encode(click(3, T0 + 1, province="370000")))]
    out = aggregate("clicks", 3, msgs, 0, NOW, LIMITS).batch
    assert (out.first_offset, out.last_offset, out.events) == (0, 2, 4)
    got = {(m, pr): n for m, _pl, pr, _s, _a, n in out.clicks}
    assert got == {(T0 // 1000, "210000"): 2, (T0 // 1000 + 60, "210000"): 1, (T0 // 1000, "370000"): 1}
    assert out.watermark_ms == T0 + 60_000


def test_late_event_counted_apart_and_within_lateness_counted() -> None:
    wm = T0 + 3_600_000
    msgs = [(10, encode(click(0, wm - 299_000))), (11, encode(click(1, wm - 301_000)))]
    out = aggregate("clicks", 0, msgs, wm, NOW, LIMITS).batch
    assert sum(r[-1] for r in out.clicks) == 1
    assert out.late == [((wm - 301_000) // 60_000 * 60, "k12", "210000", 1)]
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
        return Session(id=f"s{i}", ts=ts, platform="higher", province="abroad", country="SG", user=f"u{i}",
                       session=f"x{i}", kind=kind, duration_s=duration)

    c_play = Click(id="p", ts=T0 + 5_000, platform="k12", province="210000", user="u1", session="s1",
                   resource="r9", section="lessons", action="play")
    msgs = [(0, encode([click(0, T0), click(1, T0 + 11_000), c_play])),
            (1, encode([sess(1, T0, "start"), sess(1, T0 + 30_000, "heartbeat", 30),
                        sess(1, T0 + 59_000, "end", 59), sess(2, T0 + 1_000, "end", 4000)]))]
    out = aggregate("mixed", 0, msgs, 0, NOW, LIMITS).batch
    m = T0 // 1000
    assert sorted(out.tiles) == [(m, "k12", 2), (m + 10, "k12", 1)]
    assert sorted(out.resources) == [(m, "k12", "r", "lessons", 2, 0, 0), (m, "k12", "r9", "lessons", 0, 1, 0)]
    assert sorted(out.visitors) == [(m, "higher", "abroad", "u1", "x1"), (m, "higher", "abroad", "u2", "x2"),
                                    (m, "k12", "210000", "u", "s"), (m, "k12", "210000", "u1", "s1")]
    assert out.countries == [(m, "higher", "SG", 4)]
    # started, ended, heartbeats, <1m, 1-5m, 5-15m, 15-30m, 30-60m, >=60m, duration sum
    assert out.sessions == [(m, "higher", "abroad", 1, 2, 1, 1, 0, 0, 0, 0, 1, 4059.0)]
