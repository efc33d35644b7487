from pathlib import Path

import pytest

from simulators.scenario import SCENARIO_DIR, ScenarioError, load_scenario, parse_scenario, scenario_names

GOOD = """\
name: t
start: 2022-03-01
end: 2022-03-02
baseline:
  daily_clicks: 1000
events:
  - type: closure
    provinces: ["210000"]
    start: 2022-03-01T08:00:00+08:00
    factor: 3
"""


def test_every_shipped_scenario_loads() -> None:
    names = scenario_names()
    assert {"march-2022", "school-week", "one-province-closure"} <= set(names)
    for path in sorted(SCENARIO_DIR.glob("*.yaml")):
        sc = load_scenario(path)
        assert sc.end_ms > sc.start_ms and sc.daily_clicks > 0


def test_good_minimal() -> None:
    sc = parse_scenario(GOOD)
    assert sc.events[0].provinces == frozenset({"210000"}) and sc.events[0].line == 7


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        (GOOD.replace('["210000"]', '["210000", "999999"]'), 8, "unknown province '999999'"),
        (GOOD.replace("daily_clicks: 1000", "daily_clicks: -5"), 5, "negative"),
        (GOOD.replace("factor: 3", "factor: -3"), 10, "negative"),
        (
            GOOD + "  - type: closure\n    province: '210000'\n    start: 2022-03-01T12:00:00+08:00\n    factor: 5\n",
            11,
            "overlaps the closure event at line 7",
        ),
        (GOOD.replace("type: closure", "type: explosion"), 7, "unknown event type"),
        (GOOD.replace("  daily_clicks", "  daily_clics"), 5, "unknown key 'daily_clics'"),
        (GOOD.replace("end: 2022-03-02", "end: yesterday"), 3, "not an ISO date"),
        (GOOD.replace("factor: 3", "factor: [3"), 11, "flow sequence at line 10"),
    ],
)
def test_bad_scenarios_name_the_line(text: str, line: int, words: str) -> None:
    with pytest.raises(ScenarioError) as err:
        parse_scenario(text, "bad.yaml")
    assert str(err.value).startswith(f"bad.yaml:{line}:"), str(err.value)
    assert words in str(err.value)


def test_non_overlapping_same_type_events_are_fine() -> None:
    text = GOOD.replace("factor: 3", "factor: 3\n    end: 2022-03-01T10:00:00+08:00") + (
        "  - type: closure\n    province: '210000'\n    start: 2022-03-01T12:00:00+08:00\n    factor: 5\n"
    )
    assert len(parse_scenario(text).events) == 2


def test_unknown_name_lists_shipped(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="march-2022"):
        load_scenario("no-such-scenario")
