"""`edu-alerts replay`'s fold on columns against the worker's own fold on wire bytes, end to end."""

from __future__ import annotations

import pytest

from alerts.replay import replay
from simulators.scenario import load_scenario

pytestmark = pytest.mark.integration  # a whole scenario twice (~20 s)


def test_both_folds_give_the_same_state_changes() -> None:
    """Shandong's Saturday closure at 1:1000, with the national and platform anomalies around it."""
    sc = load_scenario("closures-weekend-onset")
    kw = dict(scale=0.001, seed=5, provinces=("370000",))
    fast = replay(sc, **kw)  # type: ignore[arg-type]
    worker = replay(sc, through_worker=True, **kw)  # type: ignore[arg-type]
    assert fast.events == worker.events > 500_000
    assert fast.late_rows == worker.late_rows
    assert {"TrafficSurge", "TrafficAnomaly"} <= {c.alertname for c in fast.changes}
    assert [c.encode() for c in fast.changes] == [c.encode() for c in worker.changes]
