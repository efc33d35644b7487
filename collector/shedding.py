"""Load shedding: answer 503 at once while the event loop runs late, instead of queueing.

Past its capacity a server's queue grows until every answer is late (and memory grows with it).
The queue in front of every request is measured the way toobusy-js and Node's `monitorEventLoopDelay`
do: how late the loop runs a short timer. While that lag is above `limit_s` new requests get a 503
with Retry-After, which costs a fraction of accepting one, so the answers that are given stay quick
and the clients (the tracker backs off) slow down.
"""

from __future__ import annotations

import asyncio


class LoopLag:
    """The event loop's recent lag: rises at once with a late tick, halves with each timely one."""

    def __init__(self, limit_s: float, interval_s: float = 0.01) -> None:
        self.limit_s, self.interval_s = limit_s, interval_s
        self.lag_s = 0.0
        self._task: asyncio.Task[None] | None = None

    def overloaded(self) -> bool:
        """True while the lag is over the limit (starts the monitor on first use; 0 = never)."""
        if self.limit_s <= 0:
            return False
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._watch(), name="collector-loop-lag")
        return self.lag_s > self.limit_s

    async def _watch(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            start = loop.time()
            await asyncio.sleep(self.interval_s)
            late = loop.time() - start - self.interval_s
            self.lag_s = max(late, self.lag_s / 2)
