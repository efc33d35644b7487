"""The worker's Prometheus metrics, declared once under `edu_worker_*` with bounded labels.

Labels are topic names, reason codes (a fixed set) and partition numbers: never event or user ids.
"""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


@dataclass(frozen=True)
class WorkerMetrics:
    messages: Counter
    events: Counter
    deadletter: Counter
    late: Counter
    skipped: Counter
    set_aside: Counter
    lag: Gauge
    batch_messages: Histogram
    batch_seconds: Histogram
    event_delay: Histogram

    @classmethod
    def create(cls, registry: CollectorRegistry) -> WorkerMetrics:
        ns, sub = "edu", "worker"
        return cls(
            messages=Counter(
                "messages_consumed",
                "Kafka messages consumed",
                ["topic"],
                namespace=ns,
                subsystem=sub,
                registry=registry,
            ),
            events=Counter(
                "events_processed", "Valid events aggregated", ["topic"], namespace=ns, subsystem=sub, registry=registry
            ),
            deadletter=Counter(
                "deadletter",
                "Events or messages sent to the dead-letter topic",
                ["reason"],
                namespace=ns,
                subsystem=sub,
                registry=registry,
            ),
            late=Counter(
                "late_events",
                "Events beyond the allowed lateness (kept in late_events)",
                namespace=ns,
                subsystem=sub,
                registry=registry,
            ),
            skipped=Counter(
                "replayed_messages_skipped",
                "Messages re-read after a restart whose output was already sent",
                ["topic"],
                namespace=ns,
                subsystem=sub,
                registry=registry,
            ),
            set_aside=Counter(
                "messages_set_aside",
                "Messages that raised while processed, dead-lettered as "
                "'internal' (a bug to look into; the worker went on)",
                ["topic"],
                namespace=ns,
                subsystem=sub,
                registry=registry,
            ),
            lag=Gauge(
                "consumer_lag_messages",
                "High-water mark minus next offset to process",
                ["topic", "partition"],
                namespace=ns,
                subsystem=sub,
                registry=registry,
            ),
            batch_messages=Histogram(
                "batch_messages",
                "Messages per processing batch",
                buckets=(1, 10, 100, 1000, 5000, 20000, 100000),
                namespace=ns,
                subsystem=sub,
                registry=registry,
            ),
            batch_seconds=Histogram(
                "batch_processing_seconds",
                "Time to aggregate and emit a batch",
                buckets=(0.001, 0.005, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
                namespace=ns,
                subsystem=sub,
                registry=registry,
            ),
            event_delay=Histogram(
                "event_delay_seconds",
                "Processing time minus newest event time, per batch",
                buckets=(0.1, 0.5, 1, 2, 5, 10, 30, 60, 300, 3600),
                namespace=ns,
                subsystem=sub,
                registry=registry,
            ),
        )
