"""Seeded fuzzing of the event decoder: no exception escapes, and every event a message holds is
accepted or refused with a reason (events in = accepted + refused), whatever the bytes."""

from __future__ import annotations

import json
import random

import pytest

from contracts.events import decode, encode, split_array
from simulators.hostile import (
    POISON_KINDS,
    deep,
    event,
    expected_units,
    hostile_message,
    mutate,
    poison,
    valid_message,
    verdict,
)

LIMITS = {"max_bytes": 262_144, "max_events": 1000}


def test_arbitrary_bytes() -> None:
    rng = random.Random(1201)
    for _ in range(20_000):
        verdict(rng.randbytes(rng.choice((0, 1, 2, 5, 30, 300, 3000))))
    for _ in range(2_000):  # bytes from JSON's own alphabet break the parser in more interesting places
        verdict(bytes(rng.choice(b'[]{}",:\\ 0123456789.eE-+tfnulrsaxud\xff\xed') for _ in range(rng.randint(1, 200))))


def test_mutations_of_valid_messages() -> None:
    rng = random.Random(1202)
    pool = [valid_message(rng) for _ in range(300)]
    totals = [0, 0, 0]
    for _ in range(25_000):
        units, accepted, refused = verdict(mutate(rng, rng.choice(pool)))
        totals[0] += units
        totals[1] += accepted
        totals[2] += refused
    assert totals[0] == totals[1] + totals[2]
    assert totals[1] > 0 and totals[2] > 0  # the mutations leave both kinds


def test_hostile_mix() -> None:
    rng = random.Random(1203)
    for _ in range(10_000):
        verdict(hostile_message(rng))


@pytest.mark.parametrize("depth", [1, 2, 10, 100, 999, 1000, 1001, 5000, 100_000])
@pytest.mark.parametrize("shape", ["array", "object", "mixed", "in_field", "in_batch"])
def test_deep_nesting(depth: int, shape: str) -> None:
    rng = random.Random(depth)
    good = encode(event(rng, 0))
    if shape == "array":
        raw = deep(depth)
    elif shape == "object":
        raw = b'{"x":' * depth + b"1" + b"}" * depth
    elif shape == "mixed":
        raw = b'[{"x":' * depth + b"1" + b"}]" * depth
    elif shape == "in_field":
        raw = good[:-1] + b',"extra":' + deep(depth) + b"}"
    else:
        raw = b"[" + good + b"," + deep(depth) + b"," + good + b"]"
    units, accepted, _ = verdict(raw)
    if shape == "in_batch":
        assert (units, accepted) == (3, 2)  # the nesting is refused alone


@pytest.mark.parametrize("kind", ["invalid_utf8", "surrogate", "deep_nesting"])
def test_one_poison_event_costs_only_itself(kind: str) -> None:
    rng = random.Random(7)
    for good in (0, 1, 19, 200):
        raw, n_good = poison(kind, rng, good)
        d = decode(raw, **LIMITS)  # type: ignore[arg-type]
        assert (len(d.events), len(d.rejects), d.units) == (n_good, 1, n_good + 1), kind
        assert (
            d.rejects[0].reason
            == {"invalid_utf8": "encoding", "surrogate": "encoding", "deep_nesting": "too_deep"}[kind]
        ), d.rejects


def test_invalid_utf8_and_surrogates_everywhere() -> None:
    """Every byte sequence that is not UTF-8, and every escaped lone surrogate, in every field."""
    rng = random.Random(1204)
    bad_bytes = [
        b"\xff",
        b"\xc0\x80",
        b"\xed\xa0\x80",
        b"\xf4\x90\x80\x80",
        b"\xe2\x82",
        b"\x80",
        b"\\ud800",
        b"\\udbff\\u0041",
        b"\\udc00",
        b"\\ud800\\ud800",
    ]
    for b in bad_bytes:
        for field in (b'"id":"', b'"user":"', b'"session":"', b'"province":"', b'"platform":"', b'"type":"'):
            events = [encode(event(rng, i)) for i in range(20)]
            events[3] = events[3].replace(field, field + b, 1)
            d = decode(b"[" + b",".join(events) + b"]", **LIMITS)  # type: ignore[arg-type]
            assert len(d.events) == 19 and [r.index for r in d.rejects] == [3], (b, field, d.rejects)
            assert d.rejects[0].reason in {"encoding", "schema", "unknown_province"}


def test_tombstones_and_empty_values() -> None:
    for raw, reason in ((None, "tombstone"), (b"", "json"), (b" ", "json"), (b"null", "schema")):
        d = decode(raw, **LIMITS)  # type: ignore[arg-type]
        assert (d.events, [r.reason for r in d.rejects], d.units) == ([], [reason], 1)


def test_limits_hold_before_expansion() -> None:
    rng = random.Random(5)
    many = encode([event(rng, i) for i in range(1001)])
    assert [r.reason for r in decode(many, **LIMITS).rejects] == ["batch_too_large"]  # type: ignore[arg-type]
    broken_many = many[:-1]  # the elementwise path counts before decoding anything
    assert [r.reason for r in decode(broken_many, max_bytes=10**7, max_events=1000).rejects] == ["batch_too_large"]
    assert [r.reason for r in decode(b"[" + b" " * 300_000 + b"]", **LIMITS).rejects] == ["too_large"]  # type: ignore[arg-type]
    long_id = encode(event(rng, 0)).replace(b'"id":"', b'"id":"' + b"x" * 100_000, 1)
    d = decode(long_id, **LIMITS)  # type: ignore[arg-type]
    assert d.rejects[0].reason == "schema" and len(d.rejects[0].detail) <= 200


def test_split_array_agrees_with_json_on_valid_arrays() -> None:
    rng = random.Random(1205)
    for _ in range(2_000):
        value = [
            rng.choice([1, "a,]", {"k": [1, {"x": "}"}]}, [], [[[]]], None, '\\"', {"a": "{"}])
            for _ in range(rng.randint(0, 8))
        ]
        raw = json.dumps(value, separators=(",", ":") if rng.random() < 0.5 else (", ", " : ")).encode()
        spans = split_array(raw)
        assert spans is not None and [json.loads(raw[a:b]) for a, b in spans] == value, raw


def test_the_json_oracle_is_independent() -> None:
    assert expected_units(b"[1,2,3]", 1000) == 3
    assert expected_units(b"[1,2,3]", 2) == 1
    assert expected_units(b"{}", 1000) == 1
    assert expected_units(b"[1,", 1000) is None
    assert POISON_KINDS == ("tombstone", "invalid_utf8", "deep_nesting")
