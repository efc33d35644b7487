"""`run --processes N`: one run sent by N processes, each a disjoint share of the same seeded stream.

Why processes: a sender is Python under one GIL (~100,000 events/s per core). Every process runs
the same seeded generator and sends only the sessions with id % N == k, so the union is exactly the
one-process stream, each session stays in order in its partition, and all pace on one shared
schedule from a common start. Ground truth is counted per process and merged.

The parent shows the combined progress (children write their counters to shared memory), forwards
Ctrl-C / SIGTERM to the children, which stop cleanly and flush, and prints one combined summary.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import queue
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any

from contracts.settings import load_settings
from simulators.pacing import RateProfile, Schedule
from simulators.runner import FileSink, KafkaSink, Progress, RunSummary, SendLoop
from simulators.truth import GroundTruth

_FIELDS = 5  # per child in the shared progress array: events, messages, errors, last event ts, elapsed


@dataclass(frozen=True)
class RunSpec:
    """Everything a child needs to rebuild its share of the run (picklable)."""

    scenario: str
    seed: int
    rate: str | None = None  # RateProfile.parse text; None with `speed` (live) or flat out
    speed: float | None = None  # live: pace by event time at this speed
    count: int | None = None
    duration_s: float | None = None
    start_ms: int | None = None
    end_ms: int | None = None
    gen_rate: float | None = None  # events/s of event time (live mode)
    bootstrap: str | None = None
    producer: tuple[tuple[str, Any], ...] = ()  # KafkaProducer overrides
    topics: tuple[str, str] | None = None  # (clicks, sessions) overrides
    out: str | None = None  # NDJSON path pattern with {part} instead of Kafka
    truth: bool = False
    client_flush_s: float | None = None  # SDK flush interval override for every device

    @classmethod
    def live(cls, rate: float, duration_s: float | None = None, *, now_ms: int | None = None, **kw: Any) -> RunSpec:
        """`run --live`: event times follow the wall clock from `now_ms`, about `rate` events/s
        arriving from the first second (SDK buffers start full)."""
        now = int(time.time() * 1000) if now_ms is None else now_ms
        # Without a duration a live run goes on until Ctrl-C: give it a year of event time.
        end = now + (int(duration_s * 1000) + 60_000 if duration_s else 366 * 86_400_000)
        return cls(speed=1.0, start_ms=now, end_ms=end, gen_rate=float(rate), duration_s=duration_s, **kw)

    def settings(self) -> Any:
        kw: dict[str, Any] = {}
        if self.bootstrap:
            kw["kafka_bootstrap"] = self.bootstrap
        if self.topics:
            kw["topic_clicks"], kw["topic_sessions"] = self.topics
        return load_settings(**kw)

    def schedule(self) -> Schedule | None:
        if self.speed is not None:
            nominal = RateProfile.constant(self.gen_rate * self.speed) if self.gen_rate else None
            return Schedule(speed=self.speed, nominal=nominal)
        return Schedule(RateProfile.parse(self.rate)) if self.rate else None

    def messages(self, share: int, shares: int) -> Any:
        from simulators.generator import Generator
        from simulators.scenario import load_scenario, with_client_flush

        sc = load_scenario(self.scenario)
        if self.client_flush_s is not None:
            sc = with_client_flush(sc, self.client_flush_s)
        # a live run (paced by event time at a given rate) joins a running platform: SDK buffers full
        live = self.speed is not None and self.gen_rate is not None
        end_ms = self.end_ms
        if end_ms is None and self.count is None and self.rate and self.duration_s:
            # `--rate R --duration D` runs for D: past the scenario's end (its last state holds), as
            # a count does, instead of stopping when a small scenario runs out (2.9 s at 100k/s)
            end_ms = sc.start_ms + 366 * 86_400_000
        gen = Generator(
            sc,
            seed=self.seed,
            start_ms=self.start_ms,
            end_ms=end_ms,
            count=self.count,
            rate=self.gen_rate,
            full_buffers=live,
        )
        return gen.messages(share, shares)


def run_share(
    spec: RunSpec,
    share: int,
    shares: int,
    *,
    on_progress: Callable[[Progress], None] | None = None,
    start_gate: Callable[[], float] | None = None,
    stop_holder: list[SendLoop] | None = None,
) -> tuple[RunSummary, GroundTruth | None]:
    """Send one share in this process (the whole run when shares == 1)."""
    if spec.out:
        sink: Any = FileSink(spec.out.format(part=share))
    else:
        sink = KafkaSink(spec.settings(), **dict(spec.producer))
    truth = GroundTruth() if spec.truth else None
    loop = SendLoop(
        sink, spec.schedule(), truth=truth, duration_s=spec.duration_s, on_progress=on_progress, start_gate=start_gate
    )
    if stop_holder is not None:
        stop_holder.append(loop)
    return loop.run_messages(spec.messages(share, shares)), truth


def _child(
    spec: RunSpec, share: int, shares: int, counters: Any, ready: Any, go: Any, start_at: Any, results: Any
) -> None:
    loops: list[SendLoop] = []
    stopped = [False]

    def stop(*_: object) -> None:
        stopped[0] = True
        for loop in loops:
            loop.stop()

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    base = share * _FIELDS

    def progress(p: Progress) -> None:
        counters[base : base + _FIELDS] = [p.events, p.messages, p.errors, p.event_ts or 0, p.elapsed_s]

    def gate() -> float:
        ready.release()
        go.wait()
        if stopped[0]:
            for loop in loops:
                loop.stop()
        return start_at.value

    try:
        summary, truth = run_share(spec, share, shares, on_progress=progress, start_gate=gate, stop_holder=loops)
        progress(
            Progress(
                summary.elapsed_s,
                summary.events,
                summary.messages,
                None,
                0.0,
                summary.last_event_ts,
                summary.delivery_errors,
            )
        )
        results.put((share, summary.as_dict(), truth._as_dict() if truth is not None else None, None))
    except BaseException as err:
        ready.release()
        results.put((share, None, None, f"{type(err).__name__}: {err}"))


@dataclass
class ParallelResult:
    summary: RunSummary
    truth: GroundTruth | None
    per_process: list[RunSummary]
    failures: list[str]


def run_parallel(
    spec: RunSpec,
    processes: int,
    *,
    on_progress: Callable[[Progress], None] | None = None,
    progress_every_s: float = 0.25,
    start_timeout_s: float = 120.0,
) -> ParallelResult:
    """Run `spec` in `processes` child processes; combined summary, merged truth.

    Ctrl-C (SIGINT) or SIGTERM to this process is forwarded to the children: they stop sending,
    flush what they handed to Kafka and report, and the combined summary says `interrupted`.
    """
    ctx = mp.get_context("spawn")  # no fork of a process that may hold threads (display, producer)
    counters = ctx.Array("d", processes * _FIELDS, lock=False)
    ready = ctx.Semaphore(0)
    go = ctx.Event()
    start_at = ctx.Value("d", 0.0, lock=False)
    results = ctx.Queue()
    procs = [
        ctx.Process(
            target=_child,
            args=(spec, k, processes, counters, ready, go, start_at, results),
            name=f"edu-simulate-{k}",
            daemon=True,
        )
        for k in range(processes)
    ]
    interrupted = [False]

    def forward(signum: int, _frame: object) -> None:
        interrupted[0] = True
        for p in procs:
            if p.pid is not None and p.is_alive():
                os.kill(p.pid, signal.SIGTERM)
        if not go.is_set():  # stopped before the start: release the children with a sane start time
            start_at.value = time.monotonic()
            go.set()

    old = {s: signal.signal(s, forward) for s in (signal.SIGINT, signal.SIGTERM)}
    got: dict[int, tuple[Any, Any, Any]] = {}
    t0 = time.monotonic()
    try:
        for p in procs:
            p.start()
        deadline = time.monotonic() + start_timeout_s
        for _ in procs:  # every child has its producer up and its first message ready
            while not ready.acquire(timeout=0.1):
                if interrupted[0] or time.monotonic() > deadline or not all(p.is_alive() for p in procs):
                    break
        if not go.is_set():
            start_at.value = time.monotonic() + 0.02
            go.set()
        t0 = start_at.value
        schedule = spec.schedule()
        next_progress = 0.0
        while len(got) < processes:
            try:
                share, summary, truth, error = results.get(timeout=progress_every_s / 2)
                got[share] = (summary, truth, error)
            except queue.Empty:
                if not any(p.is_alive() for p in procs) and results.empty():
                    break
            now = time.monotonic() - t0
            if on_progress is not None and now >= next_progress:
                next_progress = now + progress_every_s
                on_progress(_combined_progress(counters, processes, now, schedule))
        for p in procs:
            p.join(timeout=30)
    finally:
        for s, h in old.items():
            signal.signal(s, h)
        for p in procs:
            if p.is_alive():
                p.kill()
    wall = time.monotonic() - t0
    return _combine(spec, got, processes, wall, interrupted[0])


def _combined_progress(counters: Any, n: int, elapsed: float, schedule: Schedule | None) -> Progress:
    c = list(counters)
    events = int(sum(c[k * _FIELDS] for k in range(n)))
    messages = int(sum(c[k * _FIELDS + 1] for k in range(n)))
    errors = int(sum(c[k * _FIELDS + 2] for k in range(n)))
    ts = int(max(c[k * _FIELDS + 3] for k in range(n))) or None
    target = schedule.expected(elapsed) if schedule is not None else None
    return Progress(elapsed, events, messages, target, events / elapsed if elapsed > 0 else 0.0, ts, errors)


def _combine(
    spec: RunSpec, got: dict[int, tuple[Any, Any, Any]], processes: int, wall: float, interrupted: bool
) -> ParallelResult:
    names = {f.name for f in fields(RunSummary)}
    per = [RunSummary(**{k: v for k, v in s.items() if k in names}) for s, _, _ in got.values() if s is not None]
    failures = [f"process {k}: {e}" for k, (_, _, e) in sorted(got.items()) if e]
    if not interrupted:  # a child stopped by Ctrl-C before it had started has nothing to report
        failures += [f"process {k}: exited without a result" for k in range(processes) if k not in got]
    s = RunSummary()
    s.events = sum(p.events for p in per)
    s.messages = sum(p.messages for p in per)
    # rates over the sending time (as one process reports it); wall also counts start-up hand-over,
    # the final flush and the children's exit
    s.elapsed_s = max((p.elapsed_s for p in per), default=wall)
    s.achieved_rate = s.events / s.elapsed_s if s.elapsed_s > 0 else 0.0
    s.max_lag_s = max((p.max_lag_s for p in per), default=0.0)
    s.late_batches = sum(p.late_batches for p in per)
    s.delivery_errors = sum(p.delivery_errors for p in per)
    s.interrupted = interrupted or any(p.interrupted for p in per) or bool(failures)
    firsts = [p.first_event_ts for p in per if p.first_event_ts is not None]
    lasts = [p.last_event_ts for p in per if p.last_event_ts is not None]
    s.first_event_ts, s.last_event_ts = (min(firsts) if firsts else None), (max(lasts) if lasts else None)
    s.sink = {
        "messages": sum(p.sink.get("messages", 0) for p in per),
        "bytes": sum(p.sink.get("bytes", 0) for p in per),
        "errors": s.delivery_errors,
        "error_samples": [e for p in per for e in p.sink.get("error_samples", [])][:5] + failures,
        "processes": processes,
        "wall_s": wall,
    }
    s.compare_to_schedule(spec.schedule())
    truth = None
    if spec.truth:
        truth = GroundTruth()
        for _, t, _ in got.values():
            if t is not None:
                truth.merge(GroundTruth.from_dict(t))
    return ParallelResult(s, truth, per, failures)
