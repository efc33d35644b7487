"""Prometheus metrics of the alerting service, declared once, on a registry the caller passes.

Why these labels only: every label value comes from a fixed set (platforms, provinces from
contracts.geo, alert and receiver names from code, states and outcomes from enums), so the number of
series is bounded (about 4 + 35 + a few dozen). Resources, users and fingerprints never become
labels; they live in alert labels and the alert log instead. `ops/prometheus/rules.yml` is written
against these names.
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge

from contracts.alerts import State

NAMESPACE = "edu"


class AlertMetrics:
    def __init__(self, registry: CollectorRegistry, namespace: str = NAMESPACE) -> None:
        def gauge(name: str, doc: str, labels: tuple[str, ...] = ()) -> Gauge:
            return Gauge(name, doc, list(labels), namespace=namespace, registry=registry)

        def counter(name: str, doc: str, labels: tuple[str, ...] = ()) -> Counter:
            return Counter(name, doc, list(labels), namespace=namespace, registry=registry)

        self.national_rate = gauge(
            "traffic_national_clicks_per_minute", "Clicks in the last closed minute, all platforms"
        )
        self.platform_rate = gauge(
            "traffic_platform_clicks_per_minute", "Clicks in the last closed minute per sub-platform", ("platform",)
        )
        self.province_rate = gauge(
            "traffic_province_clicks_per_minute", "Clicks in the last closed minute per province", ("province",)
        )
        self.platform_expected = gauge(
            "traffic_platform_expected_clicks_per_minute",
            "Seasonal baseline of the platform rate for that minute",
            ("platform",),
        )
        self.province_ratio = gauge(
            "traffic_province_baseline_ratio",
            "Clicks over baseline in the surge window per province (1 = normal)",
            ("province",),
        )
        self.anomaly_score = gauge(
            "traffic_anomaly_score", "General anomaly score of the last minute, 0..1", ("scope", "series")
        )
        self.capacity = gauge("capacity_clicks_per_minute", "Configured capacity per sub-platform", ("platform",))
        self.utilisation = gauge("capacity_utilisation_ratio", "Platform rate over its capacity", ("platform",))
        self.crossing = gauge(
            "capacity_forecast_crossing_seconds",
            "Seconds until the trend+season forecast reaches capacity (+Inf: not within horizon)",
            ("platform",),
        )
        self.alerts = gauge("alerts_active", "Alerts by state", ("alertname", "severity", "state"))
        self.transitions = counter("alerts_state_changes_total", "Alert state changes", ("alertname", "to_state"))
        self.notifications = counter(
            "alerts_notifications_total", "Notifications by receiver and outcome", ("receiver", "outcome")
        )
        self.queue_depth = gauge("alerts_delivery_queue_depth", "Batches waiting per receiver", ("receiver",))
        self.minutes = counter("alerts_evaluations_total", "Closed event-time minutes evaluated")
        self.operator_records = counter(
            "alerts_operator_records_total",
            "Operator records read from the alerts topic: ack, silence, refused",
            ("kind",),
        )
        self.lag = gauge("alerts_event_time_lag_seconds", "Watermark minus the last evaluated minute")
        self.paused_partitions = gauge(
            "alerts_paused_partitions", "Rates partitions paused until judging catches up (far ahead in event time)"
        )

    def watch_queue(self, receiver: str, depth: Callable[[], float]) -> None:
        """Report a delivery worker's queue depth at scrape time (e.g. `lambda: worker.depth`)."""
        self.queue_depth.labels(receiver).set_function(depth)

    def outcome(self, receiver: str, outcome: str, count: int) -> None:
        """Hook for DeliveryWorker(on_outcome=...)."""
        self.notifications.labels(receiver, outcome).inc(count)

    def set_alert_counts(self, counts: dict[tuple[str, str, State], int]) -> None:
        for (name, severity, state), n in counts.items():
            self.alerts.labels(name, severity, state.value).set(n)
