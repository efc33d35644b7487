"""Range -> rollup choice (`sinks/rollups.py`): pieces tile the range, and on both engines the sums
read through days, hours and minutes equal the same sums over the minute table alone."""

from __future__ import annotations

import random
from typing import Any

from sinks import queries, rollups
from sinks.migrate import migrate
from tests.sinks import fixture_data as fx

T, M, H, D = fx.T, fx.M, fx.H, fx.D


def test_split_tiles_the_range_with_the_coarsest_pieces() -> None:
    start, end = T - 90 * M - 17, T + 30 * D + 5 * H + 7 * M
    pieces = rollups.split(start, end)
    assert [g for g, _, _ in pieces] == ["minute", "hour", "day", "hour", "minute"]
    assert pieces[0][1] == start and pieces[-1][2] == end
    assert all(a < b for _, a, b in pieces) and all(p[2] == q[1] for p, q in zip(pieces, pieces[1:], strict=False))
    day = pieces[2]
    assert (day[1], day[2]) == (T, T + 30 * D)  # Beijing midnights
    assert rollups.split(T + 5 * M, T + 50 * M) == [("minute", T + 5 * M, T + 50 * M)]
    assert rollups.split(T, T + 3 * H) == [("hour", T, T + 3 * H)]
    assert rollups.split(T, T + 2 * D, coarsest="hour") == [("hour", T, T + 2 * D)]
    for _ in range(200):  # random ranges: contiguous, every piece aligned to its grain
        a = T + random.randrange(-5 * D, 5 * D)
        b = a + random.randrange(1, 40 * D)
        ps = rollups.split(a, b)
        assert ps[0][1] == a and ps[-1][2] == b
        for g, x, y in ps:
            if g != "minute":
                assert rollups.bucket(x, rollups.STEP[g]) == x and rollups.bucket(y, rollups.STEP[g]) == y


def test_rollup_sums_equal_minute_sums_on_both_engines(engine_store: Any) -> None:
    migrate(engine_store)
    fx.load(engine_store)
    run = lambda name, **p: queries.run(engine_store, name, **p)
    for start, end in [
        (T - D, T + 2 * D),
        (T - 7 * M, T + D + 3 * H),
        (T + 8 * H, T + 9 * H + 31 * M),
        (T - 3 * D + 13, T + 5 * D - 11),
        (T, T + D),
    ]:
        for f in ({}, {"platform": "k12"}, {"province": "110000"}):
            assert rollups.total(run, start, end, **f) == int(
                run("total_between", start=start, end=end, **f)[0][0] or 0
            )
            for by in rollups.BY:
                direct = {str(c): int(n) for c, n in run(f"total_by_{by}", start=start, end=end, **f)}
                assert rollups.total_by(run, by, start, end, **f) == direct
            for step in (60, H, 3 * H, D):
                if step == D:  # minute buckets re-bucketed into Beijing days
                    want: dict[int, int] = {}
                    for ts, n in run("series", start=start, end=end, step=60, **f):
                        k = rollups.bucket(int(ts), D)
                        want[k] = want.get(k, 0) + int(n)
                    assert rollups.series(run, start, end, step, **f) == sorted(want.items())
                else:
                    direct_series = [(int(ts), int(n)) for ts, n in run("series", start=start, end=end, step=step, **f)]
                    assert rollups.series(run, start, end, step, **f) == direct_series
