"""Which rates partitions hold the alert clock: backlog or recent events hold it, idleness releases it."""

from __future__ import annotations

from alerts.partition_clock import PartitionClock


class Wall:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_every_assigned_partition_holds_the_clock_until_it_sends_data() -> None:
    wall = Wall()
    clock = PartitionClock(idle_s=30, now=wall)
    clock.assign([0, 1])
    clock.observe(0, 120_000, events=5)
    assert clock.time() is None  # partition 1 may still bring rows for these minutes
    clock.observe(1, 60_000, events=5)
    assert clock.time() == 60.0  # the slowest partition sets the time
    clock.observe(1, 180_000, events=5)
    assert clock.time() == 120.0


def test_a_caught_up_idle_partition_stops_holding_and_resumes_with_data() -> None:
    wall = Wall()
    clock = PartitionClock(idle_s=30, now=wall)
    clock.assign([0, 1])
    clock.observe(0, 120_000, events=5)
    clock.caught_up([1])  # partition 1 is empty: nothing to read
    wall.t += 29
    assert clock.time() is None  # not idle long enough yet
    wall.t += 2
    assert clock.holding() == {0} and clock.time() == 120.0
    clock.observe(1, 90_000, events=1)  # it speaks again: it holds again
    assert clock.holding() == {0, 1} and clock.time() == 90.0


def test_a_partition_with_backlog_holds_however_long_it_is_silent() -> None:
    wall = Wall()
    clock = PartitionClock(idle_s=30, now=wall)
    clock.assign([0, 1])
    clock.observe(0, 600_000, events=5)
    clock.observe(1, 60_000, events=5)
    clock.caught_up([0])  # 1 still has records to read
    wall.t += 3600
    assert clock.holding() == {1} and clock.time() == 60.0
    clock.caught_up([0, 1])
    assert clock.holding() == set() and clock.time() == 600.0  # everything read: all data is in


def test_batches_without_events_do_not_move_a_watermark() -> None:
    clock = PartitionClock(idle_s=30, now=Wall())
    clock.observe(0, 120_000, events=0)
    assert clock.time() is None
