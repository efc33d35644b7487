"""Simulator benchmark (not part of the test suite): generation, sending to Kafka, rate error.

    python -m bench.simulators_bench [--events 400000] [--processes 2] [--rate 100000] [--rate-seconds 30] [--quick]

Starts its own single-node Kafka on free loopback ports (ops/kafka_local.py) unless
EDU_KAFKA_BOOTSTRAP names a running broker. Every Kafka figure is a flat-out run of the same seeded
stream through the code path of `edu-simulate run --processes N` (simulators/parallel.py), measured
from the common start to the last acknowledgement (final flush included). 1 and N processes run
back to back so their ratio is fair on a shared machine, and so do the two send paths: the bulk
path (simulators/kafka_bulk.py, the default) and kafka-python's `send()` per message (`bulk=False`,
the path before it). The last line holds the headline figures as name=value.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import resource
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from kafka import __version__ as kafka_version

from contracts.events import encode
from contracts.settings import load_settings
from contracts.topics import available_codecs
from ops.local_process import free_port
from simulators.generator import Generator
from simulators.kafka_out import crc_backend, ensure_topics
from simulators.parallel import RunSpec, run_parallel, run_share
from simulators.runner import FileSink, SendLoop

SCENARIO = "school-week"


def bench_file(events: int, path: Path) -> float:
    """Generated and encoded to NDJSON (the fast path: `Generator.messages`)."""
    t0 = time.perf_counter()
    SendLoop(FileSink(str(path)), None).run_messages(Generator(SCENARIO, seed=1, count=events).messages())
    return events / (time.perf_counter() - t0)


def profile_generation(events: int) -> dict[str, float]:
    """CPU microseconds per event spent before Kafka: structs + msgspec (the old path) vs templates."""
    t0 = time.process_time()
    n = 0
    for b in Generator(SCENARIO, seed=1, count=events).batches():
        encode(b[0] if len(b) == 1 else b)
        n += 1
    t1 = time.process_time()
    m = sum(1 for _ in Generator(SCENARIO, seed=1, count=events).messages())
    t2 = time.process_time()
    return {
        "structs_encode_us": (t1 - t0) / events * 1e6,
        "templates_us": (t2 - t1) / events * 1e6,
        "events_per_message": events / m,
    }


def _spec(
    bootstrap: str, tag: str, events: int, producer: dict[str, Any] | None = None, client_flush_s: float | None = None
) -> RunSpec:
    settings = load_settings(
        kafka_bootstrap=bootstrap, topic_clicks=f"bench.{tag}.clicks", topic_sessions=f"bench.{tag}.sessions"
    )
    ensure_topics(settings)
    return RunSpec(
        scenario=SCENARIO,
        seed=1,
        count=events,
        bootstrap=bootstrap,
        topics=(settings.topic_clicks, settings.topic_sessions),
        producer=tuple((producer or {}).items()),
        client_flush_s=client_flush_s,
    )


def _cpu_s(pid: int | None) -> float:
    """CPU seconds (user + system) a process has used so far; 0 if unknown."""
    if pid is None:
        return 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def bench_kafka(
    bootstrap: str, tag: str, events: int, processes: int, broker_pid: int | None = None, **kw: Any
) -> dict[str, float]:
    """Flat out through `run_parallel` (N spawned senders, common start, wall includes the flush).

    Besides the rates it reports CPU per event of the senders (children's rusage, start-up included)
    and of the broker (/proc), which other work on the machine does not inflate the way it does
    wall-clock rates: their sum says how many cores a target rate needs.
    """
    spec = _spec(bootstrap, tag, events, **kw)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    broker0 = _cpu_s(broker_pid)
    r = run_parallel(spec, processes)
    broker = _cpu_s(broker_pid) - broker0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    s = r.summary
    if r.failures:
        raise RuntimeError(f"{tag}: {r.failures}")
    wall = s.sink["wall_s"]
    sender = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return {
        "events_per_s": s.events / wall,
        "messages_per_s": s.messages / wall,
        "events_per_message": s.events / max(s.messages, 1),
        "errors": s.delivery_errors,
        "sender_us": sender / s.events * 1e6,
        "broker_us": broker / s.events * 1e6,
    }


@contextmanager
def _pure_python_crc() -> Iterator[None]:
    """kafka-python without the `crc32c` package: its pure-Python CRC-32C of every record batch."""
    import kafka.record.default_records as dr
    from kafka.record._crc32c import crc as crc_py

    saved = dr.calc_crc32c
    dr.calc_crc32c = lambda data, _c=crc_py: _c(data)
    try:
        yield
    finally:
        dr.calc_crc32c = saved


def bench_in_process(bootstrap: str, tag: str, events: int, **kw: Any) -> tuple[float, float, float]:
    """One sender in this process (variants that patch kafka-python here): (events/s, CPU us/event
    of the whole process, of which the producer's I/O thread)."""
    spec = _spec(bootstrap, tag, events, **kw)
    t0, c0, m0 = time.perf_counter(), time.process_time(), time.thread_time()
    s, _ = run_share(spec, 0, 1)
    cpu, main = time.process_time() - c0, time.thread_time() - m0
    return s.events / (time.perf_counter() - t0), cpu / s.events * 1e6, (cpu - main) / s.events * 1e6


class _NullSink:
    """Takes messages and drops them: what the send loop and ground truth cost without Kafka."""

    def __init__(self) -> None:
        self.failed = None

    def send_batch(self, batch: Any) -> None:
        pass

    def send_raw(self, value: bytes, kind: str, key: bytes | None = None) -> None:
        pass

    def hand_over(self) -> None:
        pass

    def close(self) -> dict[str, Any]:
        return {"errors": 0}


def profile_loop(events: int) -> float:
    """Microseconds per event of generation + send loop + ground truth, into a sink that drops."""
    from simulators.truth import GroundTruth

    c0 = time.process_time()
    SendLoop(_NullSink(), None, truth=GroundTruth()).run_messages(Generator(SCENARIO, seed=1, count=events).messages())
    return (time.process_time() - c0) / events * 1e6


def bench_rate(bootstrap: str, rate: float, seconds: float, processes: int = 1) -> dict[str, float]:
    """Open loop at `rate` for `seconds` (a count above what is due, so the stream cannot run out)."""
    spec = _spec(bootstrap, f"rate{processes}", 0)
    spec = dataclasses.replace(spec, count=int(rate * seconds * 1.2) + 1000, rate=str(rate), duration_s=seconds)
    r = run_parallel(spec, processes)
    if r.failures:
        raise RuntimeError(f"rate run: {r.failures}")
    s = r.summary
    return {
        "error_pct": (s.rate_error or 0.0) * 100,
        "shortfall": s.shortfall,
        "max_lag_ms": s.max_lag_s * 1000,
        "achieved": s.achieved_rate,
        "errors": s.delivery_errors,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--events", type=int, default=400_000)
    ap.add_argument("--processes", type=int, default=2)
    ap.add_argument("--rate", type=float, default=100_000)
    ap.add_argument("--rate-seconds", type=float, default=30)
    ap.add_argument("--broker-pid", type=int, help="with EDU_KAFKA_BOOTSTRAP: the broker's pid, to count its CPU")
    ap.add_argument("--quick", action="store_true", help="headline figures only (no variants)")
    args = ap.parse_args()
    N, E = args.processes, args.events
    tmp = Path(tempfile.mkdtemp(prefix="simbench-"))
    prof = profile_generation(min(E, 200_000))
    print(
        f"before Kafka, CPU per event: structs+msgspec {prof['structs_encode_us']:.2f} us, templates "
        f"{prof['templates_us']:.2f} us; {prof['events_per_message']:.2f} events/message",
        flush=True,
    )
    loop_us = profile_loop(min(E, 200_000))
    print(f"generation + encoding + send loop + ground truth, no sink: {loop_us:.2f} us per event (CPU)", flush=True)
    file_rate = bench_file(E, tmp / "bench.ndjson")
    print(f"file: {file_rate:,.0f} events/s (NDJSON, {E:,} events)", flush=True)
    kafka = None
    bootstrap = os.environ.get("EDU_KAFKA_BOOTSTRAP")
    if not bootstrap:
        from ops.kafka_local import LocalKafka

        kafka = LocalKafka(free_port(), free_port(), tmp / "kafka")
        kafka.start(timeout=120)
        bootstrap = kafka.bootstrap_servers
    pid = kafka.pid if kafka is not None else args.broker_pid
    print(
        f"kafka-python {kafka_version}, CRC-32C: {crc_backend()}, codecs: {', '.join(available_codecs())}, "
        f"cores: {os.cpu_count()}, load average at start: {os.getloadavg()[0]:.1f}",
        flush=True,
    )

    rows: list[tuple[str, dict[str, float]]] = []
    head: dict[str, float] = {}
    try:

        def show(label: str, r: dict[str, float]) -> None:
            rows.append((label, r))
            cpu = f", CPU/event: senders {r['sender_us']:.1f} us" + (
                f" + broker {r['broker_us']:.1f} us" if pid else ""
            )
            cpu += f" (100,000 events/s would need {(r['sender_us'] + r['broker_us']) / 10:.1f} cores)"
            print(
                f"kafka, {label} (load {os.getloadavg()[0]:.1f}): {r['events_per_s']:,.0f} events/s, {r['messages_per_s']:,.0f} messages/s, "
                f"{r['events_per_message']:.2f} events/message (errors {r['errors']:.0f}){cpu}",
                flush=True,
            )

        plain = {"producer": {"bulk": False}}
        s1 = bench_kafka(bootstrap, "s1", E, 1, pid, **plain)
        show("1 process, send() per message (before)", s1)
        k1 = bench_kafka(bootstrap, "p1", E, 1, pid)
        show("1 process, bulk path", k1)
        sn = bench_kafka(bootstrap, f"s{N}", E, N, pid, **plain)
        show(f"{N} processes, send() per message (before)", sn)
        kn = bench_kafka(bootstrap, f"p{N}", E, N, pid)
        show(f"{N} processes, bulk path", kn)
        head.update(
            k1=k1["events_per_s"],
            kn=kn["events_per_s"],
            s1=s1["events_per_s"],
            sn=sn["events_per_s"],
            k1_us=k1["sender_us"],
            s1_us=s1["sender_us"],
            kn_us=kn["sender_us"],
            sn_us=sn["sender_us"],
            broker_us=k1["broker_us"],
            broker_send_us=s1["broker_us"],
        )
        for flush in (120.0, 600.0):
            a = bench_kafka(bootstrap, f"f{flush:.0f}p1", E, 1, pid, client_flush_s=flush)
            show(f"1 process, client flush {flush:.0f} s", a)
            b = bench_kafka(bootstrap, f"f{flush:.0f}p{N}", E, N, pid, client_flush_s=flush)
            show(f"{N} processes, client flush {flush:.0f} s", b)
            head[f"f{flush:.0f}_1"], head[f"f{flush:.0f}_n"] = a["events_per_s"], b["events_per_s"]
        if not args.quick:
            variants: list[tuple[str, dict[str, Any]]] = [
                ("no compression", {"producer": {"compression_type": None}}),
                ("gzip", {"producer": {"compression_type": "gzip"}}),
                ("linger 100 ms, batch 1 MiB", {"producer": {"linger_ms": 100, "batch_size": 1 << 20}}),
                ("linger 5 ms, batch 64 KiB", {"producer": {"linger_ms": 5, "batch_size": 64 << 10}}),
            ]
            if "zstd" in available_codecs():
                variants.append(("zstd", {"producer": {"compression_type": "zstd"}}))

            def variant(label: str, r: tuple[float, float, float]) -> None:
                print(
                    f"in-process, {label}: {r[0]:,.0f} events/s, CPU {r[1]:.1f} us/event "
                    f"(producer I/O thread {r[2]:.1f})",
                    flush=True,
                )

            variant("lz4 (default), bulk path", bench_in_process(bootstrap, "v-base", E // 2))
            variant("lz4, send() per message", bench_in_process(bootstrap, "v-send", E // 2, producer={"bulk": False}))
            if crc_backend() == "c":
                with _pure_python_crc():
                    variant(
                        "pure-Python CRC-32C (as without the crc32c package)",
                        bench_in_process(bootstrap, "v-purecrc", E // 2),
                    )
            for i, (label, kw) in enumerate(variants):
                variant(label, bench_in_process(bootstrap, f"v{i}", E // 2, **kw))
        for n in sorted({1, N}):
            r = bench_rate(bootstrap, args.rate, args.rate_seconds, n)
            print(
                f"rate {args.rate:,.0f}/s for {args.rate_seconds:g} s, {n} process{'es' if n > 1 else ''}: achieved "
                f"{r['achieved']:,.0f}/s, error {r['error_pct']:+.2f} %, shortfall {r['shortfall']:,.0f}, max lag "
                f"{r['max_lag_ms']:.0f} ms, delivery errors {r['errors']:.0f} (load average {os.getloadavg()[0]:.1f})",
                flush=True,
            )
            rows.append((f"rate {n}", r))
            if n == 1:
                r1 = r
            rn = r
    finally:
        if kafka is not None:
            kafka.stop()
        shutil.rmtree(tmp, ignore_errors=True)  # the NDJSON file and the broker's data
    print(
        f"file_events_per_s={file_rate:.0f} kafka_events_per_s_1proc={head['k1']:.0f} "
        f"kafka_events_per_s_{N}proc={head['kn']:.0f} "
        f"kafka_events_per_s_1proc_send={head['s1']:.0f} kafka_events_per_s_{N}proc_send={head['sn']:.0f} "
        f"sender_cpu_us_per_event_1proc={head['k1_us']:.2f} sender_cpu_us_per_event_1proc_send={head['s1_us']:.2f} "
        f"sender_cpu_us_per_event_{N}proc={head['kn_us']:.2f} sender_cpu_us_per_event_{N}proc_send={head['sn_us']:.2f} "
        f"broker_cpu_us_per_event={head['broker_us']:.2f} broker_cpu_us_per_event_send={head['broker_send_us']:.2f} "
        f"kafka_events_per_s_flush600_{N}proc={head['f600_n']:.0f} "
        f"rate_target={args.rate:.0f} rate_achieved_1proc={r1['achieved']:.0f} rate_error_pct_1proc={r1['error_pct']:.2f} "
        f"rate_achieved_{N}proc={rn['achieved']:.0f} rate_error_pct_{N}proc={rn['error_pct']:.2f} "
        f"rate_shortfall_events={r1['shortfall']:.0f} "
        f"delivery_errors={sum(r['errors'] for _, r in rows):.0f} load_average={os.getloadavg()[0]:.1f} "
        f"cores={os.cpu_count()}"
    )


if __name__ == "__main__":
    main()
