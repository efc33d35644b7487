"""Issue 14's journey on a stack started as `bash ops/up.sh` starts it (`edu-local`: Kafka, worker,
alerting service, cockpit with the sink, simulator, and now Alertmanager), on private ports and a
private data directory:

an operator is created with `edu-cockpit operators add`, signs in, acknowledges a real alert (a
capacity alert the small configured capacity makes the live simulator raise), silences it for
20 s, sees the silence listed, and sees it expire; the alert's notifications arrive at local fake
WeCom, DingTalk and Feishu robots that check each format and DingTalk's signature, and at the
stack's Alertmanager. Slow (a few minutes): marked integration.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import requests

from ops.local_process import free_port
from tests.alerts.fake_robots import FakeRobots

pytestmark = [pytest.mark.integration, pytest.mark.journey]

ROOT = Path(__file__).resolve().parents[1]


def wait_for(cond, timeout: float, what: str, proc: subprocess.Popen[bytes] | None = None, log: Path | None = None):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise AssertionError(
                f"the stack exited while waiting for {what}:\n{log.read_text()[-3000:] if log else ''}"
            )
        value = cond()
        if value:
            return value
        time.sleep(1.0)
    raise AssertionError(f"timed out waiting for {what}" + (f":\n{log.read_text()[-3000:]}" if log else ""))


def alerts_view(session: requests.Session, base: str) -> dict[str, Any]:
    """The alerts page's data, as the browser asks for it (the page's own Dash callback)."""
    from cockpit.layout import Ids
    from cockpit.pages import alerts

    outputs = [{"id": i, "property": p} for i, p in alerts.DATA_OUTPUTS] + [
        {"id": alerts.SIGNATURE, "property": "data"}
    ]
    body = {
        "output": ".." + "...".join(f"{o['id']}.{o['property']}" for o in outputs) + "..",
        "outputs": outputs,
        "inputs": [
            {"id": Ids.TICK, "property": "n_intervals", "value": 1},
            {"id": Ids.LANG, "property": "value", "value": "zh"},
            {"id": Ids.ROUTE, "property": "data", "value": {"page": "alerts"}},
            {"id": Ids.RANGE, "property": "value", "value": "1h"},
            {"id": Ids.CUSTOM, "property": "start_date", "value": None},
            {"id": Ids.CUSTOM, "property": "end_date", "value": None},
            {"id": alerts.STATE_FILTER, "property": "value", "value": list(alerts.STATES)},
            {"id": alerts.SEVERITY_FILTER, "property": "value", "value": list(alerts.SEVERITIES)},
        ],
        "state": [{"id": alerts.SIGNATURE, "property": "data", "value": None}],
        "changedPropIds": [f"{Ids.TICK}.n_intervals"],
    }
    answer = session.post(base + "/_dash-update-component", json=body, timeout=60)
    answer.raise_for_status()
    return answer.json()["response"]


def text_of(node: Any) -> str:
    if isinstance(node, dict):
        return text_of(node.get("props", {}).get("children"))
    if isinstance(node, list):
        return " ".join(text_of(n) for n in node)
    return "" if node is None else str(node)


def test_operator_journey_on_the_local_stack(tmp_path: Path) -> None:
    ports = {k: free_port() for k in ("kafka", "controller", "cockpit", "alertmanager")}
    with FakeRobots() as robots:
        env = {k: v for k, v in os.environ.items() if not k.startswith("EDU_")}
        env.update(
            {
                "EDU_DATA_DIR": str(tmp_path),
                "EDU_KAFKA_BOOTSTRAP": f"127.0.0.1:{ports['kafka']}",
                "EDU_KAFKA_CONTROLLER_PORT": str(ports["controller"]),
                "EDU_COCKPIT_PORT": str(ports["cockpit"]),
                "EDU_COLLECTOR_PORT": str(free_port()),
                "EDU_ALERTMANAGER_PORT": str(ports["alertmanager"]),
                "EDU_WORKER_METRICS_PORT": "0",
                "EDU_SINK_METRICS_PORT": "0",
                "EDU_ALERTS_METRICS_PORT": "0",
                "EDU_SIMULATOR_RATE": "200",
                "EDU_ALERTS_CAPACITY_PER_MINUTE": json.dumps(
                    {"k12": 600, "vocational": 300, "higher": 300, "employment": 100}
                ),
                "EDU_ALERTS_WEBHOOK_URLS": json.dumps([robots.wecom, robots.dingtalk, robots.feishu]),
                "EDU_COCKPIT_SILENCE_DURATIONS_S": "[20, 900]",
                "EDU_WORKER_SESSION_TIMEOUT_S": "6",
                # the alerts judge a minute once its lateness has passed: 15 s, not 300, so the capacity
                # alert fires about 5 minutes sooner (the journey's waits are wall time of the suite's)
                "EDU_ALLOWED_LATENESS_S": "15",
            }
        )
        # 1. an operator, created as the README says, before the stack starts
        made = subprocess.run(
            [sys.executable, "-m", "cockpit.cli", "operators", "add", "duty", "--password-stdin"],
            input=b"journey-pass-1\n",
            env=env,
            cwd=ROOT,
            capture_output=True,
            timeout=120,
        )
        assert made.returncode == 0, made.stderr.decode()
        log = tmp_path / "edu-local.out"
        with open(log, "wb") as out:
            stack = subprocess.Popen(
                [sys.executable, "-m", "ops.launch"],
                env=env,
                cwd=ROOT,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        base = f"http://127.0.0.1:{ports['cockpit']}"
        try:
            wait_for(lambda: "Cockpit:" in log.read_text(), 240, "the stack", stack, log)
            assert "Alertmanager" in log.read_text()

            # 2. sign in
            s = requests.Session()
            form = s.get(base + "/login", timeout=30).text
            csrf = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)  # type: ignore[union-attr]
            signed = s.post(
                base + "/login",
                data={"username": "duty", "password": "journey-pass-1", "csrf_token": csrf},
                allow_redirects=False,
                timeout=30,
            )
            assert signed.status_code == 302
            token = s.get(base + "/api/csrf", timeout=30).json()["csrf_token"]

            # 3. a real capacity alert fires (CapacityCritical: over 95 % of a small capacity for 2 min)
            def firing() -> str | None:
                view = alerts_view(s, base)
                table = view["alerts-current"]["children"]
                match = re.search(r"ack-comment-([0-9a-f]{8,64})", json.dumps(table))
                return match.group(1) if match else None

            # first its notifications: they go out when it fires (before anyone silences it)
            wait_for(
                lambda: all(not robots.received[k].empty() for k in ("wecom", "dingtalk", "feishu")),
                480,
                "notifications at the three robots",
                stack,
                log,
            )
            fp = wait_for(firing, 120, "an active alert with an acknowledge form", stack, log)

            # 4. acknowledge, then silence for 20 s (the shortest duration offered here)
            ack = s.post(
                f"{base}/api/alerts/{fp}/ack",
                json={"comment": "journey ack"},
                headers={"X-CSRF-Token": token},
                timeout=60,
            )
            assert ack.status_code == 202, ack.text
            sil = s.post(
                f"{base}/api/alerts/{fp}/silence",
                json={"duration_s": 20, "comment": "journey silence"},
                headers={"X-CSRF-Token": token},
                timeout=60,
            )
            assert sil.status_code == 202, sil.text

            # 5. the silence is listed with its author, then expires
            def listed() -> bool:
                text = text_of(alerts_view(s, base)["alerts-silences"]["children"])
                return "journey silence" in text and "duty" in text

            wait_for(listed, 120, "the silence in the list", stack, log)

            def expired() -> bool:
                return "journey silence" not in text_of(alerts_view(s, base)["alerts-silences"]["children"])

            wait_for(expired, 240, "the silence to expire", stack, log)

            # 6. the notifications reached the three robots in their formats, and Alertmanager
            got = {k: robots.received[k].get(timeout=5) for k in ("wecom", "dingtalk", "feishu")}
            assert robots.refused == []
            assert got["wecom"]["msgtype"] in ("markdown", "template_card")
            assert got["dingtalk"]["msgtype"] in ("markdown", "actionCard")
            assert got["feishu"]["msg_type"] == "interactive"
            with urllib.request.urlopen(f"http://127.0.0.1:{ports['alertmanager']}/api/v2/alerts", timeout=30) as r:
                assert any(a["labels"].get("alertname", "").startswith("Capacity") for a in json.load(r))
        finally:
            stack.send_signal(signal.SIGINT)
            try:
                stack.wait(120)
            except subprocess.TimeoutExpired:
                os.killpg(stack.pid, signal.SIGKILL)
