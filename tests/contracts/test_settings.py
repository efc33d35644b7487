"""The one settings object refuses what cannot work, with the setting's name in the message."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from contracts.settings import Settings, SettingsError, load_settings


def test_a_sink_instance_is_i_of_n() -> None:
    s = Settings(sink_instance="1/2", sink_insert_witness=False)
    assert s.sink_shard == (1, 2)
    assert Settings().sink_shard is None
    for bad in ("2/2", "0/0", "1", "a/b", "1/2/3"):
        with pytest.raises(ValidationError, match="sink_instance"):
            Settings(sink_instance=bad, sink_insert_witness=False)


def test_sink_instances_need_replicated_deduplication_not_the_parts_witness() -> None:
    # The witness settles a crashed step by the newest part of its table: with two writers, the other
    # sink's parts pass for the crashed one's (a test on one server lost clicks that way).
    with pytest.raises(ValidationError, match="sink_insert_witness=false"):
        Settings(sink_instance="0/2")


@pytest.mark.parametrize(
    ("name", "value"),
    [("EDU_ALERTS_HOLD_S", "inf"), ("EDU_SIMULATOR_RATE", "inf"), ("EDU_SINK_FLUSH_INTERVAL_S", "nan")],
)
def test_non_finite_numbers_are_refused(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    """inf passes every lower bound (an endless hold time, flush interval or rate): refused, named."""
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match=name):
        load_settings()
