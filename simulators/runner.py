"""The send loop: batches from a source, paced open-loop, into a sink, with ground truth.

This is the only module (with kafka_out) that touches a clock or sleeps. The clock and sleep are
parameters, so tests can drive the loop with a fake clock. Stopping is cooperative (`stop()` or
Ctrl-C): the summary is still produced and the sink flushed.
"""

from __future__ import annotations

import itertools
import time
import zlib
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol, cast

from contracts.events import Click, Event, decode_message, encode
from contracts.settings import Settings
from simulators.files import NdjsonWriter
from simulators.kafka_out import KafkaSender
from simulators.pacing import Schedule
from simulators.truth import GroundTruth


class Sink(Protocol):
    def send_batch(self, batch: list[Event]) -> None: ...
    def send_raw(self, value: bytes, kind: str, key: bytes | None = None) -> None: ...
    def hand_over(self) -> None: ...  # what a sink holds goes on its way (the loop is about to wait)
    def close(self) -> dict[str, Any]: ...


class KafkaSink:
    """Batches to their topic, keyed by session (one client's events stay in order in a partition).

    Failed deliveries are recorded in `failed` so the run's truth can subtract them.
    """

    def __init__(self, settings: Settings, sender: KafkaSender | None = None, **overrides: Any) -> None:
        self.settings = settings
        self.sender = sender or KafkaSender(settings, **overrides)
        self.topics = {"clicks": settings.topic_clicks, "sessions": settings.topic_sessions}
        self.failed = GroundTruth()
        # kafka-python's murmur2 partitioner is pure Python (~15% of the send cost); a crc32 of the
        # same key keeps one session in one partition for a fraction of it.
        self._parts = {t: self.sender.partitions(t) for t in self.topics.values()}

    def send_batch(self, batch: list[Event]) -> None:
        first = batch[0]
        topic = self.settings.topic_clicks if type(first) is Click else self.settings.topic_sessions
        value = encode(first if len(batch) == 1 else batch)
        key = first.session.encode()
        self.sender.send(
            topic,
            value,
            key,
            partition=zlib.crc32(key) % self._parts[topic],
            on_error=lambda exc: self.failed.add_batch(batch),
        )

    def send_raw(self, value: bytes, kind: str, key: bytes | None = None) -> None:
        """An encoded message (a recording's line, or a generator `Message`), sent unchanged; keyed
        messages go to the same partition `send_batch` would pick. A refused one is decoded (only
        then) so the run's truth can subtract it."""
        topic = self.topics[kind]
        self.sender.send(
            topic,
            value,
            key,
            partition=None if key is None else zlib.crc32(key) % self._parts[topic],
            on_error=lambda exc: self._failed_raw(value),
        )

    def _failed_raw(self, value: bytes) -> None:
        events, _ = decode_message(value, max_bytes=1 << 30, max_events=1 << 30)
        self.failed.add_batch(events)

    def hand_over(self) -> None:
        self.sender.hand_over()

    def close(self) -> dict[str, Any]:
        self.sender.flush(timeout=120)
        self.sender.close()
        return self.sender.stats.as_dict()


class FileSink:
    def __init__(self, path: str) -> None:
        self.writer = NdjsonWriter(path)
        self.failed = GroundTruth()

    def send_batch(self, batch: list[Event]) -> None:
        self.writer.write(batch)

    def send_raw(self, value: bytes, kind: str, key: bytes | None = None) -> None:
        self.writer.write_raw(value)

    def hand_over(self) -> None:
        pass

    def close(self) -> dict[str, Any]:
        self.writer.close()
        return {"messages": self.writer.messages, "path": str(self.writer.path), "errors": 0}


@dataclass
class Progress:
    elapsed_s: float
    events: int
    messages: int
    target_events: float | None
    rate: float
    event_ts: int | None
    errors: int


@dataclass
class RunSummary:
    events: int = 0
    messages: int = 0
    elapsed_s: float = 0.0
    achieved_rate: float = 0.0
    target_rate: float | None = None
    expected_events: float | None = None  # events due by the end (rate mode)
    shortfall: float = 0.0  # events due but not sent by the end (rate mode); 0 if on schedule
    rate_error: float | None = None  # (achieved - target)/target over the run
    max_lag_s: float = 0.0  # worst lateness of a send against its due time
    late_batches: int = 0  # batches sent more than 10 ms after their due time
    delivery_errors: int = 0
    interrupted: bool = False
    first_event_ts: int | None = None
    last_event_ts: int | None = None
    sink: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def compare_to_schedule(self, schedule: Schedule | None) -> None:
        """Fill the open-loop figures (events due, shortfall, target rate, rate error) from the
        schedule's rate profile (or a live run's nominal one), for runs that had one."""
        if schedule is None or schedule.target is None:
            return
        self.expected_events = schedule.target.expected(self.elapsed_s)
        self.shortfall = max(0.0, self.expected_events - self.events)
        self.target_rate = self.expected_events / self.elapsed_s if self.elapsed_s > 0 else None
        if self.target_rate:
            self.rate_error = (self.achieved_rate - self.target_rate) / self.target_rate


class SendLoop:
    """Drives one source into one sink on a schedule."""

    def __init__(
        self,
        sink: Sink,
        schedule: Schedule | None,
        *,
        truth: GroundTruth | None = None,
        duration_s: float | None = None,
        on_progress: Callable[[Progress], None] | None = None,
        progress_every_s: float = 0.25,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        start_gate: Callable[[], float] | None = None,
    ) -> None:
        """`start_gate`, if given, is called once the first item is ready and returns the start time
        on `clock` (processes of one run wait there for a common start)."""
        self.sink, self.schedule, self.truth = sink, schedule, truth
        self.start_gate = start_gate
        self.duration_s = duration_s
        self.on_progress = on_progress
        self.progress_every_s = progress_every_s
        self.clock, self.sleep = clock, sleep
        self._stop = False

    def stop(self) -> None:
        self._stop = True

    def run_batches(self, batches: Iterable[list[Event]]) -> RunSummary:
        return self._run((b, None, b[0].ts, len(b), None, b[0].ts) for b in batches)

    def run_raw(self, messages: Iterable[Any]) -> RunSummary:
        """Recorded messages (files.Recorded: value, kind, ts, events)."""
        return self._run((None, m, m.ts, m.events, None, m.ts) for m in messages)

    def run_messages(self, messages: Iterable[Any]) -> RunSummary:
        """Encoded generator messages (generator.Message): sent unchanged, keyed by session, paced by
        their position in the whole stream (so processes sending disjoint shares keep one schedule)
        or, by event time, at their client's flush time (when a real SDK would upload them), ground
        truth counted per block of rows rather than per event."""
        return self._run((None, m, m.ts, m.events, m.index, m.at) for m in messages)

    def _run(self, items: Iterable[tuple[list[Event] | None, Any, int, int, int | None, int]]) -> RunSummary:
        """Items: (events or None, encoded message or None, first event ts, events, position in the
        whole stream or None, event time it is due at)."""
        s = RunSummary()
        sched, truth, clock = self.schedule, self.truth, self.clock
        it = iter(items)
        first = next(it, None)  # pay the generator's start-up before the clock starts
        items = itertools.chain([first] if first is not None else [], it)
        t0 = self.start_gate() if self.start_gate is not None else clock()
        next_progress = 0.0
        elapsed = 0.0
        hit_duration = False
        block, block_hi = None, 0  # generator messages: rows of the current block sent so far
        try:
            for batch, raw, ts, n, pos, at in items:
                if self._stop:
                    s.interrupted = True
                    break
                elapsed = clock() - t0
                if self.duration_s is not None and elapsed >= self.duration_s:
                    hit_duration = True
                    break
                if sched is not None:
                    due = sched.due(s.events if pos is None else pos, at)
                    if self.duration_s is not None and due >= self.duration_s:
                        hit_duration = True
                        break
                    wait = due - elapsed
                    if wait > 0.0005:
                        self.sink.hand_over()  # nothing held back while the loop waits
                    while wait > 0.0005 and not self._stop:
                        self.sleep(min(wait, 0.05))
                        elapsed = clock() - t0
                        wait = due - elapsed
                        if elapsed >= next_progress:
                            next_progress = elapsed + self.progress_every_s
                            self._progress(s, elapsed)
                    if -wait > s.max_lag_s:
                        s.max_lag_s = -wait
                    if wait < -0.010:
                        s.late_batches += 1
                if batch is not None:
                    self.sink.send_batch(batch)
                    if truth is not None:
                        truth.add_batch(batch)
                else:
                    self.sink.send_raw(raw.value, raw.kind, getattr(raw, "key", None))
                    if truth is not None and pos is not None:
                        if raw.block is not block:
                            if block is not None:
                                block.add_to(truth, block_hi)
                            block = raw.block
                        block_hi = raw.hi
                s.events += n
                s.messages += 1
                if s.first_event_ts is None:
                    s.first_event_ts = ts
                s.last_event_ts = ts
                if elapsed >= next_progress:
                    next_progress = elapsed + self.progress_every_s
                    self._progress(s, elapsed)
        except KeyboardInterrupt:
            s.interrupted = True
        if block is not None:
            block.add_to(truth, block_hi)
        if hit_duration:  # nothing more is due before the end: wait it out so rates are honest
            while (left := self.duration_s - (clock() - t0)) > 0 and not self._stop:  # type: ignore[operator]
                self.sleep(min(left, 0.05))
        s.elapsed_s = clock() - t0
        s.sink = self.sink.close()
        failed = getattr(self.sink, "failed", None)
        s.delivery_errors = int(s.sink.get("errors", 0))
        if truth is not None and failed is not None and failed.total_events:
            truth.subtract(failed)
        s.achieved_rate = s.events / s.elapsed_s if s.elapsed_s > 0 else 0.0
        s.compare_to_schedule(sched)
        return s

    def _progress(self, s: RunSummary, elapsed: float) -> None:
        if self.on_progress is None:
            return
        target = self.schedule.expected(elapsed) if self.schedule is not None else None
        self.on_progress(
            Progress(
                elapsed,
                s.events,
                s.messages,
                target,
                s.events / elapsed if elapsed > 0 else 0.0,
                s.last_event_ts,
                int(cast(Any, self.sink).sender.stats.errors) if hasattr(self.sink, "sender") else 0,
            )
        )
