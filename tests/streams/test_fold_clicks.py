"""`fold_clicks` (the offline replay's fold on columns) against `aggregate` (the worker's, on wire bytes).

Both must give the same click rows in the same order, the same watermark, the same event count and
the same late events: on hand-made edge cases, on seeded random disorder, and on simulated traffic.
"""

from __future__ import annotations

import numpy as np
import pytest

from contracts.events import ABROAD, EARLIEST_EVENT_MS, Click, encode
from contracts.geo import ACTIONS, PROVINCE_CODES
from simulators.model import PLATFORM_NAMES, SECTION_NAMES
from streams.aggregate import ClickColumns, Limits, aggregate, fold_clicks

LIMITS = Limits(max_bytes=262_144, max_events=1000, allowed_lateness_ms=300_000, max_future_ms=600_000)
T0 = 1_647_216_000_000  # 2022-03-14T00:00:00Z


def columns(ts: list[int], codes: list[tuple[int, int, int, int]]) -> ClickColumns:
    c = np.array(codes, dtype=np.int64).reshape(-1, 4)
    return ClickColumns(
        np.array(ts, dtype=np.int64), c[:, 0], c[:, 1], c[:, 2], c[:, 3],
        PLATFORM_NAMES, PROVINCE_CODES, SECTION_NAMES, ACTIONS,
    )  # fmt: skip


def both(ts: list[int], codes: list[tuple[int, int, int, int]], wm: int, now: int) -> None:
    """Fold the same clicks both ways (one click per message, as the replay sends) and compare."""
    msgs = []
    for i, (t, (pl, pv, sec, act)) in enumerate(zip(ts, codes, strict=True)):
        province = PROVINCE_CODES[pv]
        ev = Click(
            id=f"e{i}", ts=t, platform=PLATFORM_NAMES[pl], province=province, user="u", session="s",
            resource="r", section=SECTION_NAMES[sec], action=ACTIONS[act],
            country="SG" if province == ABROAD else None,
        )  # fmt: skip
        msgs.append((i, encode(ev)))
    worker = aggregate("clicks", 0, msgs, wm, now, LIMITS).batch
    cols = fold_clicks(columns(ts, codes), wm, now, LIMITS)
    assert cols.clicks == worker.clicks
    assert cols.watermark_ms == worker.watermark_ms
    assert cols.events == worker.events
    assert cols.late == sum(r.events for r in worker.late)


def test_counts_order_and_watermark() -> None:
    ts = [T0 + 5, T0 + 61_000, T0 + 7, T0 + 120_000, T0 + 3]
    codes = [(0, 0, 0, 0), (0, 0, 0, 0), (1, 2, 3, 1), (0, 0, 0, 0), (0, 0, 0, 0)]
    both(ts, codes, 0, T0 + 3_600_000)
    f = fold_clicks(columns(ts, codes), 0, T0 + 3_600_000, LIMITS)
    assert [(r.minute, r.clicks) for r in f.clicks] == [(T0 // 1000, 2), (T0 // 1000 + 60, 1), (T0 // 1000, 1),
                                                         (T0 // 1000 + 120, 1)]  # fmt: skip
    assert f.watermark_ms == T0 + 120_000


def test_late_future_and_absurd_past_events() -> None:
    wm = T0 + 3_600_000
    now = wm + 10_000
    ts = [wm - 299_000, wm - 301_000, now + 600_001, now + 600_000, EARLIEST_EVENT_MS - 1, wm + 400_000, wm + 1]
    both(ts, [(0, 1, 0, 0)] * len(ts), wm, now)
    f = fold_clicks(columns(ts, [(0, 1, 0, 0)] * len(ts)), wm, now, LIMITS)
    assert (f.events, f.late) == (5, 2)  # wm + 1 is late once wm + 400 s moved the watermark


def test_nothing_valid_keeps_the_watermark() -> None:
    both([], [], T0, T0)
    f = fold_clicks(columns([T0 + 10**9], [(0, 0, 0, 0)]), T0, T0, LIMITS)
    assert (f.clicks, f.watermark_ms, f.events, f.late) == ([], T0, 0, 0)


@pytest.mark.parametrize("seed", range(12))
def test_random_disorder(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 400))
    jitter = rng.choice([1_000, 120_000, 900_000, 3_600_000])
    ts = (T0 + np.sort(rng.integers(0, 7_200_000, n)) + rng.integers(-jitter, jitter, n)).tolist()
    codes = [
        (int(a), int(b), int(c), int(d))
        for a, b, c, d in zip(
            rng.integers(0, len(PLATFORM_NAMES), n), rng.integers(0, len(PROVINCE_CODES), n),
            rng.integers(0, len(SECTION_NAMES), n), rng.integers(0, len(ACTIONS), n), strict=True,
        )
    ]  # fmt: skip
    wm = int(rng.choice([0, T0, T0 + 3_600_000]))
    both(ts, codes, wm, T0 + int(rng.integers(0, 7_200_000)))


def test_simulated_traffic_folds_alike_run_by_run() -> None:
    """Ten hours of a term at 1:100 (a night and a school morning), cut in runs as the replay cuts them: identical batches."""
    from alerts.replay import RUN_MS, click_messages, column_runs
    from contracts.settings import Settings
    from simulators.generator import Generator
    from simulators.scenario import load_scenario

    sc = load_scenario("spring-term-closures")
    limits = Limits.from_settings(Settings())
    end = sc.start_ms + 10 * 3_600_000
    worker, run, run_end, wm = [], [], None, 0
    for i, (at, _, value) in enumerate(click_messages(Generator(sc, seed=2, scale=0.01, end_ms=end))):
        if run_end is None:
            run_end = at + RUN_MS
        elif at >= run_end:
            b = aggregate("clicks", 0, run, wm, run_end, limits).batch
            wm, run, run_end = b.watermark_ms, [], at + RUN_MS
            worker.append((b.clicks, wm, b.events))
        run.append((i, value))
    b = aggregate("clicks", 0, run, wm, run_end or 0, limits).batch
    worker.append((b.clicks, b.watermark_ms, b.events))
    cols, wm = [], 0
    for end_ms, c in column_runs(Generator(sc, seed=2, scale=0.01, end_ms=end)):
        f = fold_clicks(c, wm, end_ms, limits)
        wm = f.watermark_ms
        cols.append((f.clicks, wm, f.events))
    assert len(worker) > 500 and sum(len(w[0]) for w in worker) > 20_000
    assert cols == worker
