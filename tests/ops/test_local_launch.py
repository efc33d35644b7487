"""The README's first command runs: `edu-local` brings up Kafka, the worker, the alerting service,
the cockpit with its sink and a live simulator, traffic reaches the store, and Ctrl-C stops all of
it. Everything on free loopback ports and in a temporary data directory."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import psutil
import pytest

from ops.local_process import free_port
from tests.support import wait_for

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def _get(url: str) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.read().decode() if resp.status == 200 else None
    except OSError:
        return None


def _stored_clicks(metrics: str | None) -> float:
    if not metrics:
        return 0.0
    m = re.search(r'^edu_sink_rows_written_total\{table="clicks_minute"\} (\S+)$', metrics, re.M)
    return float(m.group(1)) if m else 0.0


def test_edu_local_runs_the_pipeline_on_live_traffic_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    cockpit_port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("EDU_")}
    env.update(
        {
            "EDU_DATA_DIR": str(tmp_path / "data"),
            "EDU_KAFKA_BOOTSTRAP": f"127.0.0.1:{free_port()}",
            "EDU_KAFKA_CONTROLLER_PORT": str(free_port()),
            "EDU_COCKPIT_PORT": str(cockpit_port),
            "EDU_COLLECTOR_PORT": str(free_port()),  # not the default: another stack may hold it
            "EDU_WORKER_METRICS_PORT": "0",
            "EDU_SINK_METRICS_PORT": "0",
            "EDU_ALERTS_METRICS_PORT": "0",
            "EDU_WORKER_SESSION_TIMEOUT_S": "6",
            "EDU_ALERTMANAGER_PORT": str(free_port()),  # its own (issue 14)
        }
    )
    out = tmp_path / "edu-local.out"
    with open(out, "wb") as sink:
        proc = subprocess.Popen(
            [sys.executable, "-m", "ops.launch", "--rate", "300"],
            cwd=ROOT,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{cockpit_port}"
    try:

        def ready() -> bool:
            assert proc.poll() is None, f"edu-local exited with {proc.returncode}:\n{out.read_text()[-3000:]}"
            return "Cockpit: " in out.read_text()

        wait_for(ready, 240, "edu-local to print the cockpit URL", interval=0.5)
        children = psutil.Process(proc.pid).children(recursive=True)
        assert len(children) >= 5  # Kafka, worker, alerts, cockpit, simulator
        assert _get(base + "/healthz") is not None
        assert "<title>" in (_get(base + "/") or "")
        wait_for(
            lambda: proc.poll() is None and _stored_clicks(_get(base + "/metrics")) > 0,
            180,
            "simulated clicks stored (edu_sink_rows_written_total on the cockpit's /metrics)",
            interval=1.0,
            describe=lambda: out.read_text()[-2000:],
        )
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C reaches the whole process group, as in a terminal
        code = proc.wait(120)
    assert code == 0, out.read_text()[-3000:]
    assert "==> stopping" in out.read_text()
    gone, alive = psutil.wait_procs(children, timeout=30)
    assert not alive, f"left running after Ctrl-C: {[p.pid for p in alive]}"


@pytest.mark.parametrize("rate", ["nan", "inf", "-5", "0"])
def test_a_rate_that_is_no_rate_is_refused_before_anything_starts(
    rate: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--rate nan` or `-5` went on to start the stack with a rate no simulator can send at, and
    `--rate 0` meant the default rate: refused with the reason, nothing started."""
    from ops.launch import main

    with pytest.raises(SystemExit) as ended:
        main(["--rate", rate])
    assert ended.value.code == 2
    assert "finite number above 0" in capsys.readouterr().err
