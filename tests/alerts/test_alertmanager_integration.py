"""Integration: a surge alert goes detector -> lifecycle -> delivery -> real Alertmanager -> webhook.

Debian's prometheus-alertmanager is started on loopback with clustering off (ops.alertmanager_local),
routing to a local webhook receiver (http.server in a thread) with a 1 s group_wait. Event time is a
replayed school week of November 2022; the test waits on the receiver's queue, never on sleeps.
"""

from __future__ import annotations

import queue
from pathlib import Path

import numpy as np
import pytest

from alerts.delivery import AlertmanagerReceiver, DeliveryHub, DeliveryWorker
from alerts.detectors import SeriesDetector
from alerts.lifecycle import AlertBook, Candidate, Rule
from alerts.model import Notification
from contracts.alerts import Severity
from ops.alertmanager_local import LocalAlertmanager, find_alertmanager
from ops.local_process import free_port
from tests.alerts.helpers import DAY, MONDAY, poisson, school_days
from tests.alerts.webhook_server import WebhookServer

pytestmark = pytest.mark.integration

try:
    find_alertmanager()
    HAVE_AM = True
except FileNotFoundError:
    HAVE_AM = False

CONFIG = """\
route:
  receiver: hook
  group_by: [alertname, province]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: hook
    webhook_configs:
      - url: {url}
        send_resolved: true
"""
RULE = Rule("TrafficSurge", Severity.WARNING, for_s=300, hold_s=600, refresh_s=60)
LABELS = {"scope": "province", "province": "220000"}


def _drive(
    det: SeriesDetector, book: AlertBook, hub: DeliveryHub, start: int, stop: int, x: np.ndarray
) -> list[Notification]:
    """Evaluate minute by minute until a firing or resolved notification goes out."""
    sent: list[Notification] = []
    for t in range(start, stop, 60):
        r = det.observe(float(t), float(x[(t - MONDAY) // 60]))
        summary = {"summary": f"Jilin {r.ratio or 0.0:.1f}x its baseline"}
        cands = [Candidate(LABELS, summary, r.ratio or 0.0)] if r.surge else []
        ev = book.evaluate(RULE, cands, float(t + 60))
        hub.submit(ev.notifications)
        sent += ev.notifications
        if any(n.status == "firing" and not n.refresh for n in ev.notifications) or any(
            n.status == "resolved" for n in ev.notifications
        ):
            return sent
    return sent


@pytest.mark.skipif(
    not HAVE_AM, reason="prometheus-alertmanager not installed (apt-get install prometheus-alertmanager)"
)
def test_surge_reaches_the_webhook_firing_then_resolved(tmp_path: Path) -> None:
    lam = school_days(3, 60_000)
    surge0 = 2 * 1440 + 10 * 60
    lam[surge0 : surge0 + 60] *= 4.0  # Wednesday 10:00-11:00, 4x
    x = poisson(lam, 21)
    with WebhookServer() as hook:
        cfg = tmp_path / "alertmanager.yml"
        cfg.write_text(CONFIG.format(url=hook.url))
        with LocalAlertmanager(tmp_path / "am", port=free_port(), config_path=cfg) as am:
            hub = DeliveryHub([DeliveryWorker(AlertmanagerReceiver(am.url, timeout=5), backoff_s=0.2)]).start()
            try:
                det, book = SeriesDetector(), AlertBook()
                t_surge = MONDAY + 2 * DAY + 10 * 3600
                sent = _drive(det, book, hub, MONDAY, t_surge + 3600, x)
                assert sent and sent[-1].status == "firing", "no surge alert within the surge hour"
                fired = hook.received.get(timeout=30)
                assert fired["status"] == "firing"
                [alert] = fired["alerts"]
                assert alert["labels"] == {**LABELS, "alertname": "TrafficSurge", "severity": "warning"}
                assert alert["annotations"]["summary"].startswith("Jilin ")
                assert alert["fingerprint"] == sent[-1].fingerprint  # same identity on both sides
                assert alert["startsAt"].startswith("2022-11-09T02:")  # event time (10:xx Beijing)
                assert [a["fingerprint"] for a in am.alerts(active="true")] == [sent[-1].fingerprint]

                sent = _drive(det, book, hub, int(sent[-1].at), MONDAY + 3 * DAY, x)
                assert sent and sent[-1].status == "resolved"
                resolved = hook.received.get(timeout=30)
                while resolved["status"] != "resolved":  # a repeat of "firing" may sneak in first
                    resolved = hook.received.get(timeout=30)
                assert resolved["alerts"][0]["fingerprint"] == alert["fingerprint"]
                assert resolved["alerts"][0]["endsAt"].startswith("2022-11-09T03:")  # resolved at ~11:1x Beijing
                assert hub.wait_idle(10)
            finally:
                hub.stop()
        with pytest.raises(queue.Empty):
            hook.received.get_nowait()
