"""ops/prometheus/rules.yml passes `promtool check rules` and its unit tests (`promtool test rules`)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

RULES_DIR = Path(__file__).resolve().parents[2] / "ops" / "prometheus"
PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(PROMTOOL is None, reason="promtool not installed (apt-get install prometheus)")


@needs_promtool
def test_promtool_check_rules() -> None:
    res = subprocess.run(
        [PROMTOOL, "check", "rules", str(RULES_DIR / "rules.yml")], capture_output=True, text=True, timeout=60
    )
    assert res.returncode == 0, res.stdout + res.stderr
    assert "SUCCESS" in res.stdout


@needs_promtool
def test_promtool_test_rules() -> None:
    res = subprocess.run(
        [PROMTOOL, "test", "rules", "rules_test.yml"], cwd=RULES_DIR, capture_output=True, text=True, timeout=60
    )
    assert res.returncode == 0, res.stdout + res.stderr


def test_rules_only_use_metrics_the_service_exports() -> None:
    from prometheus_client import CollectorRegistry

    from alerts.metrics import AlertMetrics

    registry = CollectorRegistry()
    AlertMetrics(registry)
    exported = {m.name for m in registry.collect()} | {m.name + "_total" for m in registry.collect()}
    text = (RULES_DIR / "rules.yml").read_text()

    used = set(re.findall(r"(?<![:\w])(edu_[a-z_]+)", text))  # not the recording rule platform:edu_...
    assert used and used <= exported, used - exported
