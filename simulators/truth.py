"""Ground truth: exactly what a run handed to its outputs, so tests can compare the store against it.

Counts are keyed like the pipeline's rollups (event-time minute x platform x province) plus per
resource, so a test asserts equality rather than "close enough". Multi-process runs merge theirs;
deliveries the broker refused are subtracted (`subtract`) so the truth never counts a lost event.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from contracts.events import Click, Event

FORMAT_VERSION = 1
_MINUTE_MS = 60_000


class GroundTruth:
    """Counts of sent events. Not thread-safe: feed it from the send loop only."""

    def __init__(self) -> None:
        self._minute: Counter[tuple[int, str, str]] = Counter()
        self._resource: Counter[str] = Counter()
        self._session_kinds: Counter[str] = Counter()
        self.total_clicks = 0
        self.total_sessions = 0
        self.min_ts: int | None = None
        self.max_ts: int | None = None

    # ------------------------------------------------------------------ feeding
    def add(self, event: Event) -> None:
        """Record one event as sent."""
        self._bounds(event.ts, event.ts)
        if isinstance(event, Click):
            self._minute[(event.ts // _MINUTE_MS * 60, event.platform, event.province)] += 1
            self._resource[event.resource] += 1
            self.total_clicks += 1
        else:
            self._session_kinds[event.kind] += 1
            self.total_sessions += 1

    def add_batch(self, events: Iterable[Event]) -> None:
        """Record a client batch (one Kafka message) as sent."""
        minute, resource, kinds = self._minute, self._resource, self._session_kinds
        lo = hi = None
        clicks = sessions = 0
        for ev in events:
            ts = ev.ts
            lo = ts if lo is None or ts < lo else lo
            hi = ts if hi is None or ts > hi else hi
            if type(ev) is Click:
                minute[(ts // _MINUTE_MS * 60, ev.platform, ev.province)] += 1
                resource[ev.resource] += 1
                clicks += 1
            else:
                kinds[ev.kind] += 1  # type: ignore[union-attr]
                sessions += 1
        self.total_clicks += clicks
        self.total_sessions += sessions
        if lo is not None:
            self._bounds(lo, hi)  # type: ignore[arg-type]

    def add_counts(
        self,
        minute: dict[tuple[int, str, str], int],
        resource: dict[str, int],
        kinds: dict[str, int],
        *,
        clicks: int,
        sessions: int,
        min_ts: int,
        max_ts: int,
    ) -> None:
        """Record pre-counted events (the fast sender counts a block of rows with numpy)."""
        self._minute.update(minute)
        self._resource.update(resource)
        self._session_kinds.update(kinds)
        self.total_clicks += clicks
        self.total_sessions += sessions
        self._bounds(min_ts, max_ts)

    def _bounds(self, lo: int, hi: int) -> None:
        if self.min_ts is None or lo < self.min_ts:
            self.min_ts = lo
        if self.max_ts is None or hi > self.max_ts:
            self.max_ts = hi

    def merge(self, other: GroundTruth) -> GroundTruth:
        """Add another run's counts into this one (multi-process runs); returns self."""
        self._minute.update(other._minute)
        self._resource.update(other._resource)
        self._session_kinds.update(other._session_kinds)
        self.total_clicks += other.total_clicks
        self.total_sessions += other.total_sessions
        for ts in (other.min_ts, other.max_ts):
            if ts is not None:
                self._bounds(ts, ts)
        return self

    def subtract(self, other: GroundTruth) -> GroundTruth:
        """Remove events that were handed over but not delivered (delivery errors); returns self."""
        self._minute.subtract(other._minute)
        self._resource.subtract(other._resource)
        self._session_kinds.subtract(other._session_kinds)
        for c in (self._minute, self._resource, self._session_kinds):
            for k in [k for k, v in c.items() if v <= 0]:
                del c[k]
        self.total_clicks -= other.total_clicks
        self.total_sessions -= other.total_sessions
        return self

    # ------------------------------------------------------------------ reading
    @property
    def total_events(self) -> int:
        return self.total_clicks + self.total_sessions

    def clicks_by_minute_platform_province(self) -> dict[tuple[int, str, str], int]:
        """Clicks per (minute as UTC epoch seconds floored to the minute, platform, province code)."""
        return dict(self._minute)

    def by_resource(self) -> dict[str, int]:
        """Clicks per resource id."""
        return dict(self._resource)

    def sessions_by_kind(self) -> dict[str, int]:
        return dict(self._session_kinds)

    def clicks_by_province(self) -> dict[str, int]:
        out: Counter[str] = Counter()
        for (_, _, prov), n in self._minute.items():
            out[prov] += n
        return dict(out)

    def clicks_by_platform(self) -> dict[str, int]:
        out: Counter[str] = Counter()
        for (_, plat, _), n in self._minute.items():
            out[plat] += n
        return dict(out)

    def clicks_by_day(self, utc_offset_hours: int = 8) -> dict[str, dict[str, int]]:
        """Clicks per local calendar day (ISO date) and province; Beijing time by default."""
        import datetime as dt

        tz = dt.timezone(dt.timedelta(hours=utc_offset_hours))
        out: dict[str, Counter[str]] = {}
        for (minute_s, _, prov), n in self._minute.items():
            day = dt.datetime.fromtimestamp(minute_s, tz).date().isoformat()
            out.setdefault(day, Counter())[prov] += n
        return {d: dict(c) for d, c in sorted(out.items())}

    def __eq__(self, other: object) -> bool:
        """Same counts (the min/max event times are informative only)."""
        ignore = ("min_ts", "max_ts")
        return isinstance(other, GroundTruth) and (
            {k: v for k, v in self._as_dict().items() if k not in ignore}
            == {k: v for k, v in other._as_dict().items() if k not in ignore}
        )

    def __repr__(self) -> str:
        return f"GroundTruth(clicks={self.total_clicks}, sessions={self.total_sessions})"

    # ------------------------------------------------------------------ files
    def _as_dict(self) -> dict[str, Any]:
        return {
            "version": FORMAT_VERSION,
            "total_clicks": self.total_clicks,
            "total_sessions": self.total_sessions,
            "min_ts": self.min_ts,
            "max_ts": self.max_ts,
            "sessions_by_kind": dict(sorted(self._session_kinds.items())),
            "clicks_by_minute_platform_province": [
                [m, plat, prov, n] for (m, plat, prov), n in sorted(self._minute.items())
            ],
            "clicks_by_resource": dict(sorted(self._resource.items())),
        }

    def to_json(self, path: str | Path) -> Path:
        """Write the counts as JSON (written to a temp file, then renamed: never half a file)."""
        path = Path(path)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(self._as_dict(), separators=(",", ":")))
        tmp.replace(path)
        return path

    @classmethod
    def from_json(cls, path: str | Path) -> GroundTruth:
        return cls.from_dict(json.loads(Path(path).read_text()), str(path))

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str = "ground truth") -> GroundTruth:
        """The inverse of the JSON form (also how worker processes hand their counts back)."""
        if data.get("version") != FORMAT_VERSION:
            raise ValueError(f"{where}: ground-truth format {data.get('version')!r}, expected {FORMAT_VERSION}")
        gt = cls()
        gt.total_clicks = int(data["total_clicks"])
        gt.total_sessions = int(data["total_sessions"])
        gt.min_ts, gt.max_ts = data.get("min_ts"), data.get("max_ts")
        gt._session_kinds.update(data["sessions_by_kind"])
        gt._minute.update({(int(m), p, v): int(n) for m, p, v, n in data["clicks_by_minute_platform_province"]})
        gt._resource.update(data["clicks_by_resource"])
        return gt
