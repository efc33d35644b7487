"""Disk full under chDB: the sink pauses, says so (metric, /healthz), and resumes exactly when space returns.

The chDB data path is a 64 MB tmpfs mounted for this test (the test runs as root; without the right
to mount it is skipped, saying why). `edu-sink` runs as a subprocess on that path with its /metrics
and /healthz on a free port. Rate batches with known totals go to the rates topic; once some are
stored the disk is filled to the last byte, more batches follow, the sink must pause (not die, not
drop), and after the filler is deleted it must store everything, exactly once.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from contracts.settings import settings_env
from contracts.topics import ensure_topics
from ops.local_process import free_port
from tests.conftest import make_settings
from tests.sinks import kill_loop
from tests.sinks.test_sink_fault import Stream
from tests.support import ROOT, wait_for

pytestmark = pytest.mark.integration


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "disk"
    mount.mkdir()
    res = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(mount)], capture_output=True, text=True
    )
    if res.returncode != 0:
        pytest.skip(
            f"cannot mount a size-limited tmpfs here ({res.stderr.strip() or res.returncode}): "
            "the disk-full test needs root or CAP_SYS_ADMIN"
        )
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(path: Path) -> int:
    """Write zeros into `path` until the filesystem is full; returns the bytes written."""
    written = 0
    chunk = b"\0" * (1 << 20)
    with open(path, "wb", buffering=0) as f:
        while True:
            try:
                written += f.write(chunk)
            except OSError:
                break
        while True:  # the last partial megabyte, down to the byte
            try:
                if not f.write(b"\0" * 4096):
                    break
                written += 4096
            except OSError:
                break
    return written


def http(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def sample(port: int, name: str) -> float:
    _, text = http(port, "/metrics")
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name} not in /metrics")


def test_disk_full_pauses_the_sink_and_it_resumes_exactly(kafka: str, small_disk: Path, tmp_path: Path) -> None:
    port = free_port()
    s = make_settings(
        kafka,
        clickhouse_engine="chdb",
        chdb_path=small_disk / "chdb",
        sink_batch_rows=1000,
        sink_flush_interval_s=0.2,
        sink_retry_max_s=1.0,
        sink_metrics_port=port,
    )
    ensure_topics(s)
    env = settings_env(s)
    sink = kill_loop.SinkProcess(env, tmp_path / "sink.log")
    stream = Stream(s.topic_rates, s.topic_partitions, seed=21)
    filler = small_disk / "filler"
    try:
        sink.start()
        wait_for(
            lambda: sink.assigned(s.sink_group), 90, "the sink assigned", describe=lambda: sink.since_start()[-2000:]
        )
        stream.produce(kafka, 100)
        wait_for(lambda: sample(port, "edu_sink_batches_written_total") >= 1, 60, "a first stored flush")
        assert http(port, "/healthz")[0] == 200

        filled = fill(filler)
        assert filled > 0
        stream.produce(kafka, 200)  # arrives while the disk is full
        wait_for(
            lambda: sample(port, "edu_sink_store_up") == 0 and sample(port, "edu_sink_paused") == 1,
            60,
            "the sink to pause on the full disk",
            describe=lambda: sink.since_start()[-3000:],
        )
        code, body = http(port, "/healthz")
        health = json.loads(body)
        assert code == 503 and health["status"] == "paused" and health["store_up"] is False
        errors = " ".join(str(x["error"]) for x in health["sinks"] if x["error"])
        assert "transient" in errors and ("SPACE" in errors.upper()), errors
        assert sink.proc is not None and sink.proc.poll() is None, "the sink died on a full disk"
        retries = sample(port, "edu_sink_flush_retries_total")
        wait_for(lambda: sample(port, "edu_sink_flush_retries_total") >= retries + 2, 30, "retries while full")

        filler.unlink()  # space returns
        wait_for(
            lambda: kill_loop._committed(kafka, s.sink_group, s.topic_rates) == stream.end_offsets,
            120,
            "every batch stored after space returned",
            describe=lambda: sink.since_start()[-3000:],
        )
        assert sample(port, "edu_sink_store_up") == 1 and sample(port, "edu_sink_paused") == 0
        code, body = http(port, "/healthz")
        assert code == 200 and json.loads(body)["newest_data_s"] is not None
        sink.stop()
        assert sink.proc is not None and sink.proc.returncode == 0, sink.since_start()[-3000:]
        out = subprocess.run(
            [
                sys.executable,
                "-m",
                "tests.sinks.kill_loop",
                str(s.chdb_path),
                s.clickhouse_database,
                s.sink_group,
                s.topic_rates,
            ],
            cwd=ROOT,
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        got = json.loads(out.stdout.strip().splitlines()[-1])
    finally:
        sink.stop()
    assert got["clicks"] == {f"{pl}|{pr}": n for (pl, pr), n in stream.clicks.items()}
    assert got["late"] == {f"{pl}|{pr}": n for (pl, pr), n in stream.late.items()}
    assert got["hour"] == sum(stream.clicks.values()) == 300 * 90
    assert got["rejects"] == stream.rejects
