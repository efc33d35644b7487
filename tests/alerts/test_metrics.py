"""Metrics: fresh registry per test, bounded labels, `promtool check metrics` clean."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from alerts.metrics import AlertMetrics
from contracts.geo import PLATFORMS, PROVINCE_CODES


def _filled() -> CollectorRegistry:
    reg = CollectorRegistry()
    m = AlertMetrics(reg)
    for p in PLATFORMS:
        m.platform_rate.labels(p).set(100)
        m.utilisation.labels(p).set(0.5)
        m.crossing.labels(p).set(float("inf"))
    for c in PROVINCE_CODES:
        m.province_rate.labels(c).set(1)
    m.outcome("alertmanager", "sent", 3)
    m.minutes.inc()
    return reg


def test_two_registries_do_not_collide() -> None:
    a, b = CollectorRegistry(), CollectorRegistry()
    AlertMetrics(a)
    AlertMetrics(b)  # no "Duplicated timeseries" error: nothing global


def test_label_cardinality_is_bounded() -> None:
    reg = _filled()
    samples = [s for fam in reg.collect() for s in fam.samples]
    assert len(samples) < 400
    for s in samples:
        assert set(s.labels) <= {
            "platform",
            "province",
            "scope",
            "series",
            "alertname",
            "severity",
            "state",
            "to_state",
            "receiver",
            "outcome",
        }


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool not installed (apt-get install prometheus)")
def test_promtool_check_metrics() -> None:
    res = subprocess.run(
        ["promtool", "check", "metrics"], input=generate_latest(_filled()), capture_output=True, timeout=60
    )
    assert res.returncode == 0, res.stdout.decode() + res.stderr.decode()


def test_queue_depth_is_read_at_scrape_time() -> None:
    reg = CollectorRegistry()
    m = AlertMetrics(reg)
    depth = [3]
    m.watch_queue("webhook", lambda: depth[0])
    assert reg.get_sample_value("edu_alerts_delivery_queue_depth", {"receiver": "webhook"}) == 3
    depth[0] = 0
    assert reg.get_sample_value("edu_alerts_delivery_queue_depth", {"receiver": "webhook"}) == 0
