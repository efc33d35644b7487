"""`edu-simulate`: run, record and replay simulated traffic (console script; `main()`).

edu-simulate run --rate 20000 --duration 60 --truth truth.json   # open-loop load at 20k events/s
edu-simulate run --rate 2000 --live                              # event times = wall clock
edu-simulate run --rate 100000 --duration 60 --processes 2       # one stream from 2 processes
edu-simulate record --scenario march-2022 --out march.ndjson.gz  # as fast as possible to a file
edu-simulate replay march.ndjson.gz --speed 60                   # history at 60x, event times kept
edu-simulate rehearse march-2022 --speed 36000 --scale 0.01 --target isolated  # played now, see docs/rehearsals.md
edu-simulate scenarios                                           # shipped scenarios; `check FILE`
"""

from __future__ import annotations

import math
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, cast

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from contracts.settings import load_settings
from contracts.topics import available_codecs
from simulators.files import read_messages, write_parquet
from simulators.generator import Generator, generate_batches
from simulators.kafka_out import KafkaUnavailable, ensure_topics
from simulators.pacing import RateProfile, Schedule
from simulators.parallel import RunSpec, run_parallel
from simulators.pipeline_counts import KafkaGroupOffsets, PipelineCounts, Watcher
from simulators.runner import FileSink, KafkaSink, RunSummary, SendLoop
from simulators.runner import Progress as LoopProgress
from simulators.scenario import ScenarioError, load_scenario, scenario_names
from simulators.truth import GroundTruth

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Simulated National Smart Education Platform traffic: run, record, replay.",
)
console = Console(stderr=True)

ScenarioOpt = Annotated[str, typer.Option("--scenario", "-s", help="shipped scenario name or YAML path")]


def finite(above: float | None = None, at_least: float | None = None) -> Callable[[str], float]:
    """An option's parser: a finite number above `above` (or at least `at_least`). Checked here, at the
    edge: nan passes every comparison further down (nan < 1 is false) and inf every lower bound, and
    either then failed deep inside a command with a traceback."""

    def parse(value: str) -> float:
        try:
            x = float(value)
        except (TypeError, ValueError):
            raise typer.BadParameter(f"{value!r} is not a number") from None
        if not math.isfinite(x):
            raise typer.BadParameter(f"{value!r} is not a finite number")
        if above is not None and x <= above:
            raise typer.BadParameter(f"{x:g} must be above {above:g}")
        if at_least is not None and x < at_least:
            raise typer.BadParameter(f"{x:g} must be at least {at_least:g}")
        return x

    return parse


def rate_profile(value: str) -> str:
    """The --rate parser: a profile `RateProfile.parse` takes, refused with its reason (not a traceback)."""
    try:
        RateProfile.parse(value)
    except ValueError as err:
        raise typer.BadParameter(f"{value!r}: {err}") from None
    return value


POSITIVE = finite(above=0)
SeedOpt = Annotated[int | None, typer.Option(min=0, help="random seed (default EDU_SIMULATOR_SEED)")]
CountOpt = Annotated[int | None, typer.Option(min=1, help="stop after this many events")]
ScaleOpt = Annotated[
    float | None, typer.Option(parser=POSITIVE, help="events per real page view (default: the scenario's)")
]
TruthOpt = Annotated[Path | None, typer.Option(help="write ground-truth counts (JSON) of what was sent")]
BootstrapOpt = Annotated[str | None, typer.Option(help="Kafka host:port (default EDU_KAFKA_BOOTSTRAP)")]


def _settings(bootstrap: str | None) -> Any:
    return load_settings(**({"kafka_bootstrap": bootstrap} if bootstrap else {}))


def _scenario(name: str) -> Any:
    try:
        return load_scenario(name)
    except ScenarioError as err:
        console.print(f"[red]scenario error:[/] {err}")
        raise typer.Exit(2) from None


def _kafka_sink(settings: Any, compression: str | None, producer: dict[str, Any] | None = None) -> KafkaSink:
    try:
        ensure_topics(settings)
        overrides = {} if compression is None else {"compression_type": None if compression == "none" else compression}
        return KafkaSink(settings, **{**overrides, **(producer or {})})
    except (KafkaUnavailable, ValueError) as err:
        console.print(f"[red]error:[/] {err}")
        raise typer.Exit(3) from None


class _Display:
    """Rich progress: sent, achieved vs target rate, errors, ETA; updated by the send loop."""

    def __init__(self, total: float | None, label: str, clock_offset_ms: int = 0, clock_label: str = "t") -> None:
        """`clock_offset_ms` is subtracted from event times shown: a rehearsal shows its scenario's clock."""
        self.offset_ms, self.clock_label = clock_offset_ms, clock_label
        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            TaskProgressColumn(),
            TextColumn("{task.fields[info]}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=console,
            transient=False,
        )
        self.task = self.progress.add_task(label, total=total, info="")

    def update(self, p: LoopProgress) -> None:
        target = f" / target {p.target_events / p.elapsed_s:,.0f}" if p.target_events and p.elapsed_s > 0 else ""
        behind = (
            f"  behind {p.target_events - p.events:,.0f}" if p.target_events and p.target_events - p.events > 1 else ""
        )
        when = (
            time.strftime("%Y-%m-%d %H:%M", time.gmtime((p.event_ts - self.offset_ms) / 1000 + 8 * 3600))
            if p.event_ts
            else "-"
        )
        info = f"{p.events:,} ev  {p.rate:,.0f}/s{target}{behind}  err {p.errors}  {self.clock_label}={when}+08"
        self.progress.update(self.task, completed=p.events if self.progress.tasks[0].total else None, info=info)

    def __enter__(self) -> _Display:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()


def _loop(
    sink: Any, schedule: Schedule | None, truth: GroundTruth | None, duration: float | None, display: _Display
) -> SendLoop:
    loop = SendLoop(sink, schedule, truth=truth, duration_s=duration, on_progress=display.update)
    signal.signal(signal.SIGINT, lambda *_: loop.stop())  # Ctrl-C: stop cleanly, flush, summarise
    signal.signal(signal.SIGTERM, lambda *_: loop.stop())
    return loop


def _watcher(settings: Any, out: Path | None) -> Watcher | None:
    """Scrapes the worker's /metrics around a run into Kafka (nothing to watch when writing a file)."""
    if out is not None:
        return None
    topics = (settings.topic_clicks, settings.topic_sessions)
    w = Watcher(
        f"http://127.0.0.1:{settings.worker_metrics_port}/metrics",
        topics,
        settings.rehearsal_settle_s,
        KafkaGroupOffsets(settings.kafka_bootstrap, settings.worker_id, topics),
    )
    if settings.worker_metrics_port:
        w.start()
    else:
        w.error = "the worker's /metrics is disabled (EDU_WORKER_METRICS_PORT=0)"
    return w


def _counts(watcher: Watcher | None, s: RunSummary, failed_events: int = 0) -> PipelineCounts | None:
    if watcher is None:
        return None
    if s.interrupted:  # Ctrl-C, or the launcher stopping the stack: say what is known, do not linger
        watcher.settle_s = min(watcher.settle_s, 5.0)
    if watcher.before is not None:
        console.print(
            f"waiting (up to {watcher.settle_s:.0f} s) for the worker to finish the run "
            "(its committed offsets at the run's end offsets) ..."
        )
    counts = watcher.finish(s.events, s.events - failed_events, s.messages - s.delivery_errors)
    if counts.error is None:
        console.print(
            f"the worker caught up in {counts.waited_s:,.1f} s"
            if counts.caught_up
            else f"[bold yellow]the pipeline had not caught up:[/] {counts.lag()}"
        )
    return counts


def _failed_events(sink: Any) -> int:
    failed = getattr(sink, "failed", None)
    return int(failed.total_events) if failed is not None else 0


def _summary(
    s: RunSummary, truth: GroundTruth | None, truth_path: Path | None, counts: PipelineCounts | None = None
) -> None:
    t = Table(title="edu-simulate summary", show_header=False)
    rows = [
        ("events sent", f"{s.events:,}"),
        ("messages", f"{s.messages:,}"),
        ("elapsed", f"{s.elapsed_s:,.2f} s"),
        ("achieved rate", f"{s.achieved_rate:,.0f} ev/s"),
    ]
    if s.target_rate is not None:
        rows += [
            ("target rate", f"{s.target_rate:,.0f} ev/s"),
            ("rate error", f"{(s.rate_error or 0) * 100:+.2f} %"),
            ("shortfall (due, not sent)", f"{s.shortfall:,.0f} events"),
        ]
    rows += [
        ("max lag behind schedule", f"{s.max_lag_s * 1000:,.1f} ms"),
        ("late batches (>10 ms)", f"{s.late_batches:,}"),
        ("delivery errors", f"{s.delivery_errors:,}"),
        ("interrupted", str(s.interrupted)),
    ]
    if s.first_event_ts:
        fmt = lambda ms: time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ms / 1000 + 8 * 3600)) + "+08"
        rows.append(("event time", f"{fmt(s.first_event_ts)} .. {fmt(s.last_event_ts)}"))
    if counts is not None:
        rows += counts.rows()
    for k, v in rows:
        t.add_row(k, v)
    console.print(t)
    for warning in counts.warnings() if counts is not None else []:
        console.print(f"[bold yellow]warning:[/] {warning}")
    if s.sink.get("error_samples"):
        console.print(f"[red]delivery errors, first ones:[/] {s.sink['error_samples']}")
    if truth is not None and truth_path is not None:
        truth.to_json(truth_path)
        console.print(
            f"ground truth: {truth.total_clicks:,} clicks, {truth.total_sessions:,} session events -> {truth_path}"
        )


def _exit_code(s: RunSummary) -> int:
    return 1 if s.delivery_errors else (130 if s.interrupted else 0)


@app.command()
def run(
    rate: Annotated[
        str | None,
        typer.Option(
            parser=rate_profile,
            help="events/s: 20000, ramp 1000..20000/60, steps 5000:30,10000:30 (default EDU_SIMULATOR_RATE)",
        ),
    ] = None,
    count: CountOpt = None,
    duration: Annotated[float | None, typer.Option(parser=POSITIVE, help="stop after this many seconds")] = None,
    scenario: ScenarioOpt = "school-week",
    truth: TruthOpt = None,
    live: Annotated[
        bool, typer.Option(help="event times follow the wall clock (live demo); else the scenario's own time")
    ] = False,
    seed: SeedOpt = None,
    out: Annotated[
        Path | None,
        typer.Option(
            help="write NDJSON here instead of sending to Kafka (with --processes N: one file per process, NAME.pK.ndjson)"
        ),
    ] = None,
    bootstrap: BootstrapOpt = None,
    compression: Annotated[
        str | None, typer.Option(help="none, gzip, lz4 (if installed); default: lz4 if installed else none")
    ] = None,
    processes: Annotated[
        int,
        typer.Option(
            "--processes",
            "-p",
            min=1,
            help="send from N processes, each a disjoint share (by session) of the same seeded stream; the union is the one-process stream",
        ),
    ] = 1,
    client_flush: Annotated[
        float | None,
        typer.Option(
            parser=POSITIVE,
            help="SDK flush interval in seconds for every device (default: the scenario's, 10-30 s); larger gives fewer, bigger messages, same events",
        ),
    ] = None,
    linger_ms: Annotated[int | None, typer.Option(min=0, help="producer linger.ms (default 20)")] = None,
    batch_kb: Annotated[int | None, typer.Option(min=1, help="producer batch.size in KiB (default 256)")] = None,
    http: Annotated[
        str | None,
        typer.Option(help="send through the collector at this URL (e.g. http://127.0.0.1:8060) instead of to Kafka"),
    ] = None,
    http_connections: Annotated[int, typer.Option(min=1, help="keep-alive connections to the collector (--http)")] = 8,
) -> None:
    """Send simulated traffic at a target rate, open-loop (a shortfall is reported, never hidden)."""
    settings = _settings(bootstrap)
    if http and (processes > 1 or out):
        console.print("[red]error:[/] --http sends from one process and not to a file")
        raise typer.Exit(2)
    _scenario(scenario)  # a bad file fails here, naming the line
    profile = RateProfile.parse(rate) if rate else RateProfile.constant(settings.simulator_rate)
    seed = settings.simulator_seed if seed is None else seed
    producer: dict[str, Any] = {}
    if compression is not None:
        producer["compression_type"] = None if compression == "none" else compression
    if linger_ms is not None:
        producer["linger_ms"] = linger_ms
    if batch_kb is not None:
        producer["batch_size"] = batch_kb * 1024
    if client_flush is not None and client_flush <= 0:
        console.print("[red]error:[/] --client-flush must be > 0")
        raise typer.Exit(2)
    if live and len({r for _, r in profile.points}) > 1:
        # the live generator draws event time at one rate; a ramp would be silently flattened
        console.print("[red]error:[/] --live takes a constant --rate (ramps and steps pace by count, not by the clock)")
        raise typer.Exit(2)
    common: dict[str, Any] = dict(
        scenario=scenario,
        seed=seed,
        count=count,
        bootstrap=bootstrap,
        producer=tuple(producer.items()),
        out=None if out is None else (str(out) if processes == 1 else _part_pattern(out)),
        truth=truth is not None,
        client_flush_s=client_flush,
    )
    if live:
        spec = RunSpec.live(profile.rate_at(0), duration, **common)
    else:
        spec = RunSpec(rate=rate or str(settings.simulator_rate), duration_s=duration, **common)
    total = count or (profile.expected(duration) if duration else None)
    label = ("live" if live else "run") + (f" x{processes} processes" if processes > 1 else "")
    watcher = _watcher(settings, out)
    failed_events = 0
    if processes == 1:
        if http:
            from simulators.http_out import HttpSink

            sink: Any = HttpSink(http, connections=http_connections)
        else:
            sink = FileSink(str(out)) if out else _kafka_sink(settings, compression, producer)
        gt = GroundTruth() if truth else None
        with _Display(total, label) as display:
            loop = _loop(sink, spec.schedule(), gt, duration, display)
            summary = loop.run_messages(spec.messages(0, 1))
        failed_events = _failed_events(sink)
        failures: list[str] = []
    else:
        if out is None:
            _check_kafka(settings, compression)
        with _Display(total, label) as display:
            result = run_parallel(spec, processes, on_progress=display.update)
        summary, gt, failures = result.summary, result.truth, result.failures
    _summary(summary, gt, truth, _counts(watcher, summary, failed_events))
    raise typer.Exit(1 if failures else _exit_code(summary))


def _part_pattern(out: Path) -> str:
    """x.ndjson.gz -> x.p{part}.ndjson.gz (a format pattern, one file per process)."""
    stem, dot, rest = out.name.partition(".")
    return str(out.with_name(f"{stem}.p{{part}}{dot}{rest}"))


def _check_kafka(settings: Any, compression: str | None) -> None:
    """Fail early, in the parent, with the same messages a one-process run gives."""
    try:
        if compression not in (None, "none") and compression not in available_codecs():
            raise ValueError(f"compression {compression!r} unavailable here; usable: {available_codecs() or 'none'}")
        ensure_topics(settings)
    except (KafkaUnavailable, ValueError) as err:
        console.print(f"[red]error:[/] {err}")
        raise typer.Exit(3) from None


@app.command()
def record(
    out: Annotated[Path, typer.Option("--out", "-o", help="file: .ndjson, .ndjson.gz or .parquet")],
    scenario: ScenarioOpt = "school-week",
    seed: SeedOpt = None,
    scale: ScaleOpt = None,
    count: CountOpt = None,
    truth: TruthOpt = None,
) -> None:
    """Generate a scenario as fast as possible into a file (for replays and analysis)."""
    settings = load_settings()
    sc = _scenario(scenario)
    seed = settings.simulator_seed if seed is None else seed
    batches = generate_batches(sc, count=count, seed=seed, scale=scale)
    gt = GroundTruth() if truth else None
    if out.suffix == ".parquet":

        def counted() -> Any:
            for b in batches:
                if gt is not None:
                    gt.add_batch(b)
                yield b

        n = write_parquet(counted(), out)
        console.print(f"{n:,} events -> {out}")
        if gt is not None and truth is not None:
            gt.to_json(truth)
        return
    with _Display(None, "record") as display:
        loop = _loop(FileSink(str(out)), None, gt, None, display)
        summary = loop.run_messages(Generator(sc, count=count, seed=seed, scale=scale).messages())
    _summary(summary, gt, truth)
    raise typer.Exit(_exit_code(summary))


@app.command()
def replay(
    file: Annotated[Path | None, typer.Argument(help="recorded NDJSON(.gz); omit to replay --scenario")] = None,
    speed: Annotated[
        float | None, typer.Option(parser=POSITIVE, help="x real time, following event timestamps")
    ] = None,
    max_speed: Annotated[bool, typer.Option("--max-speed", help="as fast as possible")] = False,
    scenario: Annotated[
        str | None, typer.Option("--scenario", "-s", help="replay a scenario instead of a file")
    ] = None,
    seed: SeedOpt = None,
    count: CountOpt = None,
    scale: Annotated[
        float | None,
        typer.Option(parser=POSITIVE, help="with --scenario: events per real page view (default: the scenario's)"),
    ] = None,
    truth: TruthOpt = None,
    out: Annotated[Path | None, typer.Option(help="write NDJSON here instead of sending to Kafka")] = None,
    bootstrap: BootstrapOpt = None,
    compression: Annotated[str | None, typer.Option(help="none, gzip, lz4 (if installed)")] = None,
) -> None:
    """Replay a recording or a scenario at N x speed (event times stay the recorded ones) or flat out."""
    if (speed is None) == (not max_speed):
        console.print("[red]error:[/] give exactly one of --speed N or --max-speed")
        raise typer.Exit(2)
    if (file is None) == (scenario is None):
        console.print("[red]error:[/] give a FILE or --scenario NAME")
        raise typer.Exit(2)
    if scale is not None and (file is not None or scale <= 0):
        console.print(
            "[red]error:[/] --scale takes a value > 0 and applies to --scenario (a recording's volume is fixed)"
        )
        raise typer.Exit(2)
    settings = _settings(bootstrap)
    schedule = None if max_speed else Schedule(speed=speed)
    sink = FileSink(str(out)) if out else _kafka_sink(settings, compression)
    watcher = _watcher(settings, out)
    gt = GroundTruth() if truth else None
    with _Display(count, f"replay x{speed:g}" if speed else "replay max") as display:
        loop = _loop(sink, schedule, gt, None, display)
        if file is not None:
            if not file.is_file():
                console.print(f"[red]error:[/] {file}: no such file")
                raise typer.Exit(2)
            msgs = read_messages(file)
            if gt is not None:
                msgs = _with_truth(msgs, gt, settings)
                loop.truth = None
            if count is not None:
                msgs = _take_events(msgs, count)
            summary = loop.run_raw(msgs)
            failed = getattr(sink, "failed", None)
            if gt is not None and failed is not None and failed.total_events:
                gt.subtract(failed)
        else:
            sc = _scenario(scenario)  # type: ignore[arg-type]
            seed = settings.simulator_seed if seed is None else seed
            summary = loop.run_messages(Generator(sc, count=count, seed=seed, scale=scale).messages())
    _summary(summary, gt, truth, _counts(watcher, summary, _failed_events(sink)))
    raise typer.Exit(_exit_code(summary))


def _with_truth(msgs: Any, gt: GroundTruth, settings: Any) -> Any:
    from contracts.events import decode_message

    for m in msgs:
        events, rejects = decode_message(m.value, max_bytes=1 << 30, max_events=1 << 30)
        if rejects:
            raise typer.BadParameter(f"line {m.line}: recorded message does not decode: {rejects[0]}")
        gt.add_batch(events)
        yield m


def _take_events(msgs: Any, count: int) -> Any:
    left = count
    for m in msgs:
        if left <= 0:
            return
        left -= m.events
        yield m


@app.command()
def rehearse(
    scenario: Annotated[str, typer.Argument(help="shipped scenario name or YAML path")],
    speed: Annotated[
        float, typer.Option(parser=POSITIVE, help="x real time for the story (after the history, written at once)")
    ] = 3600.0,
    scale: ScaleOpt = None,
    target: Annotated[
        str,
        typer.Option(help="isolated: a namespace of its own; live: the stack's own topics (a stack without traffic)"),
    ] = "isolated",
    history_days: Annotated[
        float | None,
        typer.Option(
            parser=finite(at_least=0), help="baseline days before the scenario (default EDU_REHEARSAL_HISTORY_DAYS)"
        ),
    ] = None,
    from_start: Annotated[
        bool, typer.Option("--from-start", help="pace the whole scenario (default: from the day of its first event)")
    ] = False,
    until: Annotated[
        str | None,
        typer.Option(help="stop at this scenario time (e.g. '2022-03-25 10:30', Beijing) and hold it on screen"),
    ] = None,
    drop: Annotated[
        bool, typer.Option("--drop", help="end the rehearsal when done and drop its data (isolated)")
    ] = False,
    seed: SeedOpt = None,
    bootstrap: BootstrapOpt = None,
) -> None:
    """Play a scenario now: times shifted to the present, history first, the story at xN (docs/rehearsals.md)."""
    import msgspec

    from contracts.rehearsal import Manifest, Target, namespace, read_manifest, write_manifest
    from simulators import rehearse as rh

    if target not in ("live", "isolated"):
        console.print("[red]error:[/] --target is live or isolated")
        raise typer.Exit(2)
    settings = _settings(bootstrap)
    current = read_manifest(settings)
    if isinstance(current, Manifest) and current.status != "ended":
        console.print(
            f"[red]error:[/] rehearsal {current.id} ({current.scenario}) is still on: `edu-simulate rehearse-end` first"
        )
        raise typer.Exit(2)
    sc = _scenario(scenario)
    seed = settings.simulator_seed if seed is None else seed
    days = settings.rehearsal_history_days if history_days is None else history_days
    try:
        p = rh.plan(
            sc,
            speed=speed,
            now_ms=int(time.time() * 1000),
            history_days=days,
            paced_from_ms=sc.start_ms if from_start else None,
            until_ms=None if until is None else rh.parse_when(until),
        )
    except rh.RehearsalError as err:
        console.print(f"[red]error:[/] {err}")
        raise typer.Exit(2) from None
    rid = rh.new_id()
    rest_days, school_days = rh.announced(p.scenario)
    m = Manifest(
        id=rid,
        scenario=sc.name,
        target=cast(Target, target),  # checked above
        speed=speed,
        scale=scale or sc.scale,
        shift_ms=p.shift_ms,
        started_ms=int(time.time() * 1000),
        paced_from_ms=p.paced_from_ms,
        end_ms=p.end_ms,
        rest_days=rest_days,
        school_days=school_days,
    )
    procs: list[Any] = []
    try:
        if target == "live":
            ns = settings
            rh.check_live_clock(settings, p.history_from_ms)
            write_manifest(settings, m)
        else:
            ns = namespace(settings, rid)
            procs = rh.start_isolated(settings, m, settings.data_dir / "logs")
            m = msgspec.structs.replace(m, pids=tuple(pr.pid for pr in procs))
            write_manifest(settings, m)
            rh.wait_ready(settings, m, procs)
    except BaseException as err:
        if procs:  # the rehearsal's own services go with a failed start
            rh.stop_pids(tuple(pr.pid for pr in procs))
        if not isinstance(err, (rh.RehearsalError, KafkaUnavailable)):
            raise
        console.print(f"[red]error:[/] {err}")
        raise typer.Exit(3) from None
    console.print(
        f"rehearsal {rid}: {sc.name} on the {target} stack, scenario time + {p.shift_ms // rh.WEEK_MS} weeks; "
        f"history {rh.fmt_ms(p.history_from_ms)} .. {rh.fmt_ms(p.paced_from_ms)} at full speed, then "
        f"x{speed:g} to {rh.fmt_ms(p.end_ms)} (about {p.paced_wall_s:,.0f} s)"
    )
    if target == "isolated":
        console.print(f"  topics *.{rid}, database {ns.clickhouse_database}; the cockpit shows it at /rehearsal/enter")
    sink = _kafka_sink(ns, None)
    watcher = _watcher(ns, None)
    gen = Generator(p.scenario, seed=seed, start_ms=p.history_from_ms, end_ms=p.end_ms, scale=scale)
    with _Display(None, f"rehearse x{speed:g}", p.shift_ms, "scenario") as display:
        loop = SendLoop(sink, None, on_progress=display.update)
        loop.schedule = rh.RehearsalSchedule(speed, p.paced_from_ms, loop.clock)
        signal.signal(signal.SIGINT, lambda *_: loop.stop())
        signal.signal(signal.SIGTERM, lambda *_: loop.stop())
        summary = loop.run_messages(gen.messages())
    counts = _counts(watcher, summary, _failed_events(sink))
    _summary(summary, None, None, counts)
    current = read_manifest(settings)  # played: the banner says so, the data stays on view
    if isinstance(current, Manifest) and current.id == rid:
        write_manifest(settings, msgspec.structs.replace(current, status="finished"))
    if drop:
        rh.end(settings, drop=True)
        console.print(f"rehearsal {rid} ended" + (", its data dropped" if target == "isolated" else ""))
    else:
        console.print(f"rehearsal {rid} stays on view; `edu-simulate rehearse-end` ends it and drops its data")
    raise typer.Exit(_exit_code(summary))


@app.command("rehearse-end")
def rehearse_end(
    keep: Annotated[bool, typer.Option("--keep", help="stop its services but keep its data")] = False,
    bootstrap: BootstrapOpt = None,
) -> None:
    """End the current rehearsal: stop its services and drop its database and topics (live data untouched)."""
    from simulators import rehearse as rh

    settings = _settings(bootstrap)
    try:
        m = rh.end(settings, drop=not keep)
    except rh.RehearsalError as err:
        console.print(f"[red]error:[/] {err}")
        raise typer.Exit(2) from None
    console.print(f"rehearsal {m.id} ({m.scenario}, {m.target}) ended" + (", its data dropped" if m.drop else ""))


@app.command()
def scenarios() -> None:
    """List the shipped scenarios."""
    t = Table("name", "days", "from (UTC+8)", "events", "description")
    for name in scenario_names():
        sc = _scenario(name)
        t.add_row(
            name,
            f"{sc.days:g}",
            time.strftime("%Y-%m-%d", time.gmtime(sc.start_ms / 1000 + 8 * 3600)),
            str(len(sc.events)),
            sc.description[:70],
        )
    Console().print(t)


@app.command()
def check(files: Annotated[list[Path], typer.Argument(help="scenario YAML files")]) -> None:
    """Validate scenario files; errors name the file and line."""
    bad = 0
    for f in files:
        try:
            sc = load_scenario(f)
            console.print(f"ok  {f}: {sc.name}, {sc.days:g} days, {len(sc.events)} events")
        except ScenarioError as err:
            bad += 1
            console.print(f"[red]bad[/] {err}")
    raise typer.Exit(1 if bad else 0)


@app.command()
def expected(scenario: ScenarioOpt = "march-2022") -> None:
    """Expected page views per day of a scenario at full scale (what the model is calibrated to)."""
    from simulators.model import TrafficModel

    sc = _scenario(scenario)
    days = TrafficModel(sc).daily_clicks()
    t = Table("day (UTC+8)", "page views", title=f"{sc.name}: expected real page views")
    for day, per in days.items():
        t.add_row(day, f"{per.sum():,.0f}")
    t.add_row("total", f"{sum(v.sum() for v in days.values()):,.0f}")
    Console().print(t)


@app.command()
def catalogue(out: Annotated[Path | None, typer.Option(help="write here instead of standard output")] = None) -> None:
    """The simulated resource catalogue as JSONL, for `edu-sink resources load` (the cockpit's titles)."""
    import json
    import sys

    from simulators.catalogue import by_id

    stream = out.open("w", encoding="utf-8") if out else sys.stdout
    try:
        for r in by_id().values():
            stream.write(
                json.dumps(
                    {
                        "resource": r.id,
                        "platform": r.platform,
                        "section": r.section,
                        "subcolumn": r.subcolumn,
                        "title": r.title,
                    },
                    ensure_ascii=False,
                )
                + "\n"
            )
    finally:
        if out:
            stream.close()


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
