"""The collector's Prometheus metrics, declared once under `edu_collector_*` with bounded labels.

Labels are reason codes, device classes and a fixed list of browser families: never addresses,
user agents or ids.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


@dataclass(frozen=True)
class CollectorMetrics:
    requests: Counter
    accepted: Counter
    refused: Counter
    bots: Counter
    clients: Counter
    spool_records: Gauge
    spool_bytes: Gauge
    kafka_connected: Gauge
    sent: Counter
    latency: Histogram
    _children: dict[tuple[int, tuple[str, ...]], Any] = field(default_factory=dict, compare=False, repr=False)

    def child(self, metric: Counter, *labels: str) -> Any:
        """`metric.labels(*labels)`, looked up once per label set (the labels are bounded codes;
        prometheus-client's own lookup costs a few µs, on every request)."""
        key = (id(metric), labels)
        found = self._children.get(key)
        if found is None:
            found = self._children[key] = metric.labels(*labels)
        return found

    @classmethod
    def create(cls, registry: CollectorRegistry) -> CollectorMetrics:
        ns, sub = "edu", "collector"

        def c(name: str, doc: str, labels: tuple[str, ...] = ()) -> Counter:
            return Counter(name, doc, list(labels), namespace=ns, subsystem=sub, registry=registry)

        def g(name: str, doc: str) -> Gauge:
            return Gauge(name, doc, namespace=ns, subsystem=sub, registry=registry)

        return cls(
            requests=c("requests", "HTTP requests by answer status", ("status",)),
            accepted=c("events_accepted", "Events accepted (journaled, answered 202)", ("source",)),
            refused=c("events_refused", "Events or requests refused, by reason", ("reason",)),
            bots=c("bot_events", "Events from bots and crawlers, counted and dropped", ("source",)),
            clients=c("client_events", "Accepted events by device class and browser family", ("device", "browser")),
            spool_records=g("spool_records", "Accepted records not yet acknowledged by Kafka"),
            spool_bytes=g("spool_bytes", "Journal bytes not yet acknowledged by Kafka"),
            kafka_connected=g("kafka_connected", "1 while the sender has a working producer"),
            sent=c("records_sent", "Journal records acknowledged by Kafka"),
            latency=Histogram(
                "request_seconds",
                "Time to answer an event request",
                buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1.0),
                namespace=ns,
                subsystem=sub,
                registry=registry,
            ),
        )
