"""Every service's /metrics passes `promtool check metrics` (Prometheus' own lint) without a remark.

Each service's registry is built in-process on a fresh CollectorRegistry, every labelled metric gets
one child (so the exposition holds samples, not only HELP and TYPE lines), and the text that
/metrics would serve (prometheus_client.generate_latest) is piped to promtool.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.metrics import MetricWrapperBase

from alerts.metrics import AlertMetrics
from cockpit.metrics import CockpitMetrics
from sinks.metrics import SinkMetrics
from streams.metrics import WorkerMetrics

PROMTOOL = shutil.which("promtool")
pytestmark = pytest.mark.skipif(PROMTOOL is None, reason="promtool not installed (apt-get install prometheus)")

SERVICES: dict[str, Callable[[CollectorRegistry], object]] = {
    "worker": WorkerMetrics.create,
    "sink": SinkMetrics.create,
    "alerts": AlertMetrics,
    "cockpit": CockpitMetrics,
}


def _with_samples(metrics: object) -> None:
    """One child per labelled metric, labels set to a plain value, so every family has samples."""
    for m in vars(metrics).values():
        if isinstance(m, MetricWrapperBase) and m._labelnames:
            m.labels(*("x" for _ in m._labelnames))


def exposition(build: Callable[[CollectorRegistry], object]) -> bytes:
    registry = CollectorRegistry()
    _with_samples(build(registry))
    return generate_latest(registry)


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_metrics_pass_promtool_check_metrics(service: str) -> None:
    text = exposition(SERVICES[service])
    assert b"# TYPE" in text
    res = subprocess.run([PROMTOOL, "check", "metrics"], input=text, capture_output=True, timeout=60)
    lint = (res.stdout + res.stderr).decode().strip()
    assert res.returncode == 0 and not lint, f"{service}: promtool check metrics exit {res.returncode}:\n{lint}"
