"""Fixtures for simulator tests: settings on the session's broker (tests/conftest.py) with topics of their own."""

from __future__ import annotations

import pytest

from contracts.settings import Settings, load_settings


@pytest.fixture()
def kafka_settings(kafka: str, request: pytest.FixtureRequest) -> Settings:
    """Settings pointing at the test broker, with topics unique to the test."""
    name = request.node.name.replace("[", "-").replace("]", "")[:40]
    return load_settings(
        kafka_bootstrap=kafka, topic_clicks=f"t.{name}.clicks", topic_sessions=f"t.{name}.sessions", topic_partitions=2
    )
