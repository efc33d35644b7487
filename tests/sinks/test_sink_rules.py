"""ops/prometheus/sink_rules.yml: passes `promtool check rules` and its unit tests, and names only
metrics the sink exports."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from sinks.metrics import SinkMetrics

RULES_DIR = Path(__file__).resolve().parents[2] / "ops" / "prometheus"
PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(PROMTOOL is None, reason="promtool not installed (apt-get install prometheus)")


@needs_promtool
def test_promtool_check_rules() -> None:
    res = subprocess.run(
        [PROMTOOL, "check", "rules", "sink_rules.yml"], cwd=RULES_DIR, capture_output=True, text=True, timeout=60
    )
    assert res.returncode == 0 and "SUCCESS: 3 rules found" in res.stdout, res.stdout + res.stderr


@needs_promtool
def test_promtool_test_rules() -> None:
    res = subprocess.run(
        [PROMTOOL, "test", "rules", "sink_rules_test.yml"], cwd=RULES_DIR, capture_output=True, text=True, timeout=60
    )
    assert res.returncode == 0, res.stdout + res.stderr


def test_rules_use_only_exported_metrics_and_prometheus_loads_them() -> None:
    registry = CollectorRegistry()
    SinkMetrics.create(registry)
    exported = {m.name for m in registry.collect()}
    used = set(re.findall(r"\bedu_sink_[a-z_]+", (RULES_DIR / "sink_rules.yml").read_text()))
    assert used and used <= exported, used - exported
    assert "sink_rules.yml" in (RULES_DIR / "prometheus.yml").read_text()
