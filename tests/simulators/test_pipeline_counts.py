"""The honest summary's wait: it reads the worker's counts only once the worker's consumer group has
committed the run's end offsets, and says plainly when the deadline passed first.

The unit tests drive `Watcher` with a fake worker (its counters, its group's committed offsets, the
topic's end offsets) on a fake clock; the integration test uses a real broker and a real worker
process that lags behind the run (a long batch window).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from contracts.settings import settings_env
from contracts.topics import ensure_topics
from ops.local_process import free_port
from simulators.pipeline_counts import KafkaGroupOffsets, Partition, Watcher, behind, parse
from streams.metrics import WorkerMetrics
from tests.conftest import make_settings
from tests.support import WorkerProcess, known_clicks, send_in_client_batches


class FakeWorker:
    """A worker as the summary sees it: its /metrics counters, its group's committed offsets and the
    topic's end offsets. `script` holds what it does between two looks (one action per sleep)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, partitions: int = 2) -> None:
        self.registry = CollectorRegistry()
        self.m = WorkerMetrics.create(self.registry)
        self.ends: dict[Partition, int] = {("c", p): 0 for p in range(partitions)}
        self.commits: dict[Partition, int] = {}
        self.script: list[Callable[[], None]] = []
        self.committed_failures = 0  # the next reads of the group's offsets that fail
        self.end_reads = 0
        self.closed = False
        self.clock = 0.0
        monkeypatch.setattr(
            "simulators.pipeline_counts.scrape",
            lambda url, topics, timeout_s=3.0: parse(generate_latest(self.registry).decode(), topics),
        )

    # GroupOffsets
    def end_offsets(self) -> dict[Partition, int]:
        self.end_reads += 1
        return dict(self.ends)

    def committed(self) -> dict[Partition, int]:
        if self.committed_failures:
            self.committed_failures -= 1
            raise OSError("GroupCoordinatorNotAvailableError")
        return {tp: self.commits.get(tp, -1) for tp in self.ends}

    def close(self) -> None:
        self.closed = True

    # what the producer and the worker do
    def produce(self, partition: int, messages: int) -> None:
        self.ends[("c", partition)] += messages

    def hand_over(self, messages: int) -> None:
        """Runs handed to the processor: counted as consumed before they are aggregated."""
        self.m.messages.labels("c").inc(messages)

    def settle(self, partition: int, events: int, late: int = 0) -> None:
        """A partition's runs aggregated and acknowledged, its offset committed up to its end."""
        self.m.events.labels("c").inc(events)
        self.m.late.inc(late)
        self.commits[("c", partition)] = self.ends[("c", partition)]

    def watcher(self, settle_s: float) -> Watcher:
        def sleep(s: float) -> None:
            self.clock += s
            if self.script:
                self.script.pop(0)()

        w = Watcher("http://x/metrics", ("c",), settle_s, self, clock=lambda: self.clock, sleep=sleep)
        w.start()
        return w


def test_behind_counts_the_messages_short_of_the_end_offsets() -> None:
    ends = {("c", 0): 10, ("c", 1): 5, ("c", 2): 0}
    assert behind(ends, {("c", 0): 10, ("c", 1): 5}) == 0
    assert behind(ends, {("c", 0): 7, ("c", 1): -1}) == 3 + 5  # -1: the group never committed there
    assert behind(ends, {("c", 0): 12, ("c", 1): 5}) == 0  # past the snapshot: traffic after the run


def test_the_summary_waits_for_the_committed_offsets_not_the_consumed_counter(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The CI failure: the whole run handed over (consumed counter complete) while its last runs were
    still being aggregated; the summary must not read the events counter then."""
    w = FakeWorker(monkeypatch)
    watcher = w.watcher(settle_s=120)
    w.produce(0, 60)
    w.produce(1, 40)
    w.hand_over(100)  # everything consumed at once ...
    w.settle(0, 600)  # ... partition 0 aggregated ...
    w.script = [lambda: None] * 5 + [lambda: w.settle(1, 400)]  # ... partition 1 three seconds later
    counts = watcher.finish(sent=1000, acknowledged=1000, acknowledged_messages=100)
    assert counts.caught_up and counts.processed == 1000 and counts.behind_messages == 0
    assert counts.waited_s == pytest.approx(3.0)
    assert ("worker caught up", "yes") in counts.rows()
    assert ("processed by the worker (events)", "1,000") in counts.rows()
    assert not any("caught up" in line for line in counts.warnings())
    assert w.closed


def test_partial_progress_is_waited_through_poll_by_poll(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    w = FakeWorker(monkeypatch, partitions=4)
    watcher = w.watcher(settle_s=60)
    for p in range(4):
        w.produce(p, 25)
    seen: list[float] = []

    def step(p: int) -> Callable[[], None]:
        def act() -> None:
            w.hand_over(25)
            w.settle(p, 250)

        return act

    w.script = [step(p) for p in range(4)]
    counts = watcher.finish(1000, 1000, 100, on_wait=lambda s: seen.append(s.events))
    assert counts.caught_up and counts.processed == 1000
    assert seen == [0, 250, 500, 750]  # every look before the last found it short, and said so
    assert w.end_reads == 1  # the run's end is taken once: later traffic would move it away


def test_the_run_end_is_taken_once_its_messages_are_in_kafka(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Through the collector, messages reach Kafka after the sender's last acknowledgement: end offsets
    taken at once would be short of the run; they are taken once the worker has consumed as many
    messages as were acknowledged."""
    w = FakeWorker(monkeypatch, partitions=1)
    watcher = w.watcher(settle_s=60)

    def collector_forwards() -> None:
        w.produce(0, 10)
        w.hand_over(10)

    w.script = [lambda: None, collector_forwards, lambda: None, lambda: w.settle(0, 100)]
    counts = watcher.finish(100, 100, 10)
    assert counts.caught_up and counts.processed == 100


def test_a_deadline_passed_says_the_pipeline_had_not_caught_up_with_the_numbers(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    w = FakeWorker(monkeypatch)
    watcher = w.watcher(settle_s=5)
    w.produce(0, 600)
    w.produce(1, 473)
    w.hand_over(1073)
    w.settle(0, 6000)  # partition 1 never
    counts = watcher.finish(sent=10_730, acknowledged=10_730, acknowledged_messages=1073)
    assert not counts.caught_up and counts.waited_s >= 5
    assert counts.processed == 6000 and counts.behind_messages == 473
    rows = dict(counts.rows())
    assert rows["processed by the worker (events)"] == "6,000 so far, not final"
    assert rows["worker caught up"] == (
        "no: worker 6,000 of 10,730 events after 5 s, its consumer group 473 messages short of the run's end offsets"
    )
    (warning,) = [line for line in counts.warnings() if "caught up" in line]
    assert warning.startswith("the pipeline had not caught up: worker 6,000 of 10,730 events after 5 s")
    assert "partial, not final" in warning


def test_a_worker_that_never_consumed_the_run_is_said_with_its_messages(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    w = FakeWorker(monkeypatch)
    watcher = w.watcher(settle_s=5)
    w.produce(0, 10)
    w.hand_over(4)
    counts = watcher.finish(sent=100, acknowledged=100, acknowledged_messages=10)
    assert not counts.caught_up and counts.behind_messages is None and w.end_reads == 0
    assert dict(counts.rows())["worker caught up"] == "no: worker 0 of 100 events after 5 s, 4 of 10 messages consumed"


def test_unreadable_group_offsets_are_retried_then_named(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    w = FakeWorker(monkeypatch, partitions=1)
    watcher = w.watcher(settle_s=60)
    w.produce(0, 10)
    w.hand_over(10)
    w.settle(0, 100)
    w.committed_failures = 3  # the group's coordinator still moving: retried within the deadline
    assert watcher.finish(100, 100, 10).caught_up

    w = FakeWorker(monkeypatch, partitions=1)
    watcher = w.watcher(settle_s=2)
    w.produce(0, 10)
    w.hand_over(10)
    w.settle(0, 100)
    w.committed_failures = 1000
    counts = watcher.finish(100, 100, 10)
    assert not counts.caught_up  # never presented as final without the offsets
    assert "committed offsets unreadable: GroupCoordinatorNotAvailableError" in dict(counts.rows())["worker caught up"]


def test_the_summary_warns_when_most_events_were_late(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    w = FakeWorker(monkeypatch, partitions=1)
    watcher = w.watcher(settle_s=60)
    w.produce(0, 100)

    def consume() -> None:
        w.hand_over(100)
        w.settle(0, 1000, late=900)

    w.script = [lambda: None, consume]
    counts = watcher.finish(sent=1000, acknowledged=1000, acknowledged_messages=100)
    assert counts.caught_up and (counts.processed, counts.late, counts.on_time) == (1000, 900, 100)
    assert counts.mostly_late
    assert any("most events were late: 900 of 1,000" in line for line in counts.warnings())
    assert ("  late (beyond allowed lateness)", "900 (90.0%)") in counts.rows()


def test_an_unreachable_worker_is_said_not_hidden(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    w = FakeWorker(monkeypatch)
    monkeypatch.undo()  # the real scrape, of a port nothing listens on
    watcher = Watcher("http://127.0.0.1:9/metrics", ("c",), settle_s=1, offsets=w)
    watcher.start()
    counts = watcher.finish(sent=5, acknowledged=5, acknowledged_messages=5)
    assert counts.error is not None and "unreadable" in counts.error
    assert counts.rows()[-1][0] == "pipeline counts"
    assert w.closed


@pytest.mark.integration
@pytest.mark.timeout(300)
def test_the_summary_waits_for_a_lagging_worker_and_says_when_it_gave_up(kafka: str, tmp_path: Path) -> None:
    """A real worker that lags: it holds what it fetches for `lag_s` before aggregating it (its batch
    window). The summary waits for its group's commits and counts the whole run; with a deadline
    shorter than the lag, it says the pipeline had not caught up, with the numbers."""
    lag_s = 8.0
    s = make_settings(kafka, data_dir=tmp_path / "data", worker_metrics_port=free_port(), worker_batch_within_s=lag_s)
    ensure_topics(s)
    topics = (s.topic_clicks, s.topic_sessions)

    def watcher(settle_s: float) -> Watcher:
        w = Watcher(
            f"http://127.0.0.1:{s.worker_metrics_port}/metrics",
            topics,
            settle_s,
            KafkaGroupOffsets(kafka, s.worker_id, topics),
        )
        w.start()
        assert w.error is None, w.error
        return w

    worker = WorkerProcess(s, tmp_path / "worker.log", settings_env(s)).start()
    now = int(time.time() * 1000)
    try:
        w = watcher(120)
        messages = send_in_client_batches(kafka, s.topic_clicks, known_clicks(4000, 1, now - 120_000, 60_000))
        counts = w.finish(4000, 4000, messages)
        assert counts.caught_up, counts.rows()
        assert (counts.processed, counts.late, counts.refused, counts.behind_messages) == (4000, 0, 0, 0)
        assert counts.consumed_messages == messages
        assert counts.waited_s >= lag_s / 2  # it waited for the worker's batch window

        w = watcher(2)
        messages = send_in_client_batches(kafka, s.topic_clicks, known_clicks(2000, 2, now - 60_000, 30_000))
        counts = w.finish(2000, 2000, messages)
        assert not counts.caught_up and counts.error is None and counts.processed == 0
        assert dict(counts.rows())["worker caught up"].startswith("no: worker 0 of 2,000 events after 2 s")
        assert dict(counts.rows())["processed by the worker (events)"] == "0 so far, not final"
        (warning,) = [line for line in counts.warnings() if "caught up" in line]
        assert warning.startswith("the pipeline had not caught up: worker 0 of 2,000 events after 2 s")
    finally:
        worker.stop()
