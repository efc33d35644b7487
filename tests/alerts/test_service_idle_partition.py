"""On a real broker: a rates partition that never carries data stops holding the alert clock once
it has been caught up and silent for `alerts_idle_partition_s`, so alerting keeps going."""

from __future__ import annotations

import threading

from prometheus_client import CollectorRegistry

from alerts.service import AlertService
from contracts.rates import ClickRow, RateBatch, encode_batch
from contracts.topics import ensure_topics
from tests.conftest import make_settings
from tests.support import producer, wait_for

T0 = 1_647_216_000  # 2022-03-14 08:00 Beijing, a minute boundary


def test_a_silent_partition_releases_the_clock_after_the_idle_timeout(kafka) -> None:  # type: ignore[no-untyped-def]
    s = make_settings(kafka, topic_partitions=2, alerts_idle_partition_s=3.0)
    ensure_topics(s)
    prod = producer(kafka)
    minutes = 20
    for i in range(minutes):  # partition 0 only: 20 minutes of clicks; partition 1 stays empty
        batch = RateBatch(
            src_topic=s.topic_clicks,
            src_partition=0,
            first_offset=i,
            last_offset=i,
            watermark_ms=(T0 + (i + 1) * 60) * 1000,
            events=100,
            clicks=[ClickRow(T0 + i * 60, "k12", "220000", "lessons", "view", 100)],
        )
        prod.send(s.topic_rates, value=encode_batch(batch), partition=0)
    prod.flush(30)
    prod.close()
    service = AlertService(s, CollectorRegistry())
    thread = threading.Thread(target=service.run, daemon=True)
    thread.start()
    try:
        # closed minutes: up to the watermark minus the engine's allowed lateness
        target = T0 + minutes * 60 - s.allowed_lateness_s - 60
        wait_for(
            lambda: (service.engine.next_minute or 0) >= target,
            60,
            "the engine to close minutes while partition 1 has never sent data",
            describe=lambda: f"next minute {service.engine.next_minute}, holding {service.clock.holding()}",
        )
        assert service.clock.holding() == set()  # everything read, nothing recent: no one holds it
    finally:
        service.stop()
        thread.join(30)
