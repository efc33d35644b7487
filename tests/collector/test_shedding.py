"""Load shedding: while the event loop runs late the collector answers 503 at once; it accepts
again once the loop is on time."""

from __future__ import annotations

import asyncio
import time

from collector.shedding import LoopLag


def test_lag_over_the_limit_sheds_and_recovers() -> None:
    async def scenario() -> tuple[bool, bool, bool]:
        lag = LoopLag(limit_s=0.05, interval_s=0.005)
        first = lag.overloaded()  # starts the monitor; an idle loop is on time
        await asyncio.sleep(0.02)
        time.sleep(0.2)  # a request (or a burst of them) holding the loop for 200 ms
        await asyncio.sleep(0)  # the monitor's late tick runs
        await asyncio.sleep(0.006)
        during = lag.overloaded()
        deadline = time.monotonic() + 5
        while lag.overloaded() and time.monotonic() < deadline:
            await asyncio.sleep(0.005)  # timely ticks halve the lag
        return first, during, lag.overloaded()

    first, during, after = asyncio.run(scenario())
    assert (first, during, after) == (False, True, False)


def test_a_limit_of_zero_never_sheds() -> None:
    async def scenario() -> bool:
        lag = LoopLag(limit_s=0)
        time.sleep(0.1)
        await asyncio.sleep(0.01)
        return lag.overloaded()

    assert asyncio.run(scenario()) is False
