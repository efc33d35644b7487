"""`edu-simulate rehearse --target isolated` end to end, without a browser: on real Kafka, the command
starts the rehearsal's worker and alerting, a cockpit-side `Supervisor` in this process (which owns
the chDB store, as the cockpit does in local mode) runs its sink; the honest summary equals what was
stored; `rehearse-end` drops the rehearsal's database and topics and leaves the live ones as they were.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from cockpit.rehearsal import Supervisor
from contracts.rehearsal import Manifest, namespace, read_manifest, sink_marker
from contracts.settings import settings_env
from contracts.topics import ensure_topics, topic_specs
from ops.local_process import free_port
from tests.conftest import make_settings, private_database
from tests.support import wait_for

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]

# One day of a Jilin closure, at 1:2000, after one day of history.
SCENARIO = """
name: tiny-closure
description: Jilin closes its schools at 08:00 on one day.
start: 2022-11-09T00:00:00+08:00
end: 2022-11-10T00:00:00+08:00
scale: 0.0005
baseline:
  daily_clicks: 31_000_000
  platforms: {k12: 0.80, vocational: 0.08, higher: 0.08, employment: 0.04}
events:
  - type: closure
    label: Jilin school closure
    province: "220000"
    platforms: [k12]
    start: 2022-11-09T08:00:00+08:00
    ramp_hours: 4
    factor: 6.0
"""


def run_cli(env: dict[str, str], *args: str, timeout: float = 300) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "simulators.cli", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        timeout=timeout,
        check=False,
    )
    out = proc.stdout.decode() + proc.stderr.decode()
    assert proc.returncode == 0, f"edu-simulate {' '.join(args)} exited {proc.returncode}:\n{out[-4000:]}"
    return out


def value(out: str, label: str) -> str:
    m = re.search(rf"{re.escape(label)}\s*│\s*([^│]+?)\s*│", out)
    assert m, f"no {label!r} in:\n{out[-3000:]}"
    return m.group(1)


def test_an_isolated_rehearsal_stores_what_the_summary_says_and_ending_it_drops_only_its_own(
    kafka: str, chdb_session_store, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    s = make_settings(
        kafka,
        data_dir=tmp_path / "data",
        rehearsal_worker_metrics_port=free_port(),
        rehearsal_alerts_metrics_port=free_port(),
        alerts_metrics_port=0,
    )
    ensure_topics(s)
    live = private_database(chdb_session_store, s.clickhouse_database)
    live.command(
        f"INSERT INTO {live.database}.clicks_minute (minute, platform, province, section, action, clicks) "
        "VALUES (toDateTime(1667952000), 'k12', '220000', 'lessons', 'view', 7)"
    )
    live_before = live.query(f"SELECT count(), sum(clicks) FROM {live.database}.clicks_minute")
    scenario = tmp_path / "tiny.yaml"
    scenario.write_text(SCENARIO)
    env = {**settings_env(s), "COLUMNS": "200"}
    supervisor = Supervisor(s, live, poll_s=0.2).start()
    try:
        out = run_cli(env, "rehearse", str(scenario), "--speed", "36000", "--history-days", "1")
        m = read_manifest(s)
        assert isinstance(m, Manifest) and m.status == "finished" and m.target == "isolated"
        ns = namespace(s, m.id)
        sent = int(value(out, "sent (events)").replace(",", ""))
        assert sent > 10_000
        assert value(out, "acknowledged by Kafka (events)") == value(out, "sent (events)")
        assert value(out, "processed by the worker (events)") == value(out, "sent (events)")
        assert value(out, "late (beyond allowed lateness)") == "0 (0.0%)"
        assert value(out, "refused (dead letters)") == "0"
        assert sink_marker(s, m.id).exists()
        reh = live.with_database(ns.clickhouse_database)

        def stored() -> int:
            clicks = reh.query(f"SELECT sum(clicks) FROM {reh.database}.clicks_minute")[0][0] or 0
            sessions = (
                reh.query(f"SELECT sum(started + ended + heartbeats) FROM {reh.database}.sessions_minute")[0][0] or 0
            )
            return int(clicks) + int(sessions)

        wait_for(
            lambda: stored() == sent,
            120,
            "the rehearsal's events stored in its own database",
            describe=lambda: f"{stored()} of {sent}",
        )
        # shifted to now: the stored minutes are recent, not November 2022
        ((first, last),) = reh.query(
            f"SELECT min(toUInt32(minute)), max(toUInt32(minute)) FROM {reh.database}.clicks_minute"
        )
        assert last - first >= 86400 and last * 1000 >= m.end_ms - 3600_000 and last > 1_700_000_000

        out = run_cli(env, "rehearse-end")
        assert "its data dropped" in out
        dbs = {r[0] for r in live.query("SHOW DATABASES")}
        assert ns.clickhouse_database not in dbs and live.database in dbs
        from kafka import KafkaAdminClient

        admin = KafkaAdminClient(bootstrap_servers=kafka)
        try:
            wait_for(lambda: not set(topic_specs(ns)) & set(admin.list_topics()), 60, "rehearsal topics deleted")
            assert set(topic_specs(s)) <= set(admin.list_topics())
        finally:
            admin.close()
        assert live.query(f"SELECT count(), sum(clicks) FROM {live.database}.clicks_minute") == live_before
        assert supervisor.error is None
    finally:
        supervisor.stop()
        current = read_manifest(s)
        if isinstance(current, Manifest) and current.status != "ended":
            run_cli(env, "rehearse-end")  # a failed run leaves no rehearsal services behind
        live.drop_database()
