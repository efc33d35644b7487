"""The sink's Prometheus metrics (`edu_sink_*`), declared once; labels are table names only."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


@dataclass(frozen=True)
class SinkMetrics:
    rows: Counter
    batches: Counter
    insert_seconds: Histogram
    retries: Counter
    backlog: Gauge
    store_up: Gauge
    paused: Gauge
    backlog_peak: Gauge
    retention_dropped: Counter
    retention_last_run: Gauge
    running: Gauge
    last_flush: Gauge
    newest_data: Gauge
    orphan_parts: Counter
    orphan_sweep_pending: Gauge

    @classmethod
    def create(cls, registry: CollectorRegistry) -> SinkMetrics:
        ns, sub = "edu", "sink"
        return cls(
            rows=Counter(
                "rows_written",
                "Rows inserted into ClickHouse",
                ["table"],
                namespace=ns,
                subsystem=sub,
                registry=registry,
            ),
            batches=Counter(
                "batches_written", "Batches flushed to ClickHouse", namespace=ns, subsystem=sub, registry=registry
            ),
            insert_seconds=Histogram(
                "flush_seconds",
                "Time to write one batch (all tables)",
                buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10),
                namespace=ns,
                subsystem=sub,
                registry=registry,
            ),
            retries=Counter(
                "flush_retries",
                "Failed flush attempts that will be retried",
                namespace=ns,
                subsystem=sub,
                registry=registry,
            ),
            backlog=Gauge(
                "backlog_rows", "Rows buffered and not yet stored", namespace=ns, subsystem=sub, registry=registry
            ),
            store_up=Gauge(
                "store_up",
                "1 if the last flush reached ClickHouse, else 0",
                namespace=ns,
                subsystem=sub,
                registry=registry,
            ),
            paused=Gauge(
                "paused",
                "1 while consumption is paused because ClickHouse is unreachable",
                namespace=ns,
                subsystem=sub,
                registry=registry,
            ),
            backlog_peak=Gauge(
                "backlog_peak_rows",
                "Most rows ever buffered at once by this sink",
                namespace=ns,
                subsystem=sub,
                registry=registry,
            ),
            retention_dropped=Counter(
                "retention_dropped_partitions",
                "Partitions dropped by retention",
                ["table"],
                namespace=ns,
                subsystem=sub,
                registry=registry,
            ),
            retention_last_run=Gauge(
                "retention_last_run_timestamp_seconds",
                "Unix time of the last completed retention run",
                namespace=ns,
                subsystem=sub,
                registry=registry,
            ),
            running=Gauge(
                "running",
                "1 while the sink runs; 0 once it stopped for good (a permanent storage error, or too many restarts)",
                namespace=ns,
                subsystem=sub,
                registry=registry,
            ),
            last_flush=Gauge(
                "last_flush_timestamp_seconds",
                "Unix time of the last flush that reached ClickHouse",
                namespace=ns,
                subsystem=sub,
                registry=registry,
            ),
            newest_data=Gauge(
                "newest_data_timestamp_seconds",
                "Event time (Unix) of the newest row stored",
                namespace=ns,
                subsystem=sub,
                registry=registry,
            ),
            orphan_parts=Counter(
                "orphan_parts_removed",
                "Parts a lost ZooKeeper commit left active on a replica, detached by the sink's sweep",
                ["table"],
                namespace=ns,
                subsystem=sub,
                registry=registry,
            ),
            orphan_sweep_pending=Gauge(
                "orphan_sweep_pending",
                "1 while an insert answered 319 (unknown status) and the sweep for its orphan parts has not run",
                namespace=ns,
                subsystem=sub,
                registry=registry,
            ),
        )
