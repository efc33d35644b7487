"""Stream-processing throughput (not part of the test suite): naive Faust agent vs bare aiokafka vs our worker.

    python -m bench.stream_throughput [--events 1000000] [--naive-seconds 15] [--profile] [--e2e-rate 50000]

Starts its own Kafka unless EDU_KAFKA_BOOTSTRAP answers, and measures events/s of the same click
events (20 per message, then one per message) through a textbook Faust table agent (naive), an
aiokafka loop (bare, bare_decode) and the real edu-worker, start-up kept out by SIGSTOP/SIGCONT;
with --e2e-rate, also producer -> worker -> sink -> chDB lag and latency. Method and figures:
bench/README.md ("Stream processing"). The last line holds the headline figures as name=value pairs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.harness import (
    PARTITIONS,
    SESSION_TIMEOUT_S,
    Child,
    RatesWatch,
    bench_settings,
    broker,
    committed_offsets,
    end_offsets,
    log,
    make_producer,
    messages,
    preload,
    start_worker,
    wait,
    warm_up,
)
from contracts.events import decode_message
from contracts.settings import Settings

# --------------------------------------------------------------------------------------------------
# (b) bare aiokafka loop
# --------------------------------------------------------------------------------------------------


async def _bare(bootstrap: str, topic: str, total_messages: int, decode: bool, settings: Settings) -> float:
    from aiokafka import AIOKafkaConsumer, TopicPartition

    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap.split(","),
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        fetch_max_bytes=64 * 1024 * 1024,
        max_partition_fetch_bytes=16 * 1024 * 1024,
    )
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in range(PARTITIONS)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        n = 0
        max_bytes, max_events = settings.max_message_bytes, settings.max_events_per_message
        await consumer.position(tps[0])  # connected and positioned before the clock starts
        t0 = time.perf_counter()
        while n < total_messages:
            got = await consumer.getmany(timeout_ms=1000, max_records=20_000)
            for recs in got.values():
                n += len(recs)
                if decode:
                    for r in recs:
                        decode_message(r.value, max_bytes=max_bytes, max_events=max_events)
        return time.perf_counter() - t0
    finally:
        await consumer.stop()


def bench_bare(bootstrap: str, topic: str, total_messages: int, decode: bool, settings: Settings) -> float:
    return asyncio.run(_bare(bootstrap, topic, total_messages, decode, settings))


# --------------------------------------------------------------------------------------------------
# (a) naive Faust agent: one table update (one changelog record) per event
# --------------------------------------------------------------------------------------------------


def naive_child(bootstrap: str, topic: str, app_id: str, progress: str) -> None:
    """Runs in a subprocess: the textbook agent, writing `time events` lines to `progress`."""
    import faust

    app = faust.App(
        app_id,
        broker=f"kafka://{bootstrap}",
        store="memory://",
        autodiscover=False,
        web_enabled=False,
        topic_partitions=PARTITIONS,
        consumer_auto_offset_reset="earliest",
        broker_session_timeout=SESSION_TIMEOUT_S,
        broker_heartbeat_interval=3.0,
    )
    source = app.topic(topic, value_type=bytes, value_serializer="raw", key_type=bytes, key_serializer="raw")
    per_province = app.Table("clicks-per-province", default=int, partitions=PARTITIONS)
    seen = [0]
    out = open(progress, "a", buffering=1)

    @app.agent(source)
    async def count(stream):
        async for value in stream:
            data = json.loads(value)
            for ev in data if isinstance(data, list) else (data,):
                per_province[ev["province"]] += 1
                seen[0] += 1

    @app.timer(interval=0.2)
    async def report() -> None:
        out.write(f"{time.time():.4f} {seen[0]}\n")

    worker = faust.Worker(app, loglevel="warning", quiet=True)
    worker.execute_from_commandline()


def read_progress(path: Path) -> list[tuple[float, int]]:
    if not path.exists():
        return []
    rows = []
    for line in path.read_text().splitlines():
        parts = line.split()
        if len(parts) == 2:
            rows.append((float(parts[0]), int(parts[1])))
    return rows


# --------------------------------------------------------------------------------------------------
# Child processes frozen with SIGSTOP while the input is preloaded
# --------------------------------------------------------------------------------------------------


def sampler_child(out: str, argv: list[str]) -> None:
    """Runs `edu-worker` with a wall-clock stack sampler over all its threads (a small py-spy).

    Every 5 ms each thread's stack is recorded as (time, thread name, frames); the samples are written
    to `out` at exit, and the parent keeps those inside the measured window. Idle time shows up as
    the frame the thread waits in (epoll, a lock), which a CPU profiler like cProfile would not show,
    and cProfile sees only the main thread while Faust runs its Kafka consumer in a second one.
    """
    import atexit
    import runpy
    import threading

    samples: list[tuple[float, str, tuple[str, ...]]] = []

    def frames(f) -> tuple[str, ...]:
        out_: list[str] = []
        while f is not None and len(out_) < 60:
            code = f.f_code
            out_.append(f"{Path(code.co_filename).name}:{code.co_name}")
            f = f.f_back
        return tuple(out_)

    def run() -> None:
        me = threading.get_ident()
        names = {}
        while True:
            now = time.time()
            for th in threading.enumerate():
                names[th.ident] = th.name
            for ident, frame in sys._current_frames().items():
                if ident != me:
                    samples.append((now, names.get(ident, str(ident)), frames(frame)))
            time.sleep(0.005)

    def dump() -> None:
        with open(out, "w") as f:
            for ts, name, st in samples:
                f.write(json.dumps([ts, name, st]) + "\n")

    atexit.register(dump)
    threading.Thread(target=run, name="sampler", daemon=True).start()
    sys.argv = ["streams.cli", *argv]
    runpy.run_module("streams.cli", run_name="__main__")


def start_naive(bootstrap: str, topic: str, app_id: str, tmp: Path, name: str) -> tuple[Child, Path]:
    progress = tmp / f"{name}.progress"
    cmd = [sys.executable, "-m", "bench.stream_throughput", "--naive-child", bootstrap, topic, app_id, str(progress)]
    return Child(name, cmd, dict(os.environ), tmp / f"{name}.log"), progress


# --------------------------------------------------------------------------------------------------
# One input variant
# --------------------------------------------------------------------------------------------------


def run_variant(
    bootstrap: str,
    tmp: Path,
    tag: str,
    events: int,
    per_message: int,
    naive_seconds: float,
    profile: bool,
    overrides: dict[str, str] | None = None,
    py_spy: str | None = None,
    py_spy_idle: bool = False,
) -> dict[str, float]:
    from contracts.topics import ensure_topics

    settings = bench_settings(bootstrap, tag, tmp, **(overrides or {}))
    ensure_topics(settings)
    topic = settings.topic_clicks
    warm = warm_up(bootstrap, topic, per_message)
    worker = start_worker(settings, tmp, f"{tag}-worker", tmp / f"{tag}-worker.samples" if profile else None)
    watch = RatesWatch(bootstrap, settings.topic_rates)
    naive: Child | None = None
    out: dict[str, float] = {}
    try:
        warm_ends = {p: 1 for p in range(PARTITIONS)}

        def warmed() -> bool:
            worker.check()
            watch.poll(50)
            return watch.covers(warm_ends)

        wait(warmed, 240, f"{tag}: worker through the warm-up messages")
        worker.freeze()
        n_msgs, secs = preload(bootstrap, topic, events, per_message, seed=1)
        ends = end_offsets(bootstrap, topic)
        log(
            f"[{tag}] preloaded {events:,} events in {n_msgs:,} messages in {secs:.1f}s ({events / secs:,.0f} events/s)"
        )

        # (b) bare loop, while the worker is frozen
        t = bench_bare(bootstrap, topic, n_msgs + PARTITIONS, False, settings)
        out["bare_eps"] = (events + warm) / t
        out["bare_msgs"] = (n_msgs + PARTITIONS) / t
        t = bench_bare(bootstrap, topic, n_msgs + PARTITIONS, True, settings)
        out["bare_decode_eps"] = (events + warm) / t
        log(
            f"[{tag}] bare getmany: {out['bare_eps']:,.0f} events/s ({out['bare_msgs']:,.0f} msgs/s); "
            f"with decode: {out['bare_decode_eps']:,.0f} events/s"
        )

        # (c) our worker, from SIGCONT to the rate batch covering the last offset
        cpu0 = worker.cpu()
        t0 = time.time()
        worker.thaw()
        spy = start_py_spy(py_spy, worker, tmp / f"{tag}-worker.pyspy", py_spy_idle) if py_spy else None

        def worker_done() -> bool:
            worker.check()
            watch.poll()
            if watch.covers(ends):
                return True
            # Committed everything without covering it in the rates topic: output was lost.
            done = committed_offsets(bootstrap, settings.worker_id, topic)
            watch.poll()
            return all(done.get(p, 0) >= end for p, end in ends.items())

        wait(worker_done, 600, f"{tag}: worker through {events:,} events", interval=0.02)
        if spy is not None:
            stop_py_spy(spy, tmp / f"{tag}-worker.pyspy", tag)
        elapsed = watch.last_ts_ms / 1000 - t0
        out["worker_eps"] = events / elapsed
        out["worker_t0"], out["worker_t1"] = t0, watch.last_ts_ms / 1000
        cpu1 = worker.cpu()
        used = {k: cpu1.get(k, 0.0) - cpu0.get(k, 0.0) for k in cpu1}
        out["worker_cpu"] = sum(used.values()) / elapsed
        log(
            f"[{tag}] worker CPU while running: {out['worker_cpu'] * 100:.0f}% of one core; by thread: "
            + ", ".join(f"{k} {v / elapsed * 100:.0f}%" for k, v in sorted(used.items(), key=lambda kv: -kv[1])[:4])
        )
        log(
            f"[{tag}] worker: {events:,} events in {elapsed:.2f}s = {out['worker_eps']:,.0f} events/s "
            f"({watch.batches} rate batches, {watch.events - warm:,} events in them)"
        )
        out["worker_lost"] = float(events - (watch.events - warm))
        if out["worker_lost"]:
            log(
                f"[{tag}] WARNING: the rates topic covers every offset but accounts for {watch.events - warm:,} "
                f"of {events:,} events: {out['worker_lost']:,.0f} LOST (see the worker log "
                f"{worker.log_path}; bench/README.md explains)"
            )
        worker.stop()

        # (a) naive agent, alone, for a bounded time (it is slow); rate from its own progress clock
        # between its first processed event and the last change of its count.
        naive, progress = start_naive(bootstrap, topic, f"bench-{tag}-naive", tmp, f"{tag}-naive")

        def naive_enough() -> bool:
            assert naive is not None
            naive.check()
            rows = [r for r in read_progress(progress) if r[1] > 0]
            return bool(rows) and (rows[-1][1] >= events + warm or rows[-1][0] - rows[0][0] >= naive_seconds)

        wait(naive_enough, naive_seconds + 240, f"{tag}: naive agent", interval=0.2)
        rows = [r for r in read_progress(progress) if r[1] > 0]
        first, final = rows[0], rows[-1][1]
        t_final = next(t for t, n in rows if n == final)  # when the count reached its final value
        out["naive_eps"] = (final - first[1]) / (t_final - first[0])
        log(
            f"[{tag}] naive Faust agent + table: {final - first[1]:,} events in {t_final - first[0]:.1f}s = "
            f"{out['naive_eps']:,.0f} events/s"
        )
    finally:
        watch.close()
        worker.stop()
        if naive is not None:
            naive.stop()
    if profile:
        report_profile(tmp / f"{tag}-worker.samples", tag, (out["worker_t0"], out["worker_t1"]))
    return out


def report_profile(path: Path, tag: str, window: tuple[float, float]) -> None:
    """Where the worker's wall time went while it worked through the preloaded input."""
    from collections import Counter

    if not path.exists():
        log(f"[{tag}] no samples written at {path}")
        return
    t0, t1 = window
    by_thread: dict[str, Counter[str]] = {}
    totals: Counter[str] = Counter()
    for line in path.read_text().splitlines():
        ts, name, stack = json.loads(line)
        if not t0 <= ts <= t1:
            continue
        totals[name] += 1
        by_thread.setdefault(name, Counter())[classify(stack)] += 1
    log(f"[{tag}] worker wall time by thread and activity (stack samples every 5 ms, {t1 - t0:.1f}s window):")
    for name, n in totals.most_common():
        if n < 0.05 * max(totals.values()):
            continue
        log(f"  thread {name}: {n} samples")
        for what, k in by_thread[name].most_common(12):
            log(f"    {k / n * 100:5.1f}%  {what}")


def start_py_spy(binary: str, worker: Child, out: Path, idle: bool = False) -> subprocess.Popen:
    """Attach py-spy to the running worker: CPU samples (with the GIL held) of every thread,
    unbiased by the GIL, unlike the in-process sampler of --profile. With `idle`, wall-clock samples
    of each thread, waits included: where the worker waits when it is not using its core."""
    mode = ["--idle", "--threads"] if idle else ["--gil"]
    cmd = [
        binary,
        "record",
        "--pid",
        str(worker.proc.pid),
        "--rate",
        "200",
        *mode,
        "--nonblocking",
        "--format",
        "raw",
        "-o",
        str(out),
    ]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def stop_py_spy(spy: subprocess.Popen, out: Path, tag: str) -> None:
    """Stop py-spy and print the worker's CPU by activity (innermost matching frame, as --profile)."""
    from collections import Counter

    spy.send_signal(signal.SIGINT)
    _, err = spy.communicate(timeout=60)
    if not out.exists():
        log(f"[{tag}] py-spy wrote nothing: {err.decode(errors='replace')[-500:]}")
        return
    by: Counter[str] = Counter()
    funcs: Counter[str] = Counter()
    threads: dict[str, Counter[str]] = {}
    for line in out.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        raw = stack.split(";")  # py-spy writes outermost first; with --threads, the thread comes first
        thread = raw.pop(0) if raw and raw[0].startswith("thread (") else ""
        frames = []
        for fr in reversed(raw):
            func, _, where = fr.partition(" (")
            frames.append(f"{Path(where.split(':')[0]).name}:{func}")
        by[classify(frames)] += int(n)
        funcs[frames[0] if frames else "?"] += int(n)
        threads.setdefault(thread, Counter())[classify(frames)] += int(n)
    total = sum(by.values()) or 1
    kind = "wall clock, waits included" if len(threads) > 1 else "GIL held"
    log(f"[{tag}] worker time by activity (py-spy, {kind}, {total} samples at 200/s):")
    for what, k in by.most_common(12):
        log(f"    {k / total * 100:5.1f}%  {what}")
    log(f"[{tag}] innermost functions:")
    for what, k in funcs.most_common(15):
        log(f"    {k / total * 100:5.1f}%  {what}")
    if len(threads) > 1:
        for thread, counts in sorted(threads.items(), key=lambda kv: -sum(kv[1].values()))[:3]:
            samples = sum(counts.values()) or 1
            log(f"[{tag}] {thread}: " + ", ".join(f"{k / samples * 100:.0f}% {w}" for w, k in counts.most_common(6)))


# Activities, from the innermost frame outwards: the first rule that matches a frame names the sample.
_RULES = (
    ("fetch consumer: collect runs", ("fetch_consumer.py:_collect",)),
    ("streams/aggregate: decode events (msgspec)", ("events.py:decode_message",)),
    ("streams/aggregate: fold events into counters", ("aggregate.py:aggregate",)),
    ("encode rate batch (msgspec)", ("rates.py:encode_batch",)),
    ("dead letters", ("deadletter.py",)),
    ("processor: wait for the rates send to be acked", ("processor.py:handle",)),
    ("checkpoint load", ("checkpoint.py",)),
    ("rates sender thread (aiokafka producer)", ("rates_sender.py",)),
    (
        "faust: deliver message to stream (conductor, channel, event, ack)",
        ("conductor.py", "channels.py", "streams.py", "events.py:", "consumer.py:_drain_messages", "consumer.py:ack"),
    ),
    (
        "aiokafka: fetch and parse records",
        ("fetcher.py", "default_records.py", "legacy_records.py", "memory_records.py"),
    ),
    ("aiokafka: producer", ("producer.py", "sender.py", "message_accumulator.py")),
    ("prometheus metrics", ("metrics.py", "prometheus_client")),
    ("idle: event loop waiting (epoll/select)", ("Selector.select", "selectors.py:select", "base_events.py:_run_once")),
    ("idle: waiting on a lock/queue", ("threading.py:wait", "queues.py", "locks.py")),
)


def classify(stack: list[str]) -> str:
    for frame in stack:
        for label, needles in _RULES:
            if any(n in frame for n in needles):
                return label
    return stack[0] if stack else "?"


# --------------------------------------------------------------------------------------------------
# End to end: producer at a fixed rate -> worker -> sink -> chDB
# --------------------------------------------------------------------------------------------------


def run_e2e(bootstrap: str, tmp: Path, rate: float, seconds: float) -> dict[str, float]:
    """Producer at `rate` events/s in client batches -> worker -> sink (in this process) -> chDB."""
    import threading

    from prometheus_client import CollectorRegistry

    from contracts.topics import ensure_topics
    from sinks.migrate import migrate
    from sinks.runner import start_sink_thread
    from sinks.store import open_store

    settings = bench_settings(bootstrap, "e2e", tmp, worker_session_timeout_s=10.0)
    ensure_topics(settings)
    # The sink's consumer gets no partitions if it subscribes before the broker's metadata lists
    # the new rates topic : wait until a client sees it.
    from kafka import KafkaConsumer

    probe = KafkaConsumer(bootstrap_servers=bootstrap.split(","), group_id=None, enable_auto_commit=False)
    wait(lambda: len(probe.partitions_for_topic(settings.topic_rates) or ()) == PARTITIONS, 30, "rates metadata")
    probe.close(autocommit=False)
    store = open_store(settings)
    migrate(store)
    sink = start_sink_thread(settings, store, CollectorRegistry())
    worker = start_worker(settings, tmp, "e2e-worker")
    db = store.database
    samples: list[tuple[float, int, int, int]] = []  # (time, sent, in the rates topic, stored)
    watch = RatesWatch(bootstrap, settings.topic_rates)
    latencies: list[float] = []
    sent = [0]
    stop = threading.Event()

    def produce() -> None:
        prod = make_producer(bootstrap)
        per_message = 20
        gen = messages(int(rate * seconds) + per_message, per_message, seed=5)
        t_start = time.monotonic()
        i = 0
        for key, value in gen:
            due = t_start + i * per_message / rate
            delay = due - time.monotonic()
            if delay > 0 and stop.wait(delay):
                break
            prod.send(settings.topic_clicks, key=key, value=value)
            i += 1
            sent[0] = i * per_message
            if time.monotonic() - t_start >= seconds:
                break
        prod.flush(120)
        prod.close()

    def stored() -> int:
        return int(store.query(f"SELECT sum(clicks) FROM {db}.clicks_minute")[0][0] or 0)

    try:
        warm = warm_up(bootstrap, settings.topic_clicks, 20)

        def warm_stored() -> bool:
            sink.check()
            worker.check()
            return stored() >= warm

        wait(warm_stored, 240, "e2e warm-up stored")
        base = stored()
        thread = threading.Thread(target=produce, daemon=True)
        t0 = time.monotonic()
        thread.start()
        # Latency probe: the time until the store's total reaches what had been sent at time t.
        pending: list[tuple[float, int]] = []
        have = 0
        while thread.is_alive() or have < sent[0]:
            sink.check()
            worker.check()
            now = time.monotonic()
            pending.append((now, sent[0]))
            have = stored() - base  # one query per 0.25 s, about what a cockpit viewer costs
            t_now = time.monotonic()
            while pending and pending[0][1] <= have:
                latencies.append(t_now - pending.pop(0)[0])
            watch.poll(10)
            samples.append((now - t0, sent[0], watch.events - warm, have))
            if now - t0 > seconds + 120:
                break
            time.sleep(0.25)
        t_end = time.monotonic()
    finally:
        stop.set()
        watch.close()
        worker.stop()
        sink.stop()
        store.close()
    total = sent[0]
    stored_all = bool(samples) and samples[-1][3] >= total
    # Lag over the first and the second half of the sending time: growing means not keeping up.
    # Worker lag = sent - events in the rates topic; sink lag = rates events - stored events.
    during = [s for s in samples if s[0] <= seconds]
    half = len(during) // 2
    lag_first = max((s[1] - s[3] for s in during[:half]), default=0)
    lag_second = max((s[1] - s[3] for s in during[half:]), default=0)
    worker_lag = max((s[1] - s[2] for s in during[half:]), default=0)
    sink_lag = max((s[2] - s[3] for s in during[half:]), default=0)
    worker_eps = (max((s[2] for s in samples), default=0)) / max(
        1e-9, next((s[0] for s in samples if s[2] >= total), samples[-1][0] if samples else 1)
    )
    latencies.sort()
    p = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] if latencies else float("nan")
    out = {
        "e2e_rate_target": rate,
        "e2e_eps": total / (t_end - t0),
        "e2e_sent_eps": total / seconds,
        "e2e_lag_first_half": lag_first,
        "e2e_lag_second_half": lag_second,
        "e2e_drain_s": t_end - t0 - seconds,
        "e2e_p50_s": p(0.50),
        "e2e_p99_s": p(0.99),
        "e2e_worker_eps": worker_eps,
        "e2e_worker_lag": worker_lag,
        "e2e_sink_lag": sink_lag,
        "e2e_stored_all": float(stored_all),
        "e2e_events_per_rate_batch": watch.events / max(1, watch.batches),
    }  # warm-up included: 4 small batches
    log(
        f"[e2e] target {rate:,.0f}/s for {seconds:.0f}s: sent {total:,} ({out['e2e_sent_eps']:,.0f}/s); "
        f"{'all stored' if stored_all else 'NOT all stored'} after {t_end - t0:.1f}s; max lag (sent - stored) "
        f"first half {lag_first:,}, second half {lag_second:,} (worker {worker_lag:,}, sink {sink_lag:,}); "
        f"worker {worker_eps:,.0f} events/s; store latency p50 {out['e2e_p50_s']:.2f}s p99 {out['e2e_p99_s']:.2f}s; "
        f"{out['e2e_events_per_rate_batch']:,.0f} events per rate batch"
    )
    return out


# --------------------------------------------------------------------------------------------------


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--naive-child":
        naive_child(*sys.argv[2:6])
        return
    if len(sys.argv) > 1 and sys.argv[1] == "--sampler-child":
        sampler_child(sys.argv[2], sys.argv[3:])
        return
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=400_000, help="events in client batches of 20")
    ap.add_argument(
        "--single-events",
        type=int,
        default=None,
        help="events for the one-event-per-message variant (default: --events / 4)",
    )
    ap.add_argument("--naive-seconds", type=float, default=15.0, help="how long the naive agent runs")
    ap.add_argument("--profile", action="store_true", help="run the worker under cProfile and print where time goes")
    ap.add_argument(
        "--py-spy",
        metavar="PATH",
        default=None,
        help="py-spy binary: attach it to the worker while it runs and print where its CPU goes",
    )
    ap.add_argument(
        "--py-spy-idle", action="store_true", help="with --py-spy: sample each thread on the wall clock, waits included"
    )
    ap.add_argument("--e2e-rate", type=float, default=0.0, help="also run producer->worker->sink->chDB at this rate")
    ap.add_argument("--e2e-seconds", type=float, default=30.0)
    ap.add_argument("--e2e-only", action="store_true", help="run only the end-to-end measurement")
    ap.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="worker setting for this run, e.g. --set worker_batch_within_s=0.1 (tuning experiments)",
    )
    args = ap.parse_args()
    # SIGTERM unwinds like Ctrl-C, so the broker and the children started here are stopped.
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    overrides = dict(kv.split("=", 1) for kv in args.set)
    single_events = args.single_events or args.events // 4
    tmp = Path(tempfile.mkdtemp(prefix="streambench-"))
    tag = f"{os.getpid()}"
    with broker(tmp) as bootstrap:
        if args.e2e_only:
            e2e = run_e2e(bootstrap, tmp, args.e2e_rate or 20_000, args.e2e_seconds)
            print(" ".join(f"{k}={v:.3f}" for k, v in e2e.items()))
            return
        batched = run_variant(
            bootstrap,
            tmp,
            f"{tag}-b20",
            args.events,
            20,
            args.naive_seconds,
            args.profile,
            overrides,
            args.py_spy,
            args.py_spy_idle,
        )
        single = run_variant(bootstrap, tmp, f"{tag}-b1", single_events, 1, args.naive_seconds, args.profile, overrides)
        e2e = run_e2e(bootstrap, tmp, args.e2e_rate, args.e2e_seconds) if args.e2e_rate else {}
    figures = {
        "naive_eps": batched["naive_eps"],
        "bare_eps": batched["bare_eps"],
        "worker_eps": batched["worker_eps"],
        "worker_vs_naive": batched["worker_eps"] / batched["naive_eps"],
        "worker_vs_bare": batched["worker_eps"] / batched["bare_eps"],
        "bare_decode_eps": batched["bare_decode_eps"],
        "naive_single_eps": single["naive_eps"],
        "bare_single_eps": single["bare_eps"],
        "worker_single_eps": single["worker_eps"],
        "worker_vs_naive_single": single["worker_eps"] / single["naive_eps"],
        "worker_vs_bare_single": single["worker_eps"] / single["bare_eps"],
        "bare_decode_single_eps": single["bare_decode_eps"],
        "worker_cpu": batched["worker_cpu"],
        "worker_single_cpu": single["worker_cpu"],
        "worker_lost_events": batched["worker_lost"] + single["worker_lost"],
        **e2e,
    }
    print(f"{'':24}{'client batches of 20':>22}{'one event per message':>24}")
    for label, key in (
        ("naive Faust + table", "naive_eps"),
        ("bare aiokafka getmany", "bare_eps"),
        ("bare getmany + decode", "bare_decode_eps"),
        ("our worker", "worker_eps"),
    ):
        print(f"{label:24}{batched[key]:>18,.0f} ev/s{single[key]:>20,.0f} ev/s")
    print(f"{'worker / naive':24}{figures['worker_vs_naive']:>21.1f}x{figures['worker_vs_naive_single']:>23.1f}x")
    print(
        f"{'worker / bare':24}{figures['worker_vs_bare'] * 100:>21.1f}%{figures['worker_vs_bare_single'] * 100:>23.1f}%"
    )
    print(
        " ".join(
            f"{k}={v:.3f}" if isinstance(v, float) and abs(v) < 100 else f"{k}={v:.0f}" for k, v in figures.items()
        )
        + f" cores={os.cpu_count()}"
    )


if __name__ == "__main__":
    main()
