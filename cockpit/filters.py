"""The viewer's shared controls (range, custom dates, platform) as one value every page loader takes."""

from __future__ import annotations

from dataclasses import dataclass

from cockpit.timeframe import Span, range_span


@dataclass(frozen=True)
class Filters:
    """The viewer's controls, as the callbacks read them (`params.checked_filters` builds it)."""

    range: str = "1h"
    custom_start: str | None = None
    custom_end: str | None = None
    platform: str | None = None  # None: all four platforms

    @staticmethod
    def from_controls(
        range_: str | None, custom_start: str | None, custom_end: str | None, platform: str | None
    ) -> Filters:
        return Filters(range_ or "1h", custom_start, custom_end, platform or None)

    def span(self, now: int) -> Span:
        return range_span(self.range, now, self.custom_start, self.custom_end)
