"""The school calendar: its text form, refused with a reason, and the days it makes school days."""

from __future__ import annotations

import datetime as dt
import random
import string

import pytest

from contracts.calendar import CalendarError, SchoolCalendar, local_day, parse_days
from contracts.settings import SettingsError, load_settings

GUANGDONG = "440000"


def _d(text: str) -> int:
    return local_day(dt.date.fromisoformat(text))


def test_dates_ranges_and_provinces() -> None:
    days = parse_days(" 2023-04-05,2023-04-29..2023-05-03\n440000:2023-06-01..2023-06-02 ")
    assert ("", _d("2023-04-05")) in days
    assert {("", _d(f"2023-{d}")) for d in ("04-29", "04-30", "05-01", "05-02", "05-03")} <= days
    assert {(GUANGDONG, _d("2023-06-01")), (GUANGDONG, _d("2023-06-02"))} <= days
    assert len(days) == 1 + 5 + 2
    assert parse_days("") == frozenset() and parse_days(" , ,") == frozenset()


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("2023-02-30", "not a date"),
        ("2023-05-03..2023-04-29", "ends before it begins"),
        ("999999:2023-04-05", "not a province code"),
        ("2023-01-01..2025-01-01", "more than"),
        ("5 April", "expected DATE"),
        ("2023-04-05..", "expected DATE"),
        ("44:2023-04-05", "expected DATE"),
    ],
)
def test_refusals_name_the_item_and_why(text: str, why: str) -> None:
    with pytest.raises(CalendarError, match=why) as info:
        parse_days(f"2023-10-01, {text}")
    assert text.split()[0] in str(info.value)


def test_any_text_is_days_or_a_refusal() -> None:
    rng = random.Random(18)
    pieces = ["2023-04-05", "..", ":", "440000", ",", " ", "-", "2023-13-01", "0", "9" * 7, "\x00", "\u00e9"]
    for _ in range(5000):
        if rng.random() < 0.5:
            text = "".join(rng.choice(pieces) for _ in range(rng.randrange(8)))
        else:
            text = "".join(rng.choice(string.printable) for _ in range(rng.randrange(30)))
        try:
            days = parse_days(text)
        except CalendarError:
            continue
        assert all(isinstance(p, str) and isinstance(d, int) for p, d in days)


def test_school_days_follow_weekdays_but_for_rest_and_make_up_days() -> None:
    cal = SchoolCalendar.parse(rest="2023-05-01..2023-05-03, 440000:2023-06-01", school="2023-04-23")
    assert not cal.is_school_day(_d("2023-05-02"))  # a holiday Tuesday
    assert cal.is_school_day(_d("2023-05-04"))  # the Thursday after it
    assert cal.is_school_day(_d("2023-04-23"))  # a make-up Sunday
    assert not cal.is_school_day(_d("2023-04-30"))  # an ordinary Sunday
    assert not cal.is_school_day(_d("2023-06-01"), GUANGDONG)  # Guangdong's own day off
    assert cal.is_school_day(_d("2023-06-01"), "110000") and cal.is_school_day(_d("2023-06-01"))
    assert cal.rest_days(GUANGDONG) == cal.rest_days() | {_d("2023-06-01")}


def test_settings_read_the_calendar_and_name_a_bad_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EDU_CALENDAR_REST_DAYS", "2023-10-02..2023-10-06")
    monkeypatch.setenv("EDU_CALENDAR_SCHOOL_DAYS", "2023-10-07,2023-10-08")
    cal = load_settings().school_calendar
    assert not cal.is_school_day(_d("2023-10-04")) and cal.is_school_day(_d("2023-10-08"))
    monkeypatch.setenv("EDU_CALENDAR_REST_DAYS", "2023-10-02..2023-09-30")
    with pytest.raises(SettingsError, match="EDU_CALENDAR_REST_DAYS.*ends before it begins"):
        load_settings()


def test_the_text_form_reads_back() -> None:
    cal = SchoolCalendar.parse(rest="2023-05-01..2023-05-03, 440000:2023-06-01", school="2023-04-23")
    from contracts.calendar import format_days

    assert parse_days(format_days(cal.rest)) == cal.rest and parse_days(format_days(cal.school)) == cal.school
    assert format_days(frozenset()) == ""


def test_the_official_calendar_is_the_state_councils(monkeypatch: pytest.MonkeyPatch) -> None:
    """National Day 2023: Mon 2 - Fri 6 October rest, Sat 7 and Sun 8 October make-up school days;
    off by default, on with EDU_CALENDAR_OFFICIAL, and the days named in settings still count."""
    from contracts.calendar import official_calendar

    official, last = official_calendar()
    assert last >= 2026
    assert {_d(f"2023-10-0{i}") for i in range(2, 7)} <= official.rest_days()
    assert {_d("2023-10-07"), _d("2023-10-08")} <= official.school_days()
    assert all((d + 3) % 7 < 5 for d in official.rest_days()) and all((d + 3) % 7 >= 5 for d in official.school_days())
    monkeypatch.setenv("EDU_CALENDAR_REST_DAYS", "440000:2023-06-01")
    assert load_settings().school_calendar.rest_days() == frozenset()
    monkeypatch.setenv("EDU_CALENDAR_OFFICIAL", "true")
    cal = load_settings().school_calendar
    assert not cal.is_school_day(_d("2023-10-04")) and cal.is_school_day(_d("2023-10-08"))
    assert not cal.is_school_day(_d("2023-06-01"), GUANGDONG)


def test_the_service_warns_when_the_official_calendar_has_not_reached_this_year() -> None:
    from alerts.cli import warn_calendar_end
    from contracts.calendar import official_calendar
    from contracts.settings import Settings

    last = official_calendar()[1]
    on = Settings(calendar_official=True)
    assert warn_calendar_end(on, dt.date(last, 12, 31)) is None
    msg = warn_calendar_end(on, dt.date(last + 1, 1, 1))
    assert msg is not None and str(last + 1) in msg and "EDU_CALENDAR_REST_DAYS" in msg
    assert warn_calendar_end(Settings(), dt.date(last + 1, 1, 1)) is None
