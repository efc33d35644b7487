"""The sink kill loop: `edu-sink` as a subprocess, SIGKILLed at random instants while rate batches flow.

Used by `tests/sinks/test_sink_kill.py` (a short loop per engine) and `bench/sink_kill.py` (the full
200,000 events and 20+ kills). Rate batches with known totals go straight to the rates topic (the
workers' output contract: `tests/sinks/test_sink_fault.Stream`), so the truth is exact by
construction. Each round starts the sink, waits until its first flush is stored (its /metrics), lets
it run for a random time while it works through the backlog the restart left (the kill instant:
anywhere in a flush, between two inserts or inside one) and kills it.
A last run drains the topic; then every table must hold exactly the truth.

With chDB the store belongs to the sink process (one process per data path): the drain is seen
through the group's Kafka offsets (committed after each stored flush), and the totals are read by a
checker subprocess once the sink has stopped.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from contracts.settings import Settings
from tests.support import ROOT, producer, wait_for


@dataclass
class Result:
    engine: str
    kills: int = 0
    resumed: int = 0  # restarts that found a flush cut off mid-way and completed it
    settled: int = 0  # uncertain steps settled from the tables' parts
    batches: int = 0
    events_sent: int = 0
    clicks_sent: int = 0
    clicks_stored: int = 0
    hour_stored: int = 0
    exact: bool = False
    seconds: float = 0.0
    startup_s: list[float] = field(default_factory=list)  # sink start to its first flush, per round
    flushes_before_kill: list[float] = field(default_factory=list)  # per round
    mismatches: list[str] = field(default_factory=list)

    def line(self) -> str:
        return (
            f"engine={self.engine} kills={self.kills} resumed_flushes={self.resumed} settled_steps={self.settled} "
            f"events_sent={self.events_sent} clicks_sent={self.clicks_sent} clicks_stored={self.clicks_stored} "
            f"clicks_hour_stored={self.hour_stored} exact={int(self.exact)} seconds={self.seconds:.0f} "
            f"median_restart_s={sorted(self.startup_s)[len(self.startup_s) // 2] if self.startup_s else 0:.1f}"
        )


class PacedStream(threading.Thread):
    """Produces `n` seeded rate batches at `per_s`, recording the ground truth and end offsets."""

    def __init__(self, stream: Any, bootstrap: str, n: int, per_s: float) -> None:
        super().__init__(name="rates-producer", daemon=True)
        self.stream, self.bootstrap, self.n, self.per_s = stream, bootstrap, n, per_s
        self.error: BaseException | None = None

    def run(self) -> None:
        from contracts.rates import encode_batch

        try:
            prod = producer(self.bootstrap)
            futures = []
            t0 = time.monotonic()
            for i in range(self.n):
                delay = t0 + i / self.per_s - time.monotonic()
                if delay > 0:
                    time.sleep(delay)  # pacing of a live stream, not a wait for a condition
                p, b = self.stream.make(self.stream.sent)
                futures.append(prod.send(self.stream.topic, partition=p, value=encode_batch(b)))
                self.stream.sent += 1
            prod.flush(120)
            for f in futures:
                meta = f.get(timeout=120)
                ends = self.stream.end_offsets
                ends[meta.partition] = max(ends.get(meta.partition, 0), meta.offset + 1)
            prod.close()
        except BaseException as err:  # surfaced by the caller
            self.error = err


class SinkProcess:
    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.env, self.log_path = env, log_path
        self.proc: subprocess.Popen[bytes] | None = None
        self.start_at = 0

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def start(self) -> None:
        self.start_at = len(self.log_text())
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "sinks.cli", "run"], cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT
            )

    def since_start(self) -> str:
        return self.log_text()[self.start_at :]

    def flushed(self, port: int) -> bool:
        """The sink has stored a first flush since it started (its batches counter, on /metrics)."""
        return self.batches(port) >= 1

    def batches(self, port: int) -> float:
        """Flushes stored since the sink started (its batches counter, on /metrics; 0 if not up yet)."""
        import urllib.request

        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(f"sink exited with {self.proc.returncode}:\n{self.since_start()[-3000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as resp:
                text = resp.read().decode()
        except OSError:
            return 0.0
        for line in text.splitlines():
            if line.startswith("edu_sink_batches_written_total "):
                return float(line.split()[1])
        return 0.0

    def assigned(self, group: str) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(f"sink exited with {self.proc.returncode}:\n{self.since_start()[-3000:]}")
        return f"{group}: assigned partitions [" in self.since_start()

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(30)


def _committed(bootstrap: str, group: str, topic: str) -> dict[int, int]:
    from kafka import KafkaAdminClient

    admin = KafkaAdminClient(bootstrap_servers=bootstrap.split(","))
    try:
        got = admin.list_consumer_group_offsets(group)
        return {tp.partition: meta.offset for tp, meta in got.items() if tp.topic == topic}
    finally:
        admin.close()


def read_store(store: Any, group: str, topic: str) -> dict[str, Any]:
    """Totals the check compares, as JSON-able values (also printed by the chDB checker)."""
    from sinks.batch import stored_offsets

    db = store.database
    clicks = {
        f"{pl}|{pr}": int(n)
        for pl, pr, n in store.query(
            f"SELECT toString(platform), toString(province), sum(clicks) FROM {db}.clicks_minute GROUP BY platform, province"
        )
    }
    late = {
        f"{pl}|{pr}": int(n)
        for pl, pr, n in store.query(
            f"SELECT toString(platform), toString(province), sum(events) FROM {db}.late_events GROUP BY platform, province"
        )
    }
    return {
        "clicks": clicks,
        "late": late,
        "hour": int(store.query(f"SELECT sum(clicks) FROM {db}.clicks_hour")[0][0] or 0),
        "rejects": int(store.query(f"SELECT sum(events) FROM {db}.rejects_minute")[0][0] or 0),
        "offsets": {str(p): o for p, o in stored_offsets(store, group, topic).items()},
    }


def run(
    settings: Settings,
    workdir: Path,
    batches: int,
    kills: int,
    per_s: float,
    seed: int = 12,
    max_kill_delay_s: float = 0.6,
    server_store: Any = None,
    say: Any = print,
    min_resumed: int = 0,
    max_kills: int = 0,
) -> Result:
    """Run the loop; `settings` name the engine and a fresh database; returns what was seen.

    With `min_resumed`, kills go on past `kills` (up to `max_kills`) until that many restarts have
    found a flush cut off mid-way: a kill lands inside a flush only by chance."""
    from contracts.settings import settings_env
    from contracts.topics import ensure_topics
    from ops.local_process import free_port
    from tests.sinks.test_sink_fault import EVENTS_PER_BATCH, Stream

    t0 = time.monotonic()
    rng = random.Random(seed)
    port = free_port()
    settings = settings.model_copy(update={"sink_metrics_port": port})
    result = Result(engine=settings.clickhouse_engine, batches=batches, events_sent=batches * EVENTS_PER_BATCH)
    ensure_topics(settings)
    env = settings_env(settings)
    env["PYTHONUNBUFFERED"] = "1"
    sink = SinkProcess(env, workdir / f"sink-{settings.clickhouse_engine}.log")
    stream = Stream(settings.topic_rates, settings.topic_partitions, seed=seed)
    sender = PacedStream(stream, settings.kafka_bootstrap, batches, per_s)
    sender.start()
    try:
        k = 0
        while k < kills or (sink.log_text().count("resuming a flush interrupted") < min_resumed and k < max_kills):
            started = time.monotonic()
            sink.start()
            # Once the stream has ended and been stored, a restarted sink has nothing to flush.
            wait_for(
                lambda: sink.flushed(port) or (not sender.is_alive() and sink.assigned(settings.sink_group)),
                90,
                f"sink run {k}: a first flush stored",
                describe=lambda: sink.since_start()[-2000:],
            )
            result.startup_s.append(time.monotonic() - started)
            time.sleep(rng.uniform(0.0, max_kill_delay_s))  # the kill instant: random, not a condition
            result.flushes_before_kill.append(sink.batches(port))
            sink.kill()
            result.kills += 1
            k += 1
            if k % 5 == 4:
                say(f"{settings.clickhouse_engine}: {result.kills} kills, {stream.sent} of {batches} batches sent")
        sink.start()
        sender.join(600)
        assert not sender.is_alive() and sender.error is None, f"producer: {sender.error!r}"

        def drained() -> bool:
            sink.assigned(settings.sink_group)  # raises if the sink exited
            if server_store is not None:
                got = read_store(server_store, settings.sink_group, settings.topic_rates)["offsets"]
                return {int(p): o for p, o in got.items()} == stream.end_offsets
            return _committed(settings.kafka_bootstrap, settings.sink_group, settings.topic_rates) == stream.end_offsets

        wait_for(drained, 180, "every rate batch stored", interval=0.5)
        sink.stop()
        if server_store is not None:
            got = read_store(server_store, settings.sink_group, settings.topic_rates)
        else:
            out = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "tests.sinks.kill_loop",
                    str(settings.chdb_path),
                    settings.clickhouse_database,
                    settings.sink_group,
                    settings.topic_rates,
                ],
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
                check=True,
            )
            got = json.loads(out.stdout.strip().splitlines()[-1])
    finally:
        sink.stop()
    text = sink.log_text()
    result.resumed = text.count("resuming a flush interrupted")
    result.settled = text.count("settled step")
    truth_clicks = {f"{pl}|{pr}": n for (pl, pr), n in stream.clicks.items()}
    truth_late = {f"{pl}|{pr}": n for (pl, pr), n in stream.late.items()}
    result.clicks_sent = sum(stream.clicks.values())
    result.clicks_stored = sum(got["clicks"].values())
    result.hour_stored = got["hour"]
    if got["clicks"] != truth_clicks:
        result.mismatches.append(
            f"clicks: {Counter(got['clicks']) - Counter(truth_clicks)} extra, "
            f"{Counter(truth_clicks) - Counter(got['clicks'])} missing"
        )
    if got["late"] != truth_late:
        result.mismatches.append("late events differ")
    if got["hour"] != result.clicks_sent:
        result.mismatches.append(f"clicks_hour holds {got['hour']}, sent {result.clicks_sent}")
    if got["rejects"] != stream.rejects:
        result.mismatches.append(f"rejects {got['rejects']} != {stream.rejects}")
    if {int(p): o for p, o in got["offsets"].items()} != stream.end_offsets:
        result.mismatches.append(f"offsets {got['offsets']} != {stream.end_offsets}")
    result.exact = not result.mismatches
    result.seconds = time.monotonic() - t0
    return result


def _check(path: str, database: str, group: str, topic: str) -> None:
    """Checker subprocess for chDB: open the store the (stopped) sink wrote, print its totals."""
    from sinks.store import ChdbStore

    store = ChdbStore(path, database)
    try:
        print(json.dumps(read_store(store, group, topic)))
    finally:
        store.close()


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    _check(*sys.argv[1:5])
