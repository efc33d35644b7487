"""Lifecycle with an injected clock: pending, firing, hold, resolved, repeats, acks, silences."""

from __future__ import annotations

import pytest

from alerts.lifecycle import AlertBook, Candidate, Rule
from alerts.model import fingerprint
from contracts.alerts import Severity, State

RULE = Rule("TrafficSurge", Severity.WARNING, for_s=300, hold_s=600, repeat_s=3600, refresh_s=60)
JILIN = {"scope": "province", "province": "220000"}


def _run(book: AlertBook, start: float, stop: float, active: bool, labels=JILIN, step: float = 60.0):
    """Evaluate once a minute from start to stop (exclusive); returns (changes, notifications)."""
    changes, notes = [], []
    t = start
    while t < stop:
        ev = book.evaluate(RULE, [Candidate(labels, {"summary": "Jilin 4.0x"}, 4.0)] if active else [], t)
        changes += ev.changes
        notes += ev.notifications
        t += step
    return changes, notes


def test_fingerprint_is_the_label_set_not_its_order() -> None:
    a = fingerprint({"alertname": "X", "province": "220000", "scope": "province"})
    b = fingerprint({"scope": "province", "province": "220000", "alertname": "X"})
    assert a == b and len(a) == 16
    assert a != fingerprint({"alertname": "X", "province": "210000", "scope": "province"})
    assert fingerprint({}) == "cbf29ce484222325"  # FNV-1a 64 offset basis, as Prometheus


def test_surge_fires_after_m_minutes_and_resolves_after_recovery_and_hold() -> None:
    book = AlertBook()
    changes, notes = _run(book, 0, 300, active=True)  # 0..240: pending only
    assert [c.new_state for c in changes] == [State.PENDING]
    assert notes == []
    changes, notes = _run(book, 300, 360, active=True)  # for_s reached at t=300
    assert [c.new_state for c in changes] == [State.FIRING]
    assert [n.status for n in notes] == ["firing"] and notes[0].starts_at == 300
    # recovery at t=600: still firing during the hold, resolved once 600 s without the condition
    changes, notes = _run(book, 360, 600, active=True)
    changes, notes = _run(book, 600, 1200 + 60, active=False)
    resolved = [c for c in changes if c.new_state is State.RESOLVED]
    assert len(resolved) == 1 and resolved[0].at == 540 + 600  # last active 540, hold 600
    assert [n.status for n in notes if not n.refresh] == ["resolved"]
    assert notes[-1].ends_at == 1140


def test_pending_that_recovers_never_fires_or_notifies() -> None:
    book = AlertBook()
    changes, notes = _run(book, 0, 180, active=True)
    changes2, notes2 = _run(book, 180, 240, active=False)
    assert [c.new_state for c in changes + changes2] == [State.PENDING, State.INACTIVE]
    assert notes + notes2 == [] and book.alerts == {}


def test_flapping_within_the_hold_stays_one_incident() -> None:
    book = AlertBook()
    _run(book, 0, 360, active=True)
    changes, notes = [], []
    for k in range(6):  # 5 minutes off, 2 minutes on, repeatedly: never 600 s off
        c, n = _run(book, 360 + k * 420, 360 + k * 420 + 300, active=False)
        changes += c
        notes += n
        c, n = _run(book, 660 + k * 420, 660 + k * 420 + 120, active=True)
        changes += c
        notes += n
    assert all(c.new_state is not State.RESOLVED for c in changes)
    assert not [n for n in notes if not n.refresh], "no new firing, no resolved: one incident"


def test_repeats_are_suppressed_until_the_repeat_interval() -> None:
    book = AlertBook()
    _, notes = _run(book, 0, 3 * 3600, active=True)
    people = [n for n in notes if not n.refresh]
    assert [n.at for n in people] == [300, 3900, 7500]
    assert [n.repeat for n in people] == [False, True, True]
    assert all(n.refresh for n in notes if n not in people)  # keep-alives for Alertmanager only


def test_acknowledgement_is_recorded_with_its_author_and_stops_repeats() -> None:
    book = AlertBook()
    _run(book, 0, 360, active=True)
    fp = book.firing()[0].fingerprint
    change = book.acknowledge(fp, "duty.officer.wang", 400, "calling Jilin education bureau")
    assert change.kind == "ack" and change.author == "duty.officer.wang"
    assert book.get(fp).ack.author == "duty.officer.wang" and book.get(fp).ack.at == 400
    _, notes = _run(book, 360, 3 * 3600, active=True)
    assert not [n for n in notes if not n.refresh]
    assert all(n.extra["acknowledged_by"] == "duty.officer.wang" for n in notes)
    _, notes = _run(book, 3 * 3600, 3 * 3600 + 900, active=False)
    assert [n.status for n in notes if not n.refresh] == ["resolved"]
    with pytest.raises(ValueError):
        book.acknowledge(fp, " ", 500)


def test_silence_suppresses_delivery_then_expires() -> None:
    book = AlertBook()
    s = book.silence({"province": "220000"}, starts_at=0, ends_at=1800, author="ops.li", comment="known closure")
    assert s.author == "ops.li" and s.active(100) and not s.active(1800)
    changes, notes = _run(book, 0, 1800, active=True)
    assert State.FIRING in [c.new_state for c in changes]
    assert all(c.silenced for c in changes)
    assert notes == [], "silenced: evaluated, recorded, not delivered"
    _, notes = _run(book, 1800, 1860, active=True)
    assert [n.status for n in notes] == ["firing"] and notes[0].starts_at == 300


def test_silence_only_matches_its_labels_and_can_be_expired_early() -> None:
    book = AlertBook()
    s = book.silence({"province": "210000"}, 0, 10_000, "ops.li")
    _, notes = _run(book, 0, 360, active=True)
    assert [n.status for n in notes] == ["firing"]  # Jilin is not Liaoning
    other = {"scope": "province", "province": "210000"}
    _, notes = _run(book, 0, 360, active=True, labels=other)
    assert not [n for n in notes if n.labels["province"] == "210000"]
    book.expire(s.id, 400)
    assert not book.silenced({**other, "alertname": "TrafficSurge"}, 400)
    with pytest.raises(ValueError):
        book.silence({}, 0, 10, "x")
    with pytest.raises(ValueError):
        book.silence({"a": "b"}, 10, 0, "x")


def test_severity_and_identity_come_from_the_rule_and_labels() -> None:
    book = AlertBook()
    _, notes = _run(book, 0, 360, active=True)
    n = notes[0]
    assert n.labels["severity"] == "warning" and n.labels["alertname"] == "TrafficSurge"
    assert n.fingerprint == fingerprint(n.labels)
    assert n.annotations["summary"] == "Jilin 4.0x"


def test_state_changes_encode_for_the_alerts_topic() -> None:
    import json

    book = AlertBook()
    changes, _ = _run(book, 0, 360, active=True)
    msg = json.loads(changes[-1].encode())
    assert msg["v"] == 1 and msg["new_state"] == "firing" and msg["old_state"] == "pending"
    assert msg["fingerprint"] == fingerprint(msg["labels"]) and msg["at"] == 300
