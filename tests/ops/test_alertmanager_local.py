"""Integration tests for ops.alertmanager_local against Debian's Alertmanager.

Why: the cockpit's alert path is tested against a real Alertmanager; these
tests prove the helper starts it on a free loopback port with clustering off,
that the v2 API round-trips an alert, and that stop really stops it.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ops.alertmanager_local import LocalAlertmanager, find_alertmanager
from ops.local_process import ServerStartError, free_port, port_accepts

pytestmark = pytest.mark.integration

REPO_ROOT = Path(__file__).resolve().parents[2]

try:
    find_alertmanager()
    HAVE_AM = True
except FileNotFoundError:
    HAVE_AM = False

needs_am = pytest.mark.skipif(
    not HAVE_AM, reason="prometheus-alertmanager not installed (apt-get install prometheus-alertmanager)"
)


def _listening_ports(pid: int) -> set[int]:
    """TCP ports in LISTEN state owned by ``pid`` (via /proc, no ss needed)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            cols = line.split()
            if cols[3] == "0A" and cols[9] in inodes:  # 0A = LISTEN
                ports.add(int(cols[1].rsplit(":", 1)[1], 16))
    return ports


@needs_am
def test_start_post_get_alert_stop(tmp_path: Path) -> None:
    am = LocalAlertmanager(tmp_path / "am", port=free_port())
    t0 = time.monotonic()
    with am:
        print(f"alertmanager start-up {time.monotonic() - t0:.2f}s")
        assert am.owned and am.is_up()
        assert am.pid is not None
        assert _listening_ports(am.pid) == {am.port}  # no :9094 gossip, nothing else
        now = dt.datetime.now(dt.UTC)
        am.post_alerts(
            [
                {
                    "labels": {"alertname": "CockpitTest", "severity": "warning", "service": "ingest"},
                    "annotations": {"summary": "lag above threshold"},
                    "startsAt": now.isoformat(),
                    "endsAt": (now + dt.timedelta(minutes=5)).isoformat(),
                }
            ]
        )
        alerts = am.alerts()
        assert len(alerts) == 1
        alert = alerts[0]
        assert alert["labels"] == {"alertname": "CockpitTest", "severity": "warning", "service": "ingest"}
        assert alert["annotations"]["summary"] == "lag above threshold"
        assert alert["status"]["state"] == "active"
        assert am.alerts(filter='alertname="CockpitTest"')[0]["fingerprint"] == alert["fingerprint"]
        assert am.alerts(filter='alertname="Other"') == []
        assert (am.storage_path).is_dir()
        port = am.port
    assert not am.owned
    assert not port_accepts("127.0.0.1", port)
    assert not am.pidfile.exists()


@needs_am
def test_custom_config_and_reuse(tmp_path: Path) -> None:
    cfg = tmp_path / "custom.yml"
    cfg.write_text('route:\n  receiver: "dev-null"\nreceivers:\n  - name: "dev-null"\n')
    with LocalAlertmanager(tmp_path / "a", port=free_port(), config_path=cfg) as first:
        assert f"--config.file={cfg}" in first.command()
        again = LocalAlertmanager(tmp_path / "b", port=first.port).start()
        assert not again.owned
        assert again.stop() is None
        assert first.is_up()


@needs_am
def test_bad_config_fails_fast_with_log(tmp_path: Path) -> None:
    cfg = tmp_path / "bad.yml"
    cfg.write_text("route: [this is not a route\n")
    am = LocalAlertmanager(tmp_path / "am", port=free_port(), config_path=cfg)
    t0 = time.monotonic()
    with pytest.raises(ServerStartError) as info:
        am.start(timeout=30)
    assert time.monotonic() - t0 < 15
    assert "exited with code" in str(info.value)
    assert "alertmanager.stdout.log" in str(info.value)
    assert not port_accepts("127.0.0.1", am.port)


def test_rejects_non_loopback(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        LocalAlertmanager(tmp_path, 19093, host="192.168.1.10")


@needs_am
def test_cli_detach_status_stop(tmp_path: Path) -> None:
    data_dir, port = tmp_path / "cli", free_port()
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "ops.alertmanager_local", *args, "--data-dir", str(data_dir)],
            cwd=REPO_ROOT,
            env=env,
            check=False,
            capture_output=True,
            text=True,
            timeout=120,
        )

    started = cli("start", "--port", str(port), "--detach")
    assert started.returncode == 0, started.stdout + started.stderr
    try:
        status = cli("status", "--port", str(port))
        assert status.returncode == 0 and " up " in status.stdout
    finally:
        stopped = cli("stop")
    assert "stopped" in stopped.stdout, stopped.stdout + stopped.stderr
    assert cli("status", "--port", str(port)).returncode == 3
