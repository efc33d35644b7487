"""The edu-simulate command: help texts, record -> replay round trip through files, validation."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from simulators.cli import app
from simulators.files import read_messages
from simulators.truth import GroundTruth

runner = CliRunner()


@pytest.mark.parametrize("cmd", [[], ["run"], ["record"], ["replay"], ["scenarios"], ["check"], ["expected"]])
def test_help(cmd: list[str]) -> None:
    result = runner.invoke(app, [*cmd, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output


def test_record_then_replay_roundtrip(tmp_path: Path) -> None:
    rec, t1 = tmp_path / "rec.ndjson.gz", tmp_path / "t1.json"
    r = runner.invoke(app, ["record", "--out", str(rec), "--count", "3000", "--seed", "4", "--truth", str(t1)])
    assert r.exit_code == 0, r.output
    assert sum(m.events for m in read_messages(rec)) == 3000
    out, t2 = tmp_path / "copy.ndjson", tmp_path / "t2.json"
    r = runner.invoke(app, ["replay", str(rec), "--max-speed", "--out", str(out), "--truth", str(t2)])
    assert r.exit_code == 0, r.output
    assert GroundTruth.from_json(t1) == GroundTruth.from_json(t2)
    assert [m.value for m in read_messages(rec)] == [m.value for m in read_messages(out)]


def test_run_to_file_at_rate(tmp_path: Path) -> None:
    out = tmp_path / "run.ndjson"
    r = runner.invoke(app, ["run", "--rate", "50000", "--count", "5000", "--out", str(out), "--seed", "1"])
    assert r.exit_code == 0, r.output
    assert "rate error" in r.output
    assert sum(m.events for m in read_messages(out)) == 5000


def test_check_names_the_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "name: x\nstart: 2022-03-01\nend: 2022-03-02\nbaseline:\n  daily_clicks: 10\n"
        "events:\n  - type: outage\n    province: '990000'\n    start: 2022-03-01\n    end: 2022-03-02\n"
    )
    r = runner.invoke(app, ["check", str(bad)])
    assert r.exit_code == 1
    assert "bad.yaml:8:" in r.output.replace("\n", "") and "990000" in r.output


def test_unreachable_kafka_exits_with_message() -> None:
    r = runner.invoke(app, ["run", "--count", "10", "--bootstrap", "127.0.0.1:1"])
    assert r.exit_code == 3 and "127.0.0.1:1" in r.output


def test_replay_of_a_scenario_takes_a_scale(tmp_path: Path) -> None:
    """--scale on replay: over the same hours, twice the scale sends about twice the events."""
    from simulators.files import read_messages

    times = {}
    for scale in ("0.002", "0.004"):
        out = tmp_path / f"s{scale}.ndjson"
        r = runner.invoke(
            app,
            [
                "replay",
                "--scenario",
                "school-week",
                "--max-speed",
                "--scale",
                scale,
                "--out",
                str(out),
                "--count",
                "30000",
            ],
        )
        assert r.exit_code == 0, r.output
        times[scale] = [m.ts for m in read_messages(out) for _ in range(m.events)]
    until = min(max(t) for t in times.values()) - 3600_000  # a span both cover whole
    n = {k: sum(1 for x in t if x < until) for k, t in times.items()}
    assert 1.8 < n["0.004"] / n["0.002"] < 2.2, n
    r = runner.invoke(app, ["replay", str(tmp_path / "s0.002.ndjson"), "--max-speed", "--scale", "2"])
    assert r.exit_code == 2 and "--scale" in r.output


@pytest.mark.parametrize(
    ("args", "option", "reason"),
    [
        (["rehearse", "march-2022", "--speed", "nan"], "--speed", "not a finite number"),
        (["rehearse", "march-2022", "--scale", "inf"], "--scale", "not a finite number"),
        (["rehearse", "march-2022", "--scale", "0"], "--scale", "must be above 0"),
        (["rehearse", "march-2022", "--history-days", "-3"], "--history-days", "must be at least 0"),
        (["replay", "--scenario", "school-week", "--speed", "-5"], "--speed", "must be above 0"),
        (["replay", "--scenario", "school-week", "--max-speed", "--scale", "NaN"], "--scale", "not a finite"),
        (["record", "--out", "x.ndjson", "--scale", "1e999"], "--scale", "not a finite number"),
        (["run", "--duration", "inf"], "--duration", "not a finite number"),
        (["run", "--client-flush", "abc"], "--client-flush", "not a number"),
        (["run", "--rate", "-1"], "--rate", "rates must be >= 0"),
        (["run", "--rate", "1..nan/5"], "--rate", "finite"),
        (["run", "--rate", "fast"], "--rate", "not a rate"),
        (["run", "--rate", "5:1:2"], "--rate", "RATE:SECONDS"),
        (["run", "--rate", "5:0,6:1"], "--rate", "times must increase"),
        (["run", "--count", "-5"], "--count", ""),
        (["run", "--seed", "-1"], "--seed", ""),
    ],
)
def test_numbers_nobody_planned_for_are_refused_naming_the_option(args: list[str], option: str, reason: str) -> None:
    """nan passes every comparison a command makes further down (nan < 1 is false) and inf every lower
    bound: refused at the edge with the option's name and why, exit 2, no traceback, nothing sent."""
    r = runner.invoke(app, [*args, "--bootstrap", "127.0.0.1:1"] if args[0] != "record" else args)
    assert r.exit_code == 2, r.output
    text = " ".join(r.output.split())
    assert option in text and reason in text, text
    assert r.exception is None or isinstance(r.exception, SystemExit)
