"""The Faust app takes its Kafka client settings from the one settings object."""

from __future__ import annotations

from pathlib import Path

from contracts.settings import Settings
from streams.app import create_app


def test_worker_metadata_expires_in_seconds_not_minutes(tmp_path: Path) -> None:
    """aiokafka's offset lookup keeps asking a partition's old leader (NotLeaderForPartition, no
    metadata refresh on that path) until the metadata expires: the worker caps that at 15 s."""
    app = create_app(Settings(data_dir=tmp_path))
    assert app.conf.consumer_metadata_max_age_ms == 15_000
    app = create_app(Settings(data_dir=tmp_path, worker_metadata_max_age_s=2.5))
    assert app.conf.consumer_metadata_max_age_ms == 2_500
