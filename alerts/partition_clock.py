"""The alert service's event-time clock over the rates partitions it reads.

A minute may close only when every partition has passed it, or rows of a partition read behind the
others would all arrive late. But a partition that is caught up and has carried no events for a
while (an empty partition, a quiet night, a worker down for that partition) must not hold the clock
forever, or no alert would ever fire. So a partition holds the clock while it has a backlog to read
or has carried events within `idle_s`; an idle one stops holding until its next events.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable


class PartitionClock:
    def __init__(self, idle_s: float, now: Callable[[], float] = time.monotonic) -> None:
        self.idle_s = idle_s
        self._now = now
        self.watermarks: dict[int, float] = {}  # event time (s) each partition has reached
        self.assigned: set[int] = set()  # partitions this instance owns (empty: any)
        self._since: dict[int, float] = {}  # wall time of each partition's last events (or assignment)
        self._caught_up: set[int] = set()  # partitions whose position has reached the high-water mark

    def assign(self, partitions: Iterable[int]) -> None:
        now = self._now()
        new = set(partitions)
        for p in new - self.assigned:
            self._since[p] = now
        self.assigned = new

    def caught_up(self, partitions: Iterable[int]) -> None:
        """The partitions with nothing left to read right now (position == high-water mark)."""
        self._caught_up = set(partitions)

    def observe(self, partition: int, watermark_ms: int, events: int) -> None:
        """A rate batch arrived; only batches with events move a partition's watermark."""
        if events:
            self.watermarks[partition] = watermark_ms / 1000
            self._since[partition] = self._now()

    def holding(self) -> set[int]:
        """The partitions the clock waits for: assigned (or seen), and not idle."""
        now = self._now()
        owned = self.assigned or set(self.watermarks)
        return {p for p in owned if p not in self._caught_up or now - self._since.get(p, now) < self.idle_s}

    def time(self) -> float | None:
        """The event time every holding partition has passed; None while one has sent nothing."""
        holding = self.holding()
        if not holding:
            return max(self.watermarks.values(), default=None)
        if not holding <= self.watermarks.keys():
            return None
        return min(self.watermarks[p] for p in holding)
