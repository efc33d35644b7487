"""`python -m alerts.score_csv`: one score per row, streamed, same scores as in-process."""

from __future__ import annotations

import io
import select
import subprocess
import sys
from pathlib import Path

from alerts.anomaly import AnomalyScorer
from alerts.score_csv import parse_time, run

ROOT = Path(__file__).resolve().parents[2]


def _csv(n: int = 600) -> str:
    rows = ["timestamp,value"]
    for i in range(n):
        v = 10.0 + (i % 7) + (500.0 if i == 550 else 0.0)
        rows.append(f"2014-04-01 {i // 60 % 24:02d}:{i % 60:02d}:00,{v}")
    return "\n".join(rows) + "\n"


def test_one_score_per_row_matching_the_scorer() -> None:
    out = io.StringIO()
    assert run(io.StringIO(_csv()), out) == 600
    lines = out.getvalue().splitlines()
    assert lines[0] == "timestamp,value,anomaly_score" and len(lines) == 601
    scores = [float(line.rsplit(",", 1)[1]) for line in lines[1:]]
    assert all(0.0 <= s <= 1.0 for s in scores)
    assert scores[550] > 0.9 and max(scores[:550]) < 0.5  # warm-up rows score 0
    s = AnomalyScorer()
    direct = [s.score(parse_time(r.split(",")[0]), float(r.split(",")[1])) for r in _csv().splitlines()[1:]]
    assert [round(x, 6) for x in direct] == scores


def test_bad_rows_do_not_stop_the_stream() -> None:
    out = io.StringIO()
    text = "timestamp,value\n2014-04-01 00:00:00,1\n2014-04-01 00:05:00,oops\nnot-a-time,3\n2014-04-01 00:10:00,2\n"
    assert run(io.StringIO(text), out, scores_only=True) == 3
    assert out.getvalue().splitlines() == ["0.000000", "0.000000", "0.000000"]


def test_time_formats() -> None:
    assert parse_time("1970-01-01 00:01:00") == 60.0
    assert parse_time("1970-01-01T08:01:00+08:00") == 60.0
    assert parse_time("60") == 60.0 and parse_time("60000000000000") == 60_000_000_000.0


def test_cli_streams_before_the_input_ends(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "alerts.score_csv", "-", "--scores-only"],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        bufsize=1,
    )
    try:
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write("timestamp,value\n2014-04-01 00:00:00,1\n")
        proc.stdin.flush()
        ready, _, _ = select.select([proc.stdout], [], [], 20)
        assert ready, "no score before end of input: not streaming"
        assert proc.stdout.readline().strip() == "0.000000"
        proc.stdin.write("2014-04-01 00:05:00,2\n")
        proc.stdin.close()
        assert proc.stdout.read().split() == ["0.000000"]
        assert proc.wait(20) == 0
    finally:
        proc.kill()


def test_cli_on_a_file(tmp_path: Path) -> None:
    f = tmp_path / "series.csv"
    f.write_text(_csv(50))
    res = subprocess.run(
        [sys.executable, "-m", "alerts.score_csv", str(f)], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert res.returncode == 0 and len(res.stdout.splitlines()) == 51
    res = subprocess.run(
        [sys.executable, "-m", "alerts.score_csv", str(tmp_path / "nope.csv")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert res.returncode == 2
