"""The cockpit's seasonal baselines follow the alerting's calendar: a holiday is compared with rest
days, a make-up school day with school days, an ordinary day skips weeks whose weekday was not."""

from __future__ import annotations

import datetime as dt

from cockpit.seasonal import WEEK, reference_offsets
from cockpit.surge import load_surge_basis
from cockpit.timeframe import DAY, MINUTE
from contracts.beijing import BEIJING
from contracts.calendar import SchoolCalendar

LABOUR_DAY = SchoolCalendar.parse(rest="2023-05-01..2023-05-03", school="2023-04-23,2023-05-06")


def _at(iso: str) -> int:
    return int(dt.datetime.fromisoformat(iso).replace(tzinfo=BEIJING).timestamp())


def _days_back(t: int, offsets: list[int]) -> list[str]:
    return [dt.datetime.fromtimestamp(t - o, BEIJING).date().isoformat() for o in offsets]


def test_without_a_calendar_it_is_the_same_weekday_of_four_weeks() -> None:
    t = _at("2023-05-02T09:00")
    assert reference_offsets(t, SchoolCalendar()) == [WEEK, 2 * WEEK, 3 * WEEK, 4 * WEEK]


def test_a_holiday_is_compared_with_the_latest_rest_days_and_a_make_up_day_with_school_days() -> None:
    holiday = _at("2023-05-02T09:00")  # Tuesday, Labour Day
    assert _days_back(holiday, reference_offsets(holiday, LABOUR_DAY)) == [
        "2023-05-01",
        "2023-04-30",
        "2023-04-29",
        "2023-04-22",  # Sunday 23 April was a make-up school day
    ]
    make_up = _at("2023-05-06T09:00")  # Saturday, a school day
    assert _days_back(make_up, reference_offsets(make_up, LABOUR_DAY)) == [
        "2023-05-05",
        "2023-05-04",
        "2023-04-28",
        "2023-04-27",
    ]
    # the Tuesday after: the holiday Tuesday is skipped, four plain Tuesdays remain
    after = _at("2023-05-09T09:00")
    assert _days_back(after, reference_offsets(after, LABOUR_DAY)) == [
        "2023-04-25",
        "2023-04-18",
        "2023-04-11",
        "2023-04-04",
    ]


class _Store:
    """Events by province: 100 a minute on school days, 40 on rest days (by the true calendar)."""

    def __init__(self, calendar: SchoolCalendar) -> None:
        self.calendar = calendar

    def _rate(self, t: int) -> int:
        return 100 if LABOUR_DAY.is_school_day((t + 8 * 3600) // DAY) else 40

    def series(self, start: int, end: int, step: int = MINUTE, platform: str | None = None) -> list[tuple[int, int]]:
        return [(m, self._rate(m)) for m in range(start - start % MINUTE, end, MINUTE)]

    def total_by_province(self, start: int, end: int, platform: str | None = None) -> dict[str, int]:
        return {"440000": self._rate(start) * (end - start) // MINUTE}


def test_the_map_reads_a_make_up_sunday_at_its_level_only_when_told() -> None:
    now = _at("2023-04-23T10:00")  # the make-up Sunday
    told, basis = load_surge_basis(_Store(LABOUR_DAY), now)  # type: ignore[arg-type]
    assert basis == "seasonal" and told == {"440000": 1.0}
    untold, _ = load_surge_basis(_Store(SchoolCalendar()), now)  # type: ignore[arg-type]
    assert untold == {"440000": 2.5}  # every province would be highlighted as surging
