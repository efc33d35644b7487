"""The one-province closure scenario through the pipeline: Kafka -> worker -> rates -> alerting
service -> alerts topic -> sink -> alert_log.

Jilin's K-12 traffic ramps from 1x to 6x over 24 h from Wed 9 Nov 2022 08:00 (Beijing), so the
ramp reaches 3x at 17:36. A surge alert must fire for Jilin by 15 simulated minutes after that,
and no surge alert may fire for any other province.
"""

from __future__ import annotations

import json
import threading
from datetime import datetime, timedelta, timezone

import pytest
from prometheus_client import CollectorRegistry

from alerts.service import AlertService
from contracts.settings import settings_env
from contracts.topics import ensure_topics
from simulators.generator import generate_batches
from simulators.scenario import load_scenario
from sinks.runner import start_sink_thread
from tests.conftest import make_settings, private_database
from tests.support import WorkerProcess, send_regrouped, wait_for

pytestmark = pytest.mark.integration

BJ = timezone(timedelta(hours=8))
CLOSURE = datetime(2022, 11, 9, 8, 0, tzinfo=BJ)
THREE_X = CLOSURE + timedelta(hours=24 * 0.4)  # 1 + 5 * 0.4 = 3
END = CLOSURE + timedelta(hours=11)  # an hour past 3x is all the test needs
JILIN = "220000"


Change = tuple[int, str, str, dict]  # type: ignore[type-arg]


@pytest.fixture(scope="module")
def surges(kafka, chdb_session_store, tmp_path_factory: pytest.TempPathFactory) -> list[Change]:  # type: ignore[no-untyped-def]
    """Run the scenario through the pipeline once; the firing surge alerts as stored in alert_log."""
    tmp_path = tmp_path_factory.mktemp("closure")
    s = make_settings(kafka, worker_batch_within_s=0.5)
    ensure_topics(s)
    store = private_database(chdb_session_store, "closure")
    sink = start_sink_thread(s.model_copy(update={"clickhouse_database": store.database}), store, CollectorRegistry())
    service = AlertService(s, CollectorRegistry())
    alerting = threading.Thread(target=service.run, daemon=True)
    alerting.start()
    worker = WorkerProcess(s, tmp_path / "worker.log", settings_env(s)).start()
    try:
        scenario = load_scenario("one-province-closure")
        start_ms = scenario.start_ms
        send_regrouped(
            s, generate_batches(scenario, start_ms=start_ms, end_ms=int(END.timestamp() * 1000), seed=3, scale=0.01)
        )
        # The engine closes a minute once every partition's watermark has passed it (+ lateness).
        target = int(END.timestamp()) - s.allowed_lateness_s - 600
        wait_for(
            lambda: (service.engine.next_minute or 0) >= target and sink.check() is None,
            600,
            "the alerting service to evaluate up to the end of the replay",
            interval=1.0,
            describe=lambda: f"next minute {service.engine.next_minute}, target {target}",
        )

        def log() -> list[tuple]:  # type: ignore[type-arg]
            return store.query(
                f"SELECT toUInt32(at), alertname, new_state, labels FROM {store.database}.alert_log "
                "WHERE kind = 'state' ORDER BY at"
            )

        wait_for(
            lambda: sink.check() is None and len(log()) >= service.changes > 0,
            120,
            "state changes stored in alert_log",
            describe=lambda: f"{len(log())} stored of {service.changes}",
        )
        changes = [(at, name, state, json.loads(labels)) for at, name, state, labels in log()]
        return [c for c in changes if c[1] == "TrafficSurge" and c[2] == "firing"]
    finally:
        worker.stop()
        service.stop()
        alerting.join(30)
        sink.stop()


def test_closed_province_surges_within_15_minutes_of_3x(surges: list[Change]) -> None:
    jilin = [at for at, _, _, labels in surges if labels.get("province") == JILIN]
    assert jilin, f"no surge for Jilin; surges: {surges}"
    assert min(jilin) <= THREE_X.timestamp() + 15 * 60, (
        f"first Jilin surge at {datetime.fromtimestamp(min(jilin), BJ)}, 3x at {THREE_X}"
    )


def test_no_surge_for_any_other_province(surges: list[Change]) -> None:
    others = {labels.get("province") for _, _, _, labels in surges} - {JILIN, None}
    assert not others, f"surge alerts for other provinces: {sorted(others)}"
