"""Checks of every value a viewer can send (controls, URL parameters): a bad one is refused with a
400 that names the parameter, never a 500 from deep inside a query, and never logged whole.

`BadParameter` is turned into a 400 JSON answer by `cockpit.hardening`; `clip` bounds any value put
in a message or a log line, so a 100 MB value costs one short line.
"""

from __future__ import annotations

from typing import Any

from cockpit.filters import Filters
from cockpit.i18n import LANGS
from cockpit.timeframe import RANGES, parse_day
from contracts.geo import PLATFORMS
from contracts.settings import Settings

CLIP = 80  # characters of a bad value kept in a message or log line
MEASURES: tuple[str, ...] = ("rate", "total", "surge")


class BadParameter(ValueError):
    """A value outside its parameter's domain: answered with HTTP 400."""

    def __init__(self, name: str, value: Any, expected: str) -> None:
        super().__init__(f"bad value for {name}: {clip(value)} (expected {expected})")
        self.name = name


def clip(value: Any, limit: int = CLIP) -> str:
    """repr of `value`, cut to `limit` characters (with the original length when cut)."""
    text = repr(value) if not isinstance(value, str) else repr(value[: limit + 1])
    return text if len(text) <= limit else f"{text[:limit]}… ({len(str(value))} chars)"


def checked_lang(value: Any) -> str:
    if value is None:
        return "zh"
    if value not in LANGS:
        raise BadParameter("lang", value, "/".join(LANGS))
    return str(value)


def checked_measure(value: Any) -> str:
    if value is None:
        return "rate"
    if value not in MEASURES:
        raise BadParameter("measure", value, "/".join(MEASURES))
    return str(value)


def checked_platform(value: Any) -> str | None:
    if value in (None, ""):
        return None
    if value not in PLATFORMS:
        raise BadParameter("platform", value, "one of " + "/".join(PLATFORMS))
    return str(value)


def checked_range(value: Any) -> str:
    if value is None:
        return "1h"
    if value not in RANGES:
        raise BadParameter("range", value, "one of " + "/".join(RANGES))
    return str(value)


def checked_day(name: str, value: Any) -> str | None:
    if value in (None, ""):
        return None
    if not isinstance(value, str) or len(value) > 32 or parse_day(value) is None:
        raise BadParameter(name, value, "a date YYYY-MM-DD")
    return value


def checked_filters(range_: Any, c0: Any, c1: Any, platform: Any, settings: Settings | None = None) -> Filters:
    """The overview's controls as `Filters`, every value checked; a custom range is at most
    `cockpit_max_report_days` long."""
    kind = checked_range(range_)
    start, end = checked_day("start_date", c0), checked_day("end_date", c1)
    if kind == "custom" and start and end:
        limit = (settings or Settings()).cockpit_max_report_days
        days = ((parse_day(end) or 0) - (parse_day(start) or 0)) // 86400 + 1
        if days > limit:
            raise BadParameter("custom range", f"{start}..{end}", f"at most {limit} days")
    return Filters.from_controls(kind, start, end, checked_platform(platform))


def checked_rotate(value: Any) -> float | None:
    if value in (None, ""):
        return None
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        raise BadParameter("rotate", value, "seconds between 5 and 3600") from None
    if not 5 <= seconds <= 3600:
        raise BadParameter("rotate", value, "seconds between 5 and 3600")
    return seconds


def checked_wall(value: Any) -> bool:
    if value in (None, "", "0", "false", "no"):
        return False
    if value in ("1", "true", "yes"):
        return True
    raise BadParameter("wall", value, "1 or 0")


KIOSK: dict[str, Any] = {
    "lang": checked_lang,
    "platform": checked_platform,
    "range": checked_range,
    "rotate": checked_rotate,
    "wall": checked_wall,
}


def checked_kiosk(args: dict[str, str]) -> dict[str, Any]:
    """A page URL's query parameters (`?wall=1&lang=zh&platform=k12&range=1h&rotate=30`), checked;
    unknown names are refused too, so a typo is not silently ignored on a wall screen."""
    out: dict[str, Any] = {}
    for name, value in args.items():
        check = KIOSK.get(name)
        if check is None:
            raise BadParameter("query parameter", name, "one of " + ", ".join(KIOSK))
        out[name] = check(value)
    return out
