"""Offline replay: a scenario through the worker's aggregation and the alert engine, no Kafka.

    edu-alerts replay SCENARIO --scale 0.01 --seed 3 [--days N] [--quiet] [--through-worker]

Why it exists: detector changes are judged on whole terms of simulated traffic (weeks of closures,
weekends, reopenings), and a pipeline run of that takes hours. The generator's clicks are cut in
runs of about a minute of arrival time, as a worker folds a fetch, folded into rate rows, and the
rows go to `AlertEngine.ingest` with the run's watermark, as the alerting service does with one
partition. Session messages are not generated: the alerts read only the clicks rates.

The fold is `streams.aggregate.fold_clicks`, the worker's click rules on the generator's columns;
`through_worker` renders every click message to its wire bytes and folds it with the worker's own
`aggregate` instead (about twice the time; tests/alerts/test_replay.py holds both to the same
state changes, tests/streams/test_fold_clicks.py to the same rows).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from alerts.engine import AlertEngine, EngineConfig
from alerts.service import engine_config
from contracts.alerts import StateChange
from contracts.calendar import SchoolCalendar
from contracts.geo import ACTIONS, PROVINCE_CODES
from contracts.settings import Settings
from simulators.generator import _CLICK, Generator
from simulators.model import PLATFORM_NAMES, SECTION_NAMES
from simulators.scenario import Scenario, load_scenario
from streams.aggregate import ClickColumns, Limits, aggregate, fold_clicks

RUN_MS = 60_000  # arrival time folded into one rate batch


@dataclass
class ReplayResult:
    changes: list[StateChange] = field(default_factory=list)
    events: int = 0
    late_rows: int = 0
    seconds: float = 0.0


def click_messages(gen: Generator) -> Iterator[tuple[int, int, bytes]]:
    """(arrival ms, last event ms, wire bytes) of each click message, in the generator's send order.

    Only click rows are rendered (with the generator's own templates, so the bytes are those
    `Generator.messages` sends); rendering session events the alerts never read took half the time.
    """
    t = gen._templates()
    for sel, bounds in gen._blocks():
        n = int(bounds[-1])
        starts, sizes = bounds[:-1], np.diff(bounds)
        seq0 = gen._seq
        gen._seq += n
        click = sel["kind"][starts] == _CLICK
        if not click.any():
            continue
        rows = np.flatnonzero(np.repeat(click, sizes))
        strs = gen._render(sel, rows, seq0 + rows, t)
        at = sel["at"][starts[click]].tolist()
        c_sizes = sizes[click].tolist()
        ends = np.cumsum(sizes[click])
        last_ts = sel["ts"][rows][ends - 1].tolist()
        pos = 0
        for j, size in enumerate(c_sizes):
            value = strs[pos] if size == 1 else "[" + ",".join(strs[pos : pos + size]) + "]"
            pos += size
            yield at[j], last_ts[j], value.encode()


def click_columns(gen: Generator) -> Iterator[tuple[np.ndarray, ClickColumns]]:
    """(arrival ms, clicks) of each of the generator's blocks, in its send order, as codes."""
    for sel, _bounds in gen._blocks():
        click = np.flatnonzero(sel["kind"] == _CLICK)
        if click.size == 0:
            continue
        yield (
            sel["at"][click],
            ClickColumns(
                ts=sel["ts"][click],
                platform=sel["plat"][click],
                province=sel["prov"][click],
                section=gen._res_section_arr[sel["res"][click]],
                action=sel["action"][click],
                platforms=PLATFORM_NAMES,
                provinces=PROVINCE_CODES,
                sections=SECTION_NAMES,
                actions=ACTIONS,
            ),
        )


_ARRAYS = ("ts", "platform", "province", "section", "action")


def _cut(cols: ClickColumns, lo: int, hi: int | None = None) -> ClickColumns:
    return dataclasses.replace(cols, **{a: getattr(cols, a)[lo:hi] for a in _ARRAYS})


def _join(a: ClickColumns, b: ClickColumns) -> ClickColumns:
    joined: dict[str, Any] = {n: np.concatenate([getattr(a, n), getattr(b, n)]) for n in _ARRAYS}
    return dataclasses.replace(a, **joined)


def column_runs(gen: Generator) -> Iterator[tuple[int, ClickColumns]]:
    """(run end ms, clicks) of each run of `RUN_MS` arrival time, cut where `replay`'s message loop
    cuts: a run starts at the first click arriving at or after the previous run's end."""
    run_end: int | None = None
    held: tuple[np.ndarray, ClickColumns] | None = None
    for at, cols in click_columns(gen):
        if held is not None:
            at, cols = np.concatenate([held[0], at]), _join(held[1], cols)
        start = 0
        while True:
            if run_end is None:
                run_end = int(at[start]) + RUN_MS
            j = int(np.searchsorted(at, run_end, side="left"))
            if j >= at.size:
                held = at[start:], _cut(cols, start)
                break
            yield run_end, _cut(cols, start, j)
            run_end, start = int(at[j]) + RUN_MS, j
    if held is not None and held[0].size and run_end is not None:
        yield run_end, held[1]


def replay(
    scenario: Scenario | str,
    *,
    scale: float | None = None,
    seed: int = 1,
    days: float | None = None,
    config: EngineConfig | None = None,
    on_change: Callable[[StateChange], None] | None = None,
    settings: Settings | None = None,
    provinces: Iterable[str] | None = None,
    through_worker: bool = False,
    announced: bool = True,
) -> ReplayResult:
    """Run the scenario (optionally only its first `days`) and return every state change;
    `provinces` limits the series judged (all by default; fewer make a quick test). `announced`:
    the engine's calendar knows the scenario's holidays (`Scenario.calendar`), as a deployment's
    settings name the year's public holidays; False judges them as days nobody announced."""
    sc = load_scenario(scenario) if isinstance(scenario, str) else scenario
    s = settings or Settings()
    end_ms = sc.end_ms if days is None else min(sc.end_ms, sc.start_ms + int(days * 86_400_000))
    gen = Generator(sc, seed=seed, scale=scale, end_ms=end_ms)
    cfg = config or engine_config(s)  # the service's rules and knobs
    # the scenario's own world: the days the settings name and its holidays, never the official
    # calendar (a generated term has only the holidays its file lists)
    base = config.calendar if config else SchoolCalendar.parse(s.calendar_rest_days, s.calendar_school_days)
    cfg = dataclasses.replace(cfg, calendar=base.merged(sc.calendar()) if announced else base)
    out = ReplayResult()

    def changed(ch: StateChange) -> None:
        out.changes.append(ch)
        if on_change is not None:
            on_change(ch)

    engine = AlertEngine(cfg, on_change=changed, provinces=PROVINCE_CODES if provinces is None else provinces)
    limits = Limits.from_settings(s)
    t0 = time.perf_counter()
    if not through_worker and fits_one_record(sc, limits):
        wm = 0
        for run_end_ms, cols in column_runs(gen):
            folded = fold_clicks(cols, wm, run_end_ms, limits)
            wm = folded.watermark_ms
            out.events += folded.events
            engine.ingest(folded.clicks)
            engine.advance(wm / 1000.0)
        return _finish(out, engine, end_ms, cfg, t0)
    run: list[tuple[int, bytes]] = []
    run_end = None
    wm = 0
    offset = 0

    def fold(now_ms: int) -> None:
        nonlocal wm, run
        agg = aggregate("clicks", 0, run, wm, now_ms, limits)
        wm = agg.batch.watermark_ms
        out.events += agg.batch.events
        engine.ingest(agg.batch.clicks)
        engine.advance(wm / 1000.0)
        run = []

    for at, _ts, value in click_messages(gen):
        if run_end is None:
            run_end = at + RUN_MS
        elif at >= run_end:
            fold(run_end)
            run_end = at + RUN_MS
        run.append((offset, value))
        offset += 1
    if run:
        fold(run_end or 0)
    return _finish(out, engine, end_ms, cfg, t0)


def fits_one_record(sc: Scenario, limits: Limits) -> bool:
    """Whether every message of the scenario passes the decoder's size limits, as `fold_clicks`
    assumes (a click renders to under 400 bytes); if not, only the worker's own fold is faithful."""
    return sc.model.max_batch <= limits.max_events and sc.model.max_batch * 400 <= limits.max_bytes


def _finish(out: ReplayResult, engine: AlertEngine, end_ms: int, cfg: EngineConfig, t0: float) -> ReplayResult:
    engine.advance(end_ms / 1000.0 + cfg.lateness_s + 60)  # the end of the scenario closes its minutes
    out.late_rows = engine.late_rows
    out.seconds = time.perf_counter() - t0
    return out


def describe(ch: StateChange) -> str:
    """One line per state change: Beijing time, rule, old -> new, labels, summary."""
    when = time.strftime("%Y-%m-%d %a %H:%M", time.gmtime(ch.at + 8 * 3600))
    labels = ",".join(f"{k}={v}" for k, v in sorted(ch.labels.items()) if k not in ("alertname", "severity"))
    summary = ch.annotations.get("summary", "")
    return f"{when} {ch.alertname:<15} {ch.old_state.value:>8} -> {ch.new_state.value:<8} {labels}  {summary}"
