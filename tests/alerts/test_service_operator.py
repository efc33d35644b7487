"""Operators' records on the alerts topic reach the alert book: an acknowledgement stops repeat
notifications, a silence suppresses delivery and expires; bad records are refused, not raised."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from alerts.lifecycle import Candidate, Rule
from alerts.service import AlertService
from contracts.alerts import Severity, State, StateChange
from contracts.settings import Settings

T0 = 1_647_216_000.0  # 2022-03-14 08:00 Beijing
RULE = Rule("ProvinceSurge", Severity.WARNING, for_s=0.0, hold_s=0.0, repeat_s=600.0, refresh_s=10_000.0)
LABELS = {"province": "220000", "scope": "province"}


def service() -> tuple[AlertService, list[StateChange], CollectorRegistry]:
    published: list[StateChange] = []
    registry = CollectorRegistry()
    return AlertService(Settings(), registry, publish=published.append), published, registry


def firing(svc: AlertService, now: float):  # type: ignore[no-untyped-def]
    out = svc.engine.book.evaluate(RULE, [Candidate(LABELS, value=3.1)], now)
    alert = next(a for a in svc.engine.book.alerts.values() if a.labels.get("province") == "220000")
    return alert, out


def record(kind: str, alert, at: float, **extra: object) -> bytes:  # type: ignore[no-untyped-def]
    annotations = dict(alert.annotations)
    if kind == "silence":
        annotations.update(silence_starts_at=str(extra.pop("starts")), silence_ends_at=str(extra.pop("ends")))
    return StateChange(
        at,
        alert.fingerprint,
        alert.name,
        kind,
        alert.state,
        alert.state,
        alert.severity,
        alert.value,
        dict(alert.labels),
        annotations,
        kind == "silence",
        author="ops.li",
        comment="on it",
    ).encode()


def test_ack_from_the_topic_stops_repeat_notifications_and_is_not_republished() -> None:
    svc, published, _ = service()
    alert, first = firing(svc, T0)
    assert alert.state is State.FIRING and first.notifications
    assert svc.handle_operator(record("ack", alert, T0 + 60)) == "ack"
    assert alert.ack is not None and alert.ack.author == "ops.li"
    later = svc.engine.book.evaluate(RULE, [Candidate(LABELS, value=3.2)], T0 + 1200)  # past repeat_s
    assert not later.notifications, "an acknowledged alert was notified again"
    assert published == []  # the operator's record is already on the topic


def test_silence_from_the_topic_suppresses_delivery_until_it_expires() -> None:
    svc, _, _ = service()
    alert, _ = firing(svc, T0)
    raw = record("silence", alert, T0 + 60, starts=T0 + 60, ends=T0 + 3600)
    assert svc.handle_operator(raw) == "silence"
    assert svc.engine.book.silenced(alert.labels, T0 + 1800)
    assert not svc.engine.book.evaluate(RULE, [Candidate(LABELS, value=3.2)], T0 + 1200).notifications
    assert not svc.engine.book.silenced(alert.labels, T0 + 3601)
    again = svc.engine.book.evaluate(RULE, [Candidate(LABELS, value=3.2)], T0 + 3700)
    assert [n.fingerprint for n in again.notifications] == [alert.fingerprint]


def test_own_state_changes_are_skipped_and_bad_records_refused() -> None:
    svc, _, registry = service()
    alert, _ = firing(svc, T0)
    assert svc.handle_operator(record("state", alert, T0)) is None
    assert svc.handle_operator(b"not json") is None
    gone = StateChange(
        T0,
        "deadbeef",
        "ProvinceSurge",
        "ack",
        State.FIRING,
        State.FIRING,
        Severity.WARNING,
        1.0,
        {"province": "110000"},
        {},
        author="ops.li",
    ).encode()
    assert svc.handle_operator(gone) is None  # no such alert here: logged and counted
    assert registry.get_sample_value("edu_alerts_operator_records_total", {"kind": "refused"}) == 2
