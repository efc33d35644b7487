"""`edu-alerts replay`: numbers nobody planned for are refused at the edge, naming the option."""

from __future__ import annotations

import pytest

from alerts.cli import main


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--scale", "nan"], "argument --scale: 'nan' is not a finite number above 0"),
        (["--scale", "-2"], "argument --scale: '-2' is not a finite number above 0"),
        (["--days", "inf"], "argument --days: 'inf' is not a finite number above 0"),
        (["--days", "abc"], "argument --days: 'abc' is not a number"),
        (["--seed", "-1"], "argument --seed: '-1' is negative"),
    ],
)
def test_replay_refuses_bad_numbers_before_running(
    args: list[str], said: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as ended:
        main(["replay", "march-2022", *args])
    assert ended.value.code == 2
    assert said in capsys.readouterr().err
