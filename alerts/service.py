"""The alerting service: rate batches in, alert state changes out, minute by minute in event time.

It reads the rates topic from the earliest offset (a replay warms the baselines), closes a minute when
every partition holding the clock has passed it (`alerts.partition_clock`), and sends each state
change to the alerts topic keyed by fingerprint; notifications go through bounded queues, so a failing
receiver never blocks detection. Operators' ack and silence records on that topic (`cockpit/acks.py`)
are applied, not re-published. State is in memory: after a restart the topic is re-read and the
same alerts are raised again under the same fingerprints.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import Any

from prometheus_client import CollectorRegistry

from alerts.delivery import AlertmanagerReceiver, DeliveryWorker, WebhookReceiver
from alerts.detectors import SurgeParams
from alerts.engine import AlertEngine, EngineConfig
from alerts.metrics import AlertMetrics
from alerts.model import Notification
from alerts.partition_clock import PartitionClock
from contracts.alerts import StateChange
from contracts.rates import decode_batch
from contracts.settings import Settings

log = logging.getLogger(__name__)


def engine_config(settings: Settings) -> EngineConfig:
    """The engine's knobs from the one settings object."""
    base = EngineConfig()
    surge = SurgeParams(k=settings.alerts_surge_k, window_min=settings.alerts_surge_window_min)
    rule = replace(
        base.surge_rule,
        for_s=settings.alerts_surge_for_s,
        hold_s=settings.alerts_hold_s,
        repeat_s=settings.alerts_repeat_s,
    )
    return replace(
        base,
        surge=surge,
        surge_rule=rule,
        lateness_s=float(settings.allowed_lateness_s),
        max_gap_s=settings.alerts_max_gap_s,
        stale_after_s=settings.alerts_stale_after_days * 86_400.0,
        capacity_warning=settings.alerts_capacity_warning,
        capacity_critical=settings.alerts_capacity_critical,
        lead_time_s=settings.alerts_capacity_lead_time_s,
        calendar=settings.school_calendar,
    )


class AlertService:
    def __init__(
        self,
        settings: Settings,
        registry: CollectorRegistry | None = None,
        publish: Callable[[StateChange], None] | None = None,
    ) -> None:
        self.settings = settings
        self.metrics = AlertMetrics(registry or CollectorRegistry())
        self.workers: list[DeliveryWorker] = []
        if settings.alerts_alertmanager_url:
            self.workers.append(
                DeliveryWorker(
                    AlertmanagerReceiver(settings.alerts_alertmanager_url),
                    maxsize=settings.alerts_delivery_queue,
                    retries=settings.alerts_delivery_retries,
                    on_outcome=self.metrics.outcome,
                )
            )
        for i, url in enumerate(settings.alerts_webhook_urls):
            self.workers.append(
                DeliveryWorker(
                    WebhookReceiver(url, name=f"webhook{i}"),
                    maxsize=settings.alerts_delivery_queue,
                    retries=settings.alerts_delivery_retries,
                    on_outcome=self.metrics.outcome,
                )
            )
        self._producer: Any = None
        self._publish = publish or self._send_change
        self.engine = AlertEngine(
            engine_config(settings),
            capacities=settings.alerts_capacity_per_minute,
            on_change=self._publish,
            deliver=self._deliver,
            metrics=self.metrics,
        )
        self.clock = PartitionClock(settings.alerts_idle_partition_s)
        self.changes = 0
        self._stop = threading.Event()
        self._deadline: float | None = None  # judging stops here until the next poll (None: no limit)

    def stop(self) -> None:
        self._stop.set()

    def _deliver(self, notes: list[Notification]) -> None:
        for w in self.workers:
            w.submit(notes)

    def _send_change(self, change: StateChange) -> None:
        if self._producer is None:
            from kafka import KafkaProducer

            self._producer = KafkaProducer(
                bootstrap_servers=self.settings.kafka_bootstrap.split(","), acks="all", linger_ms=20
            )
        self._producer.send(self.settings.topic_alerts, key=change.fingerprint.encode(), value=change.encode())
        self.changes += 1

    def handle(self, partition: int, raw: bytes) -> None:
        """One rates message: feed its clicks, then close the minutes every partition has passed."""
        batch = decode_batch(raw)
        self.engine.ingest(batch.clicks)
        self.clock.observe(partition, batch.watermark_ms, batch.events)
        self.tick()

    def tick(self) -> None:
        """Close the minutes every holding partition has passed (see `alerts.partition_clock`)."""
        t = self.clock.time()
        if t is not None:
            self.engine.advance(t, self._deadline)

    def too_far_ahead(self, partitions: Iterable[int]) -> set[int]:
        """The partitions whose watermark is more than `alerts_max_ahead_s` past the minute being
        judged: reading them on would only pile minutes up in memory (a backlog of weeks once grew
        the service to 5.5 GB). The limit stays above the lateness, so a paused partition's minutes
        can always be judged, and judging catches up to it."""
        pos = self.engine.position
        if pos is None:
            return set()
        limit = pos + max(self.settings.alerts_max_ahead_s, self.engine.cfg.lateness_s + 120.0)
        return {p for p in partitions if self.clock.watermarks.get(p, -1.0) > limit}

    def handle_operator(self, raw: bytes) -> str | None:
        """One alerts-topic record: apply an operator's ack or silence; skip state changes.

        Returns what was applied ("ack", "silence") or None. A record that cannot apply (an ack for
        an alert this instance no longer has pending or firing, a malformed silence) is logged and
        counted, never raised: one bad record must not stop detection."""
        try:
            msg = json.loads(raw)
            kind = msg.get("kind")
            if kind == "ack":
                self.engine.book.acknowledge(
                    str(msg["fingerprint"]), str(msg["author"]), float(msg["at"]), str(msg.get("comment", ""))
                )
            elif kind == "silence":
                notes = msg["annotations"]
                self.engine.silence(
                    {str(k): str(v) for k, v in msg["labels"].items()},
                    float(notes["silence_starts_at"]),
                    float(notes["silence_ends_at"]),
                    str(msg["author"]),
                    str(msg.get("comment", "")),
                )
            else:
                return None
        except (KeyError, ValueError, TypeError, AttributeError) as err:
            log.warning("operator record not applied: %r (%s)", err, raw[:300])
            self.metrics.operator_records.labels("refused").inc()
            return None
        self.metrics.operator_records.labels(kind).inc()
        return kind

    def run(self) -> None:
        from kafka import KafkaConsumer
        from kafka.errors import KafkaError

        s = self.settings
        for w in self.workers:
            w.start()
        try:
            consumer = KafkaConsumer(
                s.topic_rates,
                s.topic_alerts,
                bootstrap_servers=s.kafka_bootstrap.split(","),
                group_id=f"{s.worker_id}-alerts",
                auto_offset_reset="earliest",
                enable_auto_commit=True,
                max_poll_records=500,  # with the judging budget: a backlog is read in step
                # kafka-python refuses larger response frames (default 1 MB,
                # less than one fetch of a backlog): cover the whole fetch.
                fetch_max_bytes=64 * 1024 * 1024,
                receive_message_max_bytes=65 * 1024 * 1024,
            )
        except KafkaError as err:
            raise SystemExit(f"edu-alerts: Kafka at {s.kafka_bootstrap} is unreachable: {err!r}") from None
        try:
            while not self._stop.is_set():
                self._deadline = time.monotonic() + s.alerts_eval_budget_s
                polled = consumer.poll(timeout_ms=200)
                owned = [tp for tp in consumer.assignment() if tp.topic == s.topic_rates]
                self.clock.assign(tp.partition for tp in owned)
                for tp, records in polled.items():
                    for rec in records:
                        if tp.topic == s.topic_alerts:
                            self.handle_operator(rec.value)
                        else:
                            self.handle(tp.partition, rec.value)
                self.clock.caught_up(tp.partition for tp in owned if _caught_up(consumer, tp))
                self.tick()  # idle partitions release the clock even when nothing else arrives
                ahead = self.too_far_ahead(tp.partition for tp in owned)
                paused = set(consumer.paused())
                consumer.pause(*[tp for tp in owned if tp.partition in ahead and tp not in paused])
                consumer.resume(*[tp for tp in paused if tp.partition not in ahead])
                self.metrics.paused_partitions.set(len(ahead))
                if self._producer is not None:
                    self._producer.flush(30)
        finally:
            consumer.close()
            if self._producer is not None:
                self._producer.flush(30)
                self._producer.close(30)
            for w in self.workers:
                w.stop()


def _caught_up(consumer: Any, tp: Any) -> bool:
    """Nothing left to read on `tp` right now. The high-water mark is known once a fetch for the
    partition has returned; position(timeout_ms=0) does not block on an unknown position."""
    high = consumer.highwater(tp)
    pos = consumer.position(tp, timeout_ms=0)
    return high is not None and pos is not None and pos >= high


def start_alert_thread(
    settings: Settings, registry: CollectorRegistry | None = None
) -> tuple[AlertService, threading.Thread]:
    """Run the alerting service in a daemon thread of this process (local mode, tests)."""
    service = AlertService(settings, registry)
    thread = threading.Thread(target=service.run, name="edu-alerts", daemon=True)
    thread.start()
    return service, thread
