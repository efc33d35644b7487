"""Soak and burst (not in the suite): is the pipeline flat at a steady rate, and does a burst drain?

    python -m bench.stream_soak [--rate 10000] [--minutes 20] [--burst-factor 2] [--burst-seconds 60]

One run, on real parts: a local single-node Kafka (or EDU_KAFKA_BOOTSTRAP if it answers), the real
`edu-worker` subprocess, and the sink in this process writing to chDB in a temporary directory.
A producer thread sends click events in client batches of 20 on an open-loop schedule:

  steady   `--rate` events/s for `--minutes`;
  burst    `--burst-factor` x the rate for `--burst-seconds`;
  after    back to `--rate` until the lag has drained (or `--drain-timeout` passes).

Memory is "flat" when the worker's RSS at the end of the steady phase is within `--flat-tolerance`
of its RSS after warm-up; the lag has drained when sent - stored stays under two seconds of traffic.
"""

from __future__ import annotations

import argparse
import os
import signal
import tempfile
import threading
import time
from pathlib import Path

from bench.harness import bench_settings, broker, log, make_producer, messages, start_worker, wait, warm_up

PER_MESSAGE = 20


class Schedule:
    """Open-loop send times: the i-th message is due when the schedule's integral reaches it."""

    def __init__(self, rate: float, steady_s: float, burst_rate: float, burst_s: float) -> None:
        self.rate, self.steady_s, self.burst_rate, self.burst_s = rate, steady_s, burst_rate, burst_s

    def rate_at(self, t: float) -> float:
        return self.burst_rate if self.steady_s <= t < self.steady_s + self.burst_s else self.rate

    def due(self, events: int) -> float:
        """Seconds from start at which `events` events have been due."""
        steady_n = self.rate * self.steady_s
        if events <= steady_n:
            return events / self.rate
        burst_n = self.burst_rate * self.burst_s
        if events <= steady_n + burst_n:
            return self.steady_s + (events - steady_n) / self.burst_rate
        return self.steady_s + self.burst_s + (events - steady_n - burst_n) / self.rate


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rate", type=float, default=10_000.0, help="steady events/s")
    ap.add_argument("--minutes", type=float, default=20.0, help="length of the steady phase")
    ap.add_argument("--burst-factor", type=float, default=2.0)
    ap.add_argument("--burst-seconds", type=float, default=60.0)
    ap.add_argument("--drain-timeout", type=float, default=600.0)
    ap.add_argument("--sample-s", type=float, default=5.0)
    ap.add_argument("--flat-tolerance", type=float, default=0.10, help="RSS growth allowed after warm-up")
    args = ap.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))

    import psutil
    from prometheus_client import CollectorRegistry

    from contracts.topics import ensure_topics
    from sinks.migrate import migrate
    from sinks.runner import start_sink_thread
    from sinks.store import open_store

    steady_s = args.minutes * 60
    sched = Schedule(args.rate, steady_s, args.rate * args.burst_factor, args.burst_seconds)
    drained_lag = 2 * args.rate
    tmp = Path(tempfile.mkdtemp(prefix="streamsoak-"))
    with broker(tmp) as bootstrap:
        settings = bench_settings(bootstrap, f"soak{os.getpid()}", tmp, worker_session_timeout_s=10.0)
        ensure_topics(settings)
        store = open_store(settings)
        migrate(store)
        sink = start_sink_thread(settings, store, CollectorRegistry())
        worker = start_worker(settings, tmp, "soak-worker")
        wproc = psutil.Process(worker.proc.pid)
        db = store.database
        sent = [0]
        send_errors = [0]
        stop = threading.Event()

        def stored() -> int:
            return int(store.query(f"SELECT sum(clicks) FROM {db}.clicks_minute")[0][0] or 0)

        def produce() -> None:
            prod = make_producer(bootstrap)
            limit = int(args.rate * (steady_s + args.drain_timeout) + sched.burst_rate * args.burst_seconds)
            t0 = time.monotonic()
            n = 0

            def failed(_: object) -> None:
                send_errors[0] += 1

            for key, value in messages(limit, PER_MESSAGE, seed=9):
                delay = t0 + sched.due(n + PER_MESSAGE) - time.monotonic()
                if delay > 0 and stop.wait(delay):
                    break
                if stop.is_set():
                    break
                prod.send(settings.topic_clicks, key=key, value=value).add_errback(failed)
                n += PER_MESSAGE
                sent[0] = n
            prod.flush(120)
            prod.close()

        try:
            warm = warm_up(bootstrap, settings.topic_clicks, PER_MESSAGE)

            def warm_stored() -> bool:
                sink.check()
                worker.check()
                return stored() >= warm

            wait(warm_stored, 240, "warm-up stored")
            base = stored()
            thread = threading.Thread(target=produce, daemon=True)
            t0 = time.monotonic()
            thread.start()
            samples: list[tuple[float, int, int, float]] = []  # (t, sent, stored, worker RSS MB)
            pending: list[tuple[float, int]] = []
            latencies: list[tuple[float, float]] = []  # (t sent, latency)
            drained_at: float | None = None
            ok_run = 0
            next_sample = 0.0
            while True:
                sink.check()
                worker.check()
                now = time.monotonic() - t0
                pending.append((now, sent[0]))
                have = stored() - base
                t_now = time.monotonic() - t0
                while pending and pending[0][1] <= have:
                    t_sent, _ = pending.pop(0)
                    latencies.append((t_sent, t_now - t_sent))
                if now >= next_sample:
                    rss = wproc.memory_info().rss / 2**20
                    samples.append((now, sent[0], have, rss))
                    next_sample = now + args.sample_s
                    log(
                        f"[soak] t={now:7.1f}s rate {sched.rate_at(now):,.0f}/s sent {sent[0]:,} stored {have:,} "
                        f"lag {sent[0] - have:,} worker RSS {rss:.1f} MB"
                    )
                if now > steady_s + args.burst_seconds:
                    ok_run = ok_run + 1 if sent[0] - have <= drained_lag else 0
                    if ok_run >= 3 and drained_at is None:
                        drained_at = now
                        break
                    if now > steady_s + args.burst_seconds + args.drain_timeout:
                        break
                stop.wait(0.5)  # the probe's sampling period (a measurement interval, not a wait for a condition)
        finally:
            stop.set()
            worker.stop()
            sink.stop()
            store.close()
        total_sent = sent[0]

    steady = [s for s in samples if s[0] <= steady_s]
    warm_end = steady_s / 5
    after_warm = [s for s in steady if s[0] >= warm_end]
    rss_start = after_warm[0][3] if after_warm else float("nan")
    rss_end = steady[-1][3] if steady else float("nan")
    rss_max = max((s[3] for s in samples), default=float("nan"))
    steady_lat = sorted(lat for t, lat in latencies if warm_end <= t <= steady_s)
    p = lambda q: steady_lat[min(len(steady_lat) - 1, int(q * len(steady_lat)))] if steady_lat else float("nan")
    lag_steady_max = max((s[1] - s[2] for s in after_warm), default=0)
    burst_end = steady_s + args.burst_seconds
    lag_burst_max = max((s[1] - s[2] for s in samples if steady_s <= s[0] <= burst_end + args.drain_timeout), default=0)
    drain_s = (drained_at - burst_end) if drained_at is not None else float("nan")
    steady_sent = max((s[1] for s in steady), default=0)
    # What the producer really sent in the burst (it may fall behind its open-loop schedule)
    in_burst = [s for s in samples if steady_s <= s[0] <= burst_end]
    burst_sent_eps = (
        (in_burst[-1][1] - in_burst[0][1]) / max(1e-9, in_burst[-1][0] - in_burst[0][0])
        if len(in_burst) > 1
        else float("nan")
    )
    figures = {
        "rate": args.rate,
        "minutes": args.minutes,
        "sent_eps_steady": steady_sent / max(1e-9, steady[-1][0]) if steady else 0.0,
        "send_errors": send_errors[0],
        "worker_rss_after_warmup_mb": rss_start,
        "worker_rss_end_steady_mb": rss_end,
        "worker_rss_max_mb": rss_max,
        "worker_rss_growth": (rss_end - rss_start) / rss_start if rss_start else float("nan"),
        "memory_flat": float(abs(rss_end - rss_start) <= args.flat_tolerance * rss_start),
        "lag_steady_max": lag_steady_max,
        "p50_s": p(0.50),
        "p99_s": p(0.99),
        "burst_rate": sched.burst_rate,
        "burst_sent_eps": burst_sent_eps,
        "burst_s": args.burst_seconds,
        "lag_burst_max": lag_burst_max,
        "drain_s": drain_s,
        "drained": float(drained_at is not None),
        "events_sent": total_sent,
    }
    print(
        " ".join(f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}" for k, v in figures.items())
        + f" cores={os.cpu_count()}"
    )


if __name__ == "__main__":
    main()
