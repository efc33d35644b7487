"""The simulator through the collector's front door: open-loop send loop, HTTP sink, real collector
and broker; what reached Kafka equals the run's ground truth by province and session kind."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from contracts.events import Click
from contracts.geo import PROVINCES
from ops.local_process import free_port
from simulators.http_out import AddressBook, to_wire
from simulators.kafka_out import ensure_topics
from simulators.pacing import RateProfile, Schedule
from simulators.parallel import RunSpec
from simulators.runner import SendLoop
from simulators.truth import GroundTruth
from tests.collector.support import CollectorProcess, read_topics
from tests.conftest import make_settings


def test_address_book_places_each_province_where_the_collector_will() -> None:
    book = AddressBook()
    assert set(book.by_province) == {p.code for p in PROVINCES}
    for code, addrs in book.by_province.items():
        assert all(book.geo.lookup(a).province == code for a in addrs[:3])
    ev = Click(
        id="1",
        ts=1,
        platform="k12",
        province="abroad",
        country="JP",
        user="u",
        session="s",
        resource="r",
        section="lessons",
    )
    addr = book.for_event(ev)
    assert addr is not None and book.geo.lookup(addr).country == "JP"
    assert "province" not in to_wire(ev) and to_wire(ev)["pid"] == "u"


@pytest.mark.integration
def test_http_run_matches_ground_truth(kafka: str, tmp_path: Path) -> None:
    from simulators.http_out import HttpSink

    s = make_settings(
        kafka,
        collector_port=free_port(),
        collector_spool_dir=tmp_path / "spool",
        collector_rate_per_address=1e6,
        collector_rate_burst=1e6,
    )
    ensure_topics(s)
    proc = CollectorProcess(s, tmp_path / "collector.log").start()
    try:
        # a count, not a duration: on a busy machine six seconds once sent only 649 events
        spec = RunSpec.live(
            400.0,
            None,
            scenario="school-week",
            seed=5,
            count=1_500,
            bootstrap=None,
            producer=(),
            out=None,
            truth=True,
            client_flush_s=None,
        )
        truth = GroundTruth()
        sink = HttpSink(f"http://127.0.0.1:{s.collector_port}", connections=4)
        summary = SendLoop(sink, Schedule(RateProfile.constant(400.0)), truth=truth).run_messages(spec.messages(0, 1))
        # Events of a country the address data places nowhere cannot be sent: counted, and taken out of the truth.
        assert summary.events > 1000 and summary.delivery_errors <= summary.events // 100, summary.sink
        assert summary.sink["accepted"] == truth.total_events, (summary.sink, proc.metrics_text())
        events = read_topics(s, [s.topic_clicks, s.topic_sessions], truth.total_events)
        assert len(events) == truth.total_events
        got = Counter(e.province for e in events if isinstance(e, Click))
        assert dict(got) == {k: v for k, v in truth.clicks_by_province().items() if v}
        kinds = Counter(e.kind for e in events if not isinstance(e, Click))  # type: ignore[union-attr]
        assert dict(kinds) == {k: v for k, v in truth.sessions_by_kind().items() if v}
    finally:
        proc.stop()
