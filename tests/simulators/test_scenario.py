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


HOLIDAYS = """\
name: h
start: 2023-04-20
end: 2023-05-08
baseline:
  daily_clicks: 1440000
events:
  - type: holiday
    start: 2023-04-29
    end: 2023-05-04
  - type: workday
    start: 2023-04-23
    end: 2023-04-24
  - type: holiday
    province: "440000"
    start: 2023-05-05T00:00:00+08:00
    end: 2023-05-05T18:00:00+08:00
"""


def _local_day(iso: str) -> int:
    import datetime as dt

    return (dt.date.fromisoformat(iso) - dt.date(1970, 1, 1)).days


def test_holidays_and_make_up_days_are_the_scenarios_calendar() -> None:
    cal = parse_scenario(HOLIDAYS).calendar()
    assert cal.rest_days() == {_local_day(f"2023-{d}") for d in ("04-29", "04-30", "05-01", "05-02", "05-03")}
    assert cal.rest_days("440000") == cal.rest_days() | {_local_day("2023-05-05")}  # its noon is covered
    assert cal.school_days() == {_local_day("2023-04-23")}


def test_a_make_up_sunday_has_a_mondays_traffic_and_a_holiday_a_weekends() -> None:
    """The generator's side of the calendar: what the alert engine is told is what it is sent."""
    import numpy as np

    from simulators.model import TrafficModel

    sc = parse_scenario(HOLIDAYS)
    model = TrafficModel(sc)
    day_ms, bj_ms = 86_400_000, 8 * 3_600_000

    def day_curve(iso: str) -> np.ndarray:
        start = _local_day(iso) * day_ms - bj_ms
        return model.clicks_per_minute(start + 60_000 * np.arange(1440)).sum(axis=(1, 2))

    monday, sunday, make_up = day_curve("2023-04-24"), day_curve("2023-04-30"), day_curve("2023-04-23")
    assert np.allclose(make_up, monday)
    holiday_tuesday, saturday = day_curve("2023-05-02"), day_curve("2023-05-06")
    # the holiday's shape is the weekend's, at 0.7 of a Tuesday's level (the weekly factors: Tue 1.0, Sat 0.72)
    assert np.allclose(holiday_tuesday / holiday_tuesday.sum(), saturday / saturday.sum())
    assert np.isclose(holiday_tuesday.sum() / saturday.sum(), 0.7 / 0.72)
    assert not np.allclose(sunday / sunday.sum(), monday / monday.sum())


def test_a_workday_needs_an_end() -> None:
    text = HOLIDAYS.replace("    end: 2023-04-24\n", "")
    with pytest.raises(ScenarioError, match="workday event needs an end"):
        parse_scenario(text, "bad.yaml")
