"""Simulator benchmark (not part of the test suite): generation to file, sending to Kafka, rate error.

    python bench/simulators_bench.py [--events 400000] [--processes 2] [--rate-seconds 60]

Starts its own single-node Kafka on free loopback ports (ops/kafka_local.py) unless
EDU_KAFKA_BOOTSTRAP names a running broker. The last line holds the headline figures as name=value.
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import socket
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from contracts.settings import load_settings  # noqa: E402
from simulators.files import NdjsonWriter  # noqa: E402
from simulators.generator import generate_batches  # noqa: E402
from simulators.kafka_out import ensure_topics  # noqa: E402
from simulators.pacing import RateProfile, Schedule  # noqa: E402
from simulators.runner import KafkaSink, SendLoop  # noqa: E402


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def bench_file(events: int, path: Path) -> float:
    t0 = time.perf_counter()
    with NdjsonWriter(path) as out:
        for b in generate_batches("school-week", seed=1, count=events):
            out.write(b)
    return events / (time.perf_counter() - t0)


def _kafka_worker(bootstrap: str, topics: tuple[str, str], part: int, parts: int, events: int,
                  compression: str | None, q: mp.Queue) -> None:  # type: ignore[type-arg]
    settings = load_settings(kafka_bootstrap=bootstrap, topic_clicks=topics[0], topic_sessions=topics[1])
    batches = list(generate_batches("school-week", seed=1, count=events // parts, part=part, parts=parts)) \
        if os.environ.get("BENCH_PREGEN") else generate_batches("school-week", seed=1, count=events // parts, part=part, parts=parts)
    sink = KafkaSink(settings, **({"compression_type": compression} if compression else {}))
    s = SendLoop(sink, None).run_batches(batches)
    q.put((s.events, s.elapsed_s, s.delivery_errors))


def bench_kafka(bootstrap: str, events: int, processes: int, tag: str, compression: str | None = None) -> tuple[float, int]:
    settings = load_settings(kafka_bootstrap=bootstrap, topic_clicks=f"bench.{tag}.clicks",
                             topic_sessions=f"bench.{tag}.sessions")
    ensure_topics(settings)
    q: mp.Queue = mp.Queue()  # type: ignore[type-arg]
    t0 = time.perf_counter()
    procs = [mp.Process(target=_kafka_worker, args=(bootstrap, (settings.topic_clicks, settings.topic_sessions),
                                                    i, processes, events, compression, q)) for i in range(processes)]
    for p in procs:
        p.start()
    results = [q.get(timeout=600) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    wall = time.perf_counter() - t0
    sent = sum(r[0] for r in results)
    return sent / wall, sum(r[2] for r in results)


def bench_rate(bootstrap: str, rate: float, seconds: float) -> tuple[float, float, float]:
    settings = load_settings(kafka_bootstrap=bootstrap, topic_clicks="bench.rate.clicks", topic_sessions="bench.rate.sessions")
    ensure_topics(settings)
    loop = SendLoop(KafkaSink(settings), Schedule(RateProfile.constant(rate)), duration_s=seconds)
    s = loop.run_batches(generate_batches("school-week", seed=2))
    return s.rate_error or 0.0, s.shortfall, s.max_lag_s


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--events", type=int, default=400_000)
    ap.add_argument("--processes", type=int, default=2)
    ap.add_argument("--rate", type=float, default=20_000)
    ap.add_argument("--rate-seconds", type=float, default=60)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="simbench-"))
    file_rate = bench_file(args.events, tmp / "bench.ndjson")
    print(f"file: {file_rate:,.0f} events/s (NDJSON, {args.events:,} events)", flush=True)
    kafka = None
    bootstrap = os.environ.get("EDU_KAFKA_BOOTSTRAP")
    if not bootstrap:
        from ops.kafka_local import LocalKafka

        kafka = LocalKafka(_free_port(), _free_port(), tmp / "kafka")
        kafka.start(timeout=120)
        bootstrap = kafka.bootstrap_servers
    try:
        k1, e1 = bench_kafka(bootstrap, args.events, 1, "p1")
        print(f"kafka, 1 process: {k1:,.0f} events/s (errors {e1})", flush=True)
        kn, en = bench_kafka(bootstrap, args.events, args.processes, f"p{args.processes}")
        print(f"kafka, {args.processes} processes: {kn:,.0f} events/s (errors {en})", flush=True)
        kg, eg = bench_kafka(bootstrap, args.events // 2, 1, "gz", "gzip")
        print(f"kafka, 1 process, gzip: {kg:,.0f} events/s (errors {eg})", flush=True)
        err, short, lag = bench_rate(bootstrap, args.rate, args.rate_seconds)
        print(f"rate {args.rate:,.0f}/s for {args.rate_seconds:g} s: error {err * 100:+.2f} %, shortfall {short:,.0f}, "
              f"max lag {lag * 1000:.0f} ms", flush=True)
    finally:
        if kafka is not None:
            kafka.stop()
    print(f"file_events_per_s={file_rate:.0f} kafka_events_per_s_1proc={k1:.0f} "
          f"kafka_events_per_s_{args.processes}proc={kn:.0f} kafka_events_per_s_gzip={kg:.0f} "
          f"rate_error_pct_at_{args.rate:.0f}={err * 100:.2f} rate_shortfall_events={short:.0f} "
          f"delivery_errors={e1 + en + eg} cores={os.cpu_count()}")


if __name__ == "__main__":
    main()
