"""What the pipeline made of a run, from the worker's own Prometheus metrics (`streams.metrics`).

A run's summary compares two scrapes of the worker's /metrics, before and after: messages consumed,
events aggregated, late events and refusals (dead letters) on the run's topics. Counters are per
worker process, so the figures are deltas; other traffic into the same topics meanwhile counts too
(the summary says so).

After the last send the summary waits, bounded by a deadline, until the worker has finished the
run, and only then reads the counts. "Finished" is the worker's consumer group having committed
offsets at or past the end offsets of the run's topic partitions (taken once the sender's
messages are all acknowledged): the worker commits a partition's offset only after the run it
handed over was aggregated and its output acknowledged, and it increments its counters before
that. Its `messages_consumed` counter alone is not enough: it goes up when a run is handed over,
before the run is aggregated (and again for messages re-read after a rebalance), so a summary that
waited on it alone read the events counter while the last runs were still being aggregated (CI:
1,061,430 of 1,072,343). When the deadline passes first, the summary says the pipeline had not
caught up, with the numbers, instead of passing partial counts off as final.
"""

from __future__ import annotations

import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from prometheus_client.parser import text_string_to_metric_families

from contracts.topics import bootstrap_timeout

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


Partition = tuple[str, int]  # (topic, partition)


class GroupOffsets(Protocol):
    """Where the worker's consumer group is on the run's topics (the broker's view)."""

    def end_offsets(self) -> dict[Partition, int]: ...  # next offset to be written, per partition
    def committed(self) -> dict[Partition, int]: ...  # the group's next offset to read; -1: none yet
    def close(self) -> None: ...


class KafkaGroupOffsets:
    """`GroupOffsets` from the broker: end offsets from a consumer outside any group, the group's
    committed offsets from the admin API. Broker errors are raised as OSError (the wait retries)."""

    def __init__(self, bootstrap: str, group: str, topics: tuple[str, ...], timeout_s: float = 10.0) -> None:
        self.bootstrap, self.group, self.topics, self.timeout_s = bootstrap, group, topics, timeout_s
        self._consumer: Any = None
        self._admin: Any = None
        self._tps: list[Any] = []

    def _partitions(self) -> list[Any]:
        from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition

        ms = int(self.timeout_s * 1000)
        if self._consumer is None:
            self._consumer = KafkaConsumer(
                **bootstrap_timeout(
                    KafkaConsumer,
                    {
                        "bootstrap_servers": self.bootstrap.split(","),
                        "group_id": None,
                        "enable_auto_commit": False,
                        "client_id": "edu-simulate-summary",
                        "request_timeout_ms": ms + 1000,
                        "session_timeout_ms": min(ms, 6000),
                        "bootstrap_timeout_ms": ms,
                    },
                )
            )
        if self._admin is None:
            self._admin = KafkaAdminClient(
                **bootstrap_timeout(
                    KafkaAdminClient,
                    {
                        "bootstrap_servers": self.bootstrap.split(","),
                        "client_id": "edu-simulate-summary",
                        "request_timeout_ms": ms,
                        "bootstrap_timeout_ms": ms,
                    },
                )
            )
        if not self._tps:
            tps = []
            for topic in self.topics:
                parts = self._consumer.partitions_for_topic(topic)
                if not parts:
                    raise OSError(f"topic {topic} has no partitions in the broker's metadata")
                tps += [TopicPartition(topic, p) for p in sorted(parts)]
            self._tps = tps
        return self._tps

    def end_offsets(self) -> dict[Partition, int]:
        from kafka.errors import KafkaError

        try:
            tps = self._partitions()
            ends = self._consumer.end_offsets(tps)
        except KafkaError as err:
            raise OSError(f"end offsets of {', '.join(self.topics)}: {err!r}") from None
        return {(tp.topic, tp.partition): int(o) for tp, o in ends.items()}

    def committed(self) -> dict[Partition, int]:
        from kafka.errors import KafkaError

        try:
            tps = self._partitions()
            got = self._admin.list_consumer_group_offsets(self.group, partitions=tps)
        except KafkaError as err:
            raise OSError(f"committed offsets of group {self.group}: {err!r}") from None
        return {(tp.topic, tp.partition): int(om.offset) for tp, om in got.items()}

    def close(self) -> None:
        for client in (self._consumer, self._admin):
            if client is not None:
                try:
                    client.close()
                except Exception:  # closing after a broker error: nothing left to do with it
                    pass
        self._consumer = self._admin = None


def behind(ends: dict[Partition, int], committed: dict[Partition, int]) -> int:
    """Messages up to `ends` the group has not committed past (a partition it never committed on
    counts from 0)."""
    return sum(max(0, end - max(0, committed.get(tp, -1))) for tp, end in ends.items())


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
    waited_s: float = 0.0  # how long the summary waited for the worker
    behind_messages: int | None = None  # the run's messages its group had not committed; None: unknown
    offsets_error: str | None = None  # why the group's offsets could not be read (last attempt)

    @property
    def on_time(self) -> int:
        return self.processed - self.late

    @property
    def mostly_late(self) -> bool:
        return self.processed > 0 and self.late / self.processed > LATE_WARNING_SHARE

    def lag(self) -> str:
        """How far the pipeline was from the run's end when the summary gave up waiting."""
        text = f"worker {self.processed:,} of {self.acknowledged:,} events after {self.waited_s:,.0f} s"
        if self.behind_messages is not None:
            text += f", its consumer group {self.behind_messages:,} messages short of the run's end offsets"
        else:
            text += f", {self.consumed_messages:,} of {self.acknowledged_messages:,} messages consumed"
        if self.offsets_error is not None:
            text += f" (its committed offsets unreadable: {self.offsets_error})"
        return text

    def rows(self) -> list[tuple[str, str]]:
        out = [("sent (events)", f"{self.sent:,}"), ("acknowledged by Kafka (events)", f"{self.acknowledged:,}")]
        if self.error is not None:
            return out + [("pipeline counts", f"unavailable: {self.error}")]
        share = (lambda n: f" ({n / self.processed:.1%})") if self.processed else (lambda n: "")
        partial = "" if self.caught_up else " so far, not final"
        return out + [
            ("processed by the worker (events)", f"{self.processed:,}{partial}"),
            ("  on time", f"{self.on_time:,}{share(self.on_time)}{partial}"),
            ("  late (beyond allowed lateness)", f"{self.late:,}{share(self.late)}{partial}"),
            ("refused (dead letters)", f"{self.refused:,}{partial}"),
            ("worker caught up", "yes" if self.caught_up else f"no: {self.lag()}"),
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
            out.append(
                f"the pipeline had not caught up: {self.lag()}. The counts above are partial, not final; "
                "the worker goes on (EDU_REHEARSAL_SETTLE_S sets how long a summary waits)"
            )
        return out


class Watcher:
    """Scrape before a run (`start`), then after it (`finish`), once the worker has caught up.

    `offsets` reads the worker's group on the run's topics; `finish` waits until the worker's
    counter shows the run's messages consumed (they may reach Kafka after the sender's last
    acknowledgement, through the collector), then takes the topics' end offsets once and waits
    until the group has committed up to them, then scrapes: the counts then hold the whole run.
    """

    def __init__(
        self,
        url: str,
        topics: tuple[str, ...],
        settle_s: float,
        offsets: GroupOffsets,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        poll_s: float = 0.5,
    ) -> None:
        self.url, self.topics, self.settle_s, self.offsets = url, topics, settle_s, offsets
        self.clock, self.sleep, self.poll_s = clock, sleep, poll_s
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
        try:
            return self._finish(sent, acknowledged, acknowledged_messages, on_wait)
        finally:
            self.offsets.close()

    def _finish(
        self, sent: int, acknowledged: int, acknowledged_messages: int, on_wait: Callable[[Scrape], None] | None
    ) -> PipelineCounts:
        if self.before is None:
            return PipelineCounts(sent, acknowledged, 0, acknowledged_messages, 0, 0, 0, False, self.error)
        b = self.before
        started = self.clock()
        deadline = started + self.settle_s
        ends: dict[Partition, int] | None = None  # the run's end, taken once its messages are in
        short: int | None = None
        offsets_error: str | None = None
        caught_up = False
        while True:
            if ends is not None:
                try:
                    short = behind(ends, self.offsets.committed())  # read before the scrape below
                    offsets_error = None
                except OSError as err:
                    offsets_error = str(err)
            try:
                last = scrape(self.url, self.topics)
            except OSError as err:  # a busy worker may miss one look; not answering until the deadline is an error
                if self.clock() >= deadline:
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
                        self.clock() - started,
                    )
                self.sleep(self.poll_s)
                continue
            if short == 0:
                caught_up = True  # committed offsets at the end: this scrape has the whole run
                break
            if ends is None and last.messages - b.messages >= acknowledged_messages:
                try:
                    ends = self.offsets.end_offsets()
                    offsets_error = None
                    continue  # read the group's offsets against them at once
                except OSError as err:
                    offsets_error = str(err)
            if self.clock() >= deadline:
                break
            if on_wait is not None:
                on_wait(last)
            self.sleep(self.poll_s)
        return PipelineCounts(
            sent,
            acknowledged,
            int(last.messages - b.messages),
            acknowledged_messages,
            int(last.events - b.events),
            int(last.late - b.late),
            int(last.refused - b.refused),
            caught_up,
            None,
            self.clock() - started,
            short,
            offsets_error,
        )
