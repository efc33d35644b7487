"""The march-2022 scenario at 1:1000, replayed through Kafka, the worker and the sink into chDB.

The daily report computed from the store must equal the run's ground truth exactly, and, scaled
back up, reproduce the seed article's figures within 5%. This is the whole pipeline doing what a
load tester does: history at full speed, event times kept.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from contracts.settings import settings_env
from contracts.topics import ensure_topics
from simulators.generator import generate_batches
from simulators.truth import GroundTruth
from sinks.runner import start_sink_thread
from tests.conftest import make_settings, private_database
from tests.support import WorkerProcess, send_regrouped, wait_for

pytestmark = pytest.mark.integration
SCALE = 1000

# Daily views per Beijing day = on-time clicks + late clicks (both stored, neither lost).
DAILY = """
SELECT toString(d), sum(n) FROM (
    SELECT toDate(minute) AS d, sum(clicks) AS n FROM {db}.clicks_minute GROUP BY d
    UNION ALL
    SELECT toDate(minute) AS d, sum(events) AS n FROM {db}.late_events GROUP BY d
) GROUP BY d ORDER BY d
"""


def test_march_2022_daily_report_equals_truth_and_seed(kafka, chdb_session_store, tmp_path: Path) -> None:
    s = make_settings(kafka, worker_batch_within_s=0.5, max_events_per_message=1000)
    ensure_topics(s)
    store = private_database(chdb_session_store, "march_2022")
    sink = start_sink_thread(s.model_copy(update={"clickhouse_database": store.database}), store, CollectorRegistry())
    worker = WorkerProcess(s, tmp_path / "worker.log", settings_env(s)).start()
    try:
        truth = GroundTruth()
        send_regrouped(s, generate_batches("march-2022", seed=20220314, scale=1 / SCALE), truth)
        want = {day: sum(by_prov.values()) for day, by_prov in truth.clicks_by_day().items()}
        n_clicks = sum(want.values())
        assert n_clicks > 600_000

        def got() -> dict[str, int]:
            return {d: int(n) for d, n in store.query(DAILY.format(db=store.database))}

        wait_for(
            lambda: sink.check() is None and sum(got().values()) >= n_clicks,
            600,
            "all march-2022 clicks stored",
            interval=1.0,
            describe=lambda: f"stored {sum(got().values())} of {n_clicks}",
        )
        daily = got()
        assert daily == want  # exact, day by day

        totals = [daily[d] * SCALE for d in sorted(daily)]
        assert len(totals) == 25
        seed = {
            "total 720 M": (sum(totals), 720e6),
            "daily average 28.88 M": (sum(totals) / 25, 28.88e6),
            "first two weeks 12.91 M/day": (sum(totals[:13]) / 13, 12.91e6),
            "last two weeks 46.19 M/day": (sum(totals[13:]) / 12, 46.19e6),
            "peak day 64.33 M": (max(totals), 64.33e6),
        }
        for name, (value, figure) in seed.items():
            assert abs(value / figure - 1) < 0.05, f"{name}: {value / 1e6:.2f} M"
        guangxi = sum(
            int(n)
            for (n,) in store.query(
                f"SELECT sum(clicks) FROM {store.database}.clicks_minute WHERE province = %(p)s", {"p": "450000"}
            )
        )
        assert guangxi * SCALE >= 0.95 * 50e6  # "Guangxi passed 50 M views"
    finally:
        worker.stop()
        sink.stop()
