"""The alerts-topic record: a round trip, and a decoder that refuses instead of raising."""

from __future__ import annotations

import json
import random

from contracts.alerts import Severity, State, StateChange, decode_change

CHANGE = StateChange(
    at=1_647_223_200.0,
    fingerprint="00ff",
    alertname="TrafficSurge",
    kind="state",
    old_state=State.PENDING,
    new_state=State.FIRING,
    severity=Severity.WARNING,
    value=3.1,
    labels={"alertname": "TrafficSurge", "province": "GX"},
    annotations={"ratio": "3.10"},
)


def test_round_trip() -> None:
    assert decode_change(CHANGE.encode()) == CHANGE


def test_refusals_carry_reasons() -> None:
    good = json.loads(CHANGE.encode())
    cases = [
        None,
        b"",
        b"[]",
        b"{",
        b"\xff\xfe",
        b"[" * 5000 + b"]" * 5000,
        json.dumps({**good, "kind": "nope"}).encode(),
        json.dumps({**good, "v": 2}).encode(),
        json.dumps({**good, "new_state": "exploded"}).encode(),
        json.dumps({**good, "labels": [1]}).encode(),
        json.dumps({**good, "at": "NaN"}).encode(),
        json.dumps({**good, "author": 5}).encode(),
        b"x" * 300_000,
    ]
    for raw in cases:
        out = decode_change(raw)
        assert isinstance(out, str) and out, raw


def test_mutations_never_raise() -> None:
    rng = random.Random(7)
    base = bytearray(CHANGE.encode())
    for _ in range(5000):
        b = bytearray(base)
        for _ in range(rng.randint(1, 6)):
            i = rng.randrange(len(b))
            op = rng.random()
            if op < 0.5:
                b[i] = rng.randrange(256)
            elif op < 0.75:
                del b[i]
            else:
                b.insert(i, rng.randrange(256))
        out = decode_change(bytes(b))
        assert isinstance(out, (StateChange, str))
