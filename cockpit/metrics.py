"""The cockpit's Prometheus metrics, declared once on a registry the caller passes in.

Labels are bounded: the query label takes only the names in `cockpit.queries.USED`, outcomes a
fixed set. Tests pass a fresh `CollectorRegistry`, so nothing leaks between app instances.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

NAMESPACE = "edu"
SUBSYSTEM = "cockpit"


class CockpitMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        ns, sub = NAMESPACE, SUBSYSTEM
        self.query_seconds = Histogram(
            "query_duration_seconds",
            "Time spent in the store per named query (cache misses only).",
            ["query"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
            namespace=ns,
            subsystem=sub,
            registry=registry,
        )
        self.queries = Counter(
            "named_queries_total",
            "Named-query lookups by outcome: hit (served from the shared cache), miss, error.",
            ["query", "outcome"],
            namespace=ns,
            subsystem=sub,
            registry=registry,
        )
        self.refreshes = Counter(
            "refreshes_total",
            "Page refreshes by outcome: ok, empty (no data stored yet), error (store failed).",
            ["outcome"],
            namespace=ns,
            subsystem=sub,
            registry=registry,
        )
        self.event_now = Gauge(
            "event_time_now_seconds",
            "Start of the latest event-time minute in the store: the cockpit's 'now'.",
            namespace=ns,
            subsystem=sub,
            registry=registry,
        )
