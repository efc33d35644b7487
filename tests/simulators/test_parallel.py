"""One seeded stream, sent as encoded messages, by one process or shared by several.

The fast path (`Generator.messages`) must be the struct path byte for byte; shares must partition
the stream exactly (so the union of N processes is the one-process run and the truth still holds);
`run --processes N` must stop all its processes cleanly on Ctrl-C and still summarise.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from contracts.events import encode
from simulators.files import read_messages
from simulators.generator import Generator, topic_of
from simulators.parallel import RunSpec, run_parallel
from simulators.scenario import load_scenario, with_client_flush
from simulators.truth import GroundTruth

ROOT = Path(__file__).resolve().parents[2]


def _block_truth(messages: list) -> GroundTruth:  # type: ignore[type-arg]
    """Truth as the send loop counts it for messages: per block, rows up to the last message sent."""
    gt, block, hi = GroundTruth(), None, 0
    for m in messages:
        if m.block is not block and block is not None:
            block.add_to(gt, hi)
        block, hi = m.block, m.hi
    if block is not None:
        block.add_to(gt, hi)
    return gt


def test_messages_are_the_encoded_batches() -> None:
    batches = list(Generator("school-week", seed=5, count=30_000).batches())
    msgs = list(Generator("school-week", seed=5, count=30_000).messages())
    assert [m.value for m in msgs] == [encode(b[0] if len(b) == 1 else b) for b in batches]
    assert [m.key for m in msgs] == [b[0].session.encode() for b in batches]
    assert [m.kind for m in msgs] == [topic_of(b) for b in batches]
    assert [m.events for m in msgs] == [len(b) for b in batches]
    expected = GroundTruth()
    for b in batches:
        expected.add_batch(b)
    assert _block_truth(msgs) == expected


def test_shares_partition_the_stream_exactly() -> None:
    whole = list(Generator("school-week", seed=6, count=40_000).messages())
    shares = [list(Generator("school-week", seed=6, count=40_000).messages(k, 3)) for k in range(3)]
    union = sorted((m.index, m.value) for share in shares for m in share)
    assert union == [(m.index, m.value) for m in whole]  # disjoint, and nothing missing
    keys = [{m.key for m in share} for share in shares]
    assert not (keys[0] & keys[1] or keys[0] & keys[2] or keys[1] & keys[2])  # a session in one share
    merged = GroundTruth()
    for share in shares:
        merged.merge(_block_truth(share))
    assert merged == _block_truth(whole)
    assert 0.25 < len(shares[0]) / len(whole) < 0.42
    with pytest.raises(ValueError, match="share"):
        next(Generator("school-week", seed=6).messages(3, 3))


def test_a_longer_client_flush_groups_the_same_events_into_fewer_messages() -> None:
    sc = load_scenario("school-week")
    window = {"start_ms": sc.start_ms + 9 * 3_600_000, "end_ms": sc.start_ms + 10 * 3_600_000}
    default = list(Generator(sc, seed=2, scale=0.01, **window).messages())
    slow = list(Generator(with_client_flush(sc, 600), seed=2, scale=0.01, **window).messages())
    assert _block_truth(slow) == _block_truth(default)
    per_message = [sum(m.events for m in ms) / len(ms) for ms in (default, slow)]
    assert per_message[1] > 2 * per_message[0]


def test_parallel_run_to_files_is_the_one_process_run(tmp_path: Path) -> None:
    spec = RunSpec(scenario="school-week", seed=8, count=20_000, out=str(tmp_path / "run.p{part}.ndjson"), truth=True)
    result = run_parallel(spec, 2)
    assert not result.failures
    assert result.summary.events == 20_000 and len(result.per_process) == 2
    lines = Counter(m.value for k in range(2) for m in read_messages(tmp_path / f"run.p{k}.ndjson"))
    whole = list(Generator("school-week", seed=8, count=20_000).messages())
    assert lines == Counter(m.value for m in whole)
    assert result.truth == _block_truth(whole)


def _wait_for(condition, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)  # polling interval of a condition wait, not a wait for the condition


def test_ctrl_c_stops_every_process_and_summarises(tmp_path: Path) -> None:
    out, truth = tmp_path / "run.ndjson", tmp_path / "truth.json"
    parts = [tmp_path / f"run.p{k}.ndjson" for k in range(2)]
    cmd = [
        sys.executable,
        "-m",
        "simulators.cli",
        "run",
        "--processes",
        "2",
        "--rate",
        "3000",
        "--seed",
        "3",
        "--out",
        str(out),
        "--truth",
        str(truth),
    ]
    proc = subprocess.Popen(
        cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env={**os.environ, "COLUMNS": "200"}
    )
    try:
        _wait_for(
            lambda: all(p.exists() and p.stat().st_size > 0 for p in parts) or proc.poll() is not None,
            120,
            "both processes to write",
        )
        assert proc.poll() is None, proc.stdout.read()  # type: ignore[union-attr]
        proc.send_signal(signal.SIGINT)
        output, _ = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, output
    assert "interrupted" in output and "True" in output
    sent = sum(m.events for p in parts for m in read_messages(p))
    gt = GroundTruth.from_json(truth)
    assert sent > 0 and gt.total_events == sent
    assert f"{sent:,}" in output  # the combined summary counts both processes
