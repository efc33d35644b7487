"""The school calendar: which days are rest days besides weekends (holidays, a province's own days
off) and which weekend days are school days (the make-up days that come with Chinese holidays).

Why it is a contract: the alerting service reads it from settings (`EDU_CALENDAR_REST_DAYS`,
`EDU_CALENDAR_SCHOOL_DAYS`), the offline replay adds a scenario's announced holidays to it, and the
episode judge asks it for school mornings; all three must agree on what a day is. A baseline that
judged a holiday Wednesday by Wednesdays raised drop alerts in provinces whose traffic was just a
weekend's (see docs/alert-detectors.md, "Holidays").

Days are local (Beijing) day numbers: days since 1970-01-01, the way the baselines count them.
The text form, one item per comma or whitespace: ``2023-04-05``, a range ``2023-04-29..2023-05-03``
(both ends included), either prefixed by a province code for that province alone:
``440000:2023-06-01``.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from dataclasses import dataclass

from contracts.geo import PROVINCE_BY_CODE

__all__ = [
    "NATIONWIDE",
    "CalendarError",
    "SchoolCalendar",
    "format_days",
    "is_weekday",
    "local_day",
    "official_calendar",
    "parse_days",
]

NATIONWIDE = ""
MAX_SPAN_DAYS = 366  # one range longer than a year is a typo, not a holiday
_EPOCH = dt.date(1970, 1, 1)
_ITEM = re.compile(r"^(?:(\d{6}):)?(\d{4}-\d{2}-\d{2})(?:\.\.(\d{4}-\d{2}-\d{2}))?$")

Days = frozenset[tuple[str, int]]  # (province code, or "" for every province; local day number)


class CalendarError(ValueError):
    """A calendar text that cannot be read; the message names the item and why."""


def local_day(d: dt.date) -> int:
    """The local day number of a date (days since 1970-01-01)."""
    return (d - _EPOCH).days


def format_days(days: Days) -> str:
    """The text form of a set of days (one item a day), which `parse_days` reads back."""
    items = sorted((d, p) for p, d in days)
    return ",".join(f"{p + ':' if p else ''}{(_EPOCH + dt.timedelta(days=d)).isoformat()}" for d, p in items)


def _date(text: str, item: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError as exc:
        raise CalendarError(f"{item!r}: {text} is not a date ({exc})") from None


def parse_days(text: str) -> Days:
    """The days a calendar text names; CalendarError (naming the item) for anything else."""
    out: set[tuple[str, int]] = set()
    for item in re.split(r"[\s,]+", text.strip()):
        if not item:
            continue
        m = _ITEM.match(item)
        if m is None:
            raise CalendarError(f"{item!r}: expected DATE, DATE..DATE or PROVINCE:DATE[..DATE] (dates as 2023-04-05)")
        province, first, last = m.group(1) or NATIONWIDE, _date(m.group(2), item), m.group(3)
        if province and province not in PROVINCE_BY_CODE:
            raise CalendarError(f"{item!r}: {province} is not a province code")
        end = _date(last, item) if last else first
        if end < first:
            raise CalendarError(f"{item!r}: the range ends before it begins")
        if (end - first).days >= MAX_SPAN_DAYS:
            raise CalendarError(f"{item!r}: a range of more than {MAX_SPAN_DAYS} days")
        out.update((province, local_day(first) + i) for i in range((end - first).days + 1))
    return frozenset(out)


@dataclass(frozen=True, slots=True)
class SchoolCalendar:
    """Rest days on weekdays and school days on weekends, nationwide or per province."""

    rest: Days = frozenset()
    school: Days = frozenset()

    @classmethod
    def parse(cls, rest: str = "", school: str = "") -> SchoolCalendar:
        return cls(parse_days(rest), parse_days(school))

    def merged(self, other: SchoolCalendar) -> SchoolCalendar:
        return SchoolCalendar(self.rest | other.rest, self.school | other.school)

    def rest_days(self, province: str | None = None) -> frozenset[int]:
        """Rest days that hold for this province (nationwide ones and its own; None: nationwide)."""
        return _of(self.rest, province)

    def school_days(self, province: str | None = None) -> frozenset[int]:
        return _of(self.school, province)

    def is_school_day(self, day: int, province: str | None = None) -> bool:
        """A weekday that is not a rest day, or a weekend day that is a school day (set lookups:
        the judge and the cockpit ask day by day)."""
        if not is_weekday(day):
            return _holds(self.school, day, province)
        return not _holds(self.rest, day, province)


def is_weekday(day: int) -> bool:
    """Monday to Friday (day 0, 1970-01-01, was a Thursday)."""
    return (day + 3) % 7 < 5


def _holds(days: Days, day: int, province: str | None) -> bool:
    return (NATIONWIDE, day) in days or (province is not None and (province, day) in days)


@functools.cache
def official_calendar() -> tuple[SchoolCalendar, int]:
    """The State Council's holidays on weekdays and make-up school days on weekends, as the
    `chinesecalendar` package knows them, and the last year it knows (later years have none)."""
    import chinese_calendar

    rest = frozenset((NATIONWIDE, local_day(d)) for d in chinese_calendar.holidays if d.weekday() < 5)
    school = frozenset((NATIONWIDE, local_day(d)) for d in chinese_calendar.workdays if d.weekday() >= 5)
    return SchoolCalendar(rest, school), max(d.year for d in chinese_calendar.holidays)


def _of(days: Days, province: str | None) -> frozenset[int]:
    return frozenset(d for p, d in days if p == NATIONWIDE or (province is not None and p == province))
