"""The local ZooKeeper (Apache jars from Maven): starts on a loopback port, serves, stops cleanly."""

from __future__ import annotations

from pathlib import Path

import pytest

from ops.local_process import free_port
from ops.zookeeper_local import LocalZooKeeper, four_letter

pytestmark = pytest.mark.integration


def test_start_serve_stop(tmp_path: Path) -> None:
    zk = LocalZooKeeper(tmp_path / "zk", free_port())
    zk.start(timeout=90)
    try:
        assert zk.owned and zk.is_up()
        assert "Mode: standalone" in four_letter(zk.host, zk.client_port, b"srvr")
        assert f"clientPortAddress={zk.host}" in zk.config_path.read_text()  # loopback only
    finally:
        code = zk.stop()
    assert not zk.is_up()
    assert code is not None
