"""What the pipeline made of a run, from the worker's own Prometheus metrics (`streams.metrics`).

A run's summary compares two scrapes of the worker's /metrics, before and after: messages consumed,
events aggregated, late events and refusals (dead letters) on the run's topics. Counters are per
worker process, so the figures are deltas; other traffic into the same topics meanwhile counts too
(the summary says so). After the last send the summary waits, bounded, until the worker has
consumed as many messages as the broker acknowledged.
"""

from __future__ import annotations

import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass

from prometheus_client.parser import text_string_to_metric_families

LATE_WARNING_SHARE = 0.5  # "most events were late"


@dataclass(frozen=True)
class Scrape:
    messages: float  # messages consumed on the run's topics
    events: float  # valid events aggregated (on time + late)
    late: float  # events beyond the allowed lateness
    refused: float  # dead letters, all reasons (a refused message counts once)


def parse(text: str, topics: tuple[str, ...]) -> Scrape:
    """Sum the worker's counters in a /metrics text (zeros where a counter is absent); a text that
    is not Prometheus exposition raises ValueError."""
    messages = events = late = refused = 0.0
    try:
        families = list(text_string_to_metric_families(text))
    except ValueError as err:
        raise ValueError(f"not Prometheus text: {err}") from None
    for family in families:
        for sample in family.samples:
            if not sample.name.endswith("_total"):
                continue
            topic = sample.labels.get("topic")
            if sample.name == "edu_worker_messages_consumed_total" and topic in topics:
                messages += sample.value
            elif sample.name == "edu_worker_events_processed_total" and topic in topics:
                events += sample.value
            elif sample.name == "edu_worker_late_events_total":
                late += sample.value
            elif sample.name == "edu_worker_deadletter_total":
                refused += sample.value
    return Scrape(messages, events, late, refused)


def scrape(url: str, topics: tuple[str, ...], timeout_s: float = 3.0) -> Scrape:
    """Raises OSError when the worker's /metrics cannot be read."""
    with urllib.request.urlopen(url, timeout=timeout_s) as resp:
        text = resp.read().decode("utf-8", "replace")
    try:
        return parse(text, topics)
    except ValueError as err:
        raise OSError(f"{url}: {err}") from None


@dataclass(frozen=True)
class PipelineCounts:
    """The run's summary lines that come from the pipeline, not from the sender."""

    sent: int
    acknowledged: int
    consumed_messages: int
    acknowledged_messages: int
    processed: int  # events the worker aggregated (on time + late)
    late: int
    refused: int
    caught_up: bool
    error: str | None = None  # why the worker's counts are missing

    @property
    def on_time(self) -> int:
        return self.processed - self.late

    @property
    def mostly_late(self) -> bool:
        return self.processed > 0 and self.late / self.processed > LATE_WARNING_SHARE

    def rows(self) -> list[tuple[str, str]]:
        out = [("sent (events)", f"{self.sent:,}"), ("acknowledged by Kafka (events)", f"{self.acknowledged:,}")]
        if self.error is not None:
            return out + [("pipeline counts", f"unavailable: {self.error}")]
        share = (lambda n: f" ({n / self.processed:.1%})") if self.processed else (lambda n: "")
        return out + [
            ("processed by the worker (events)", f"{self.processed:,}"),
            ("  on time", f"{self.on_time:,}{share(self.on_time)}"),
            ("  late (beyond allowed lateness)", f"{self.late:,}{share(self.late)}"),
            ("refused (dead letters)", f"{self.refused:,}"),
            (
                "worker caught up",
                "yes"
                if self.caught_up
                else f"no: consumed {self.consumed_messages:,} of {self.acknowledged_messages:,} messages",
            ),
        ]

    def warnings(self) -> list[str]:
        out = []
        if self.mostly_late:
            out.append(
                f"most events were late: {self.late:,} of {self.processed:,} ({self.late / self.processed:.0%}) "
                "arrived behind the pipeline's clock by more than the allowed lateness; they are counted "
                "in late_events but not in the rates. The stack's clock is ahead of these event times: "
                "use `edu-simulate rehearse` (times shifted to now) or an isolated rehearsal."
            )
        if self.error is None and self.refused:
            out.append(f"{self.refused:,} events or messages were refused (dead-letter topic)")
        if self.error is None and not self.caught_up:
            out.append("the worker had not consumed everything when the summary was taken; counts are partial")
        return out


class Watcher:
    """Scrape before a run (`start`), then after it (`finish`), waiting for the worker to catch up."""

    def __init__(
        self,
        url: str,
        topics: tuple[str, ...],
        settle_s: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.url, self.topics, self.settle_s = url, topics, settle_s
        self.clock, self.sleep = clock, sleep
        self.before: Scrape | None = None
        self.error: str | None = None

    def start(self) -> None:
        try:
            self.before = scrape(self.url, self.topics)
        except OSError as err:
            self.error = f"worker metrics at {self.url} unreadable before the run ({err})"

    def finish(
        self, sent: int, acknowledged: int, acknowledged_messages: int, on_wait: Callable[[Scrape], None] | None = None
    ) -> PipelineCounts:
        if self.before is None:
            return PipelineCounts(sent, acknowledged, 0, acknowledged_messages, 0, 0, 0, False, self.error)
        deadline = self.clock() + self.settle_s
        last: Scrape | None = None
        caught_up = False
        while True:
            try:
                last = scrape(self.url, self.topics)
            except OSError as err:
                return PipelineCounts(
                    sent,
                    acknowledged,
                    0,
                    acknowledged_messages,
                    0,
                    0,
                    0,
                    False,
                    f"worker metrics at {self.url} unreadable after the run ({err})",
                )
            if last.messages - self.before.messages >= acknowledged_messages:
                caught_up = True
                break
            if self.clock() >= deadline:
                break
            if on_wait is not None:
                on_wait(last)
            self.sleep(0.5)
        b = self.before
        return PipelineCounts(
            sent,
            acknowledged,
            int(last.messages - b.messages),
            acknowledged_messages,
            int(last.events - b.events),
            int(last.late - b.late),
            int(last.refused - b.refused),
            caught_up,
        )
