"""Seeded hostile input: valid client messages, their mutations, and the poison kinds seen in the
field (tombstones, invalid UTF-8, lone surrogates, deep nesting, compression bombs).

Pure generators of bytes (no Kafka), shared by the fuzz tests and `bench/fuzz.py`, plus `verdict`,
which runs the decoder on one message and checks the conservation law on it: every event the
message holds is either accepted or refused, and no exception escapes.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from typing import Any, Final

from contracts.events import Click, Event, Session, decode, encode
from contracts.geo import ACTIONS, PLATFORMS, PROVINCE_CODES, SECTIONS, SESSION_KINDS

T0: Final = 1_647_216_000_000  # 2022-03-14T00:00:00Z
POISON_KINDS: Final = ("tombstone", "invalid_utf8", "deep_nesting")
_PLATFORMS = tuple(PLATFORMS)
_SECTIONS = tuple(SECTIONS)


def event(rng: random.Random, i: int, ts: int = T0) -> Event:
    province = rng.choice(PROVINCE_CODES)
    common: dict[str, Any] = {
        "id": f"e{i}-{rng.randrange(1 << 30)}",
        "ts": ts + rng.randrange(60_000),
        "platform": rng.choice(_PLATFORMS),
        "province": province,
        "user": f"u{rng.randrange(10_000)}",
        "session": f"s{rng.randrange(10_000)}",
        "country": "SG" if province == "abroad" else None,
    }
    if rng.random() < 0.8:
        return Click(
            resource=f"r{rng.randrange(5000)}", section=rng.choice(_SECTIONS), action=rng.choice(ACTIONS), **common
        )
    return Session(kind=rng.choice(SESSION_KINDS), duration_s=rng.random() * 3600, **common)


def valid_message(rng: random.Random, ts: int = T0) -> bytes:
    """One event, or a client batch of up to 40."""
    if rng.random() < 0.3:
        return encode(event(rng, 0, ts))
    return encode([event(rng, i, ts) for i in range(rng.randint(1, 40))])


def deep(depth: int = 5000) -> bytes:
    return b"[" * depth + b"]" * depth


def poison(kind: str, rng: random.Random, good: int = 19, ts: int = T0) -> tuple[bytes | None, int]:
    """A poison message of `kind` and how many of its events are good; for the invalid-UTF-8 and
    deep-nesting kinds the poison is one event among `good` valid ones."""
    if kind == "tombstone":
        return None, 0
    events = [encode(event(rng, i, ts)) for i in range(good)]
    if kind == "invalid_utf8":
        bad = encode(event(rng, good, ts)).replace(b':"u', b':"\xff\xfeu', 1)  # in the user id
    elif kind == "surrogate":
        bad = encode(event(rng, good, ts)).replace(b':"u', b':"\\ud800u', 1)
    elif kind == "deep_nesting":
        bad = b'{"x":' * 1200 + b"1" + b"}" * 1200  # 2 KB nested 1,200 levels
    else:
        raise ValueError(kind)
    events.insert(rng.randrange(good + 1), bad)
    return b"[" + b",".join(events) + b"]", good


# --- mutations -------------------------------------------------------------------------------------

_JUNK: Final = (
    b"\xff",
    b"\xfe\xff",
    b"\xed\xa0\x80",
    b"\\ud800",
    b"\\udfff",
    b"\\u0000",
    b"\x00",
    b'"',
    b"\\",
    b"[",
    b"]",
    b"{",
    b"}",
    b",",
    b":",
    b"null",
    b"1e999",
    b"-0",
    b"99999999999999999999999",
    b'"abroad"',
    b'"province"',
    b"\xf0\x9f\x98",
    b"\xc0\xaf",
    b"NaN",
    b"[[[[[[[[",
    b"}}}}",
)


def _flip(rng: random.Random, b: bytearray) -> None:
    if b:
        b[rng.randrange(len(b))] ^= 1 << rng.randrange(8)


def _insert(rng: random.Random, b: bytearray) -> None:
    b[rng.randrange(len(b) + 1) : 0] = rng.choice(_JUNK)


def _delete(rng: random.Random, b: bytearray) -> None:
    if b:
        i = rng.randrange(len(b))
        del b[i : i + rng.randint(1, 16)]


def _truncate(rng: random.Random, b: bytearray) -> None:
    del b[rng.randrange(len(b) + 1) :]


def _duplicate(rng: random.Random, b: bytearray) -> None:
    if b:
        i = rng.randrange(len(b))
        j = min(len(b), i + rng.randint(1, 200))
        b[i:i] = b[i:j]


def _nest(rng: random.Random, b: bytearray) -> None:
    n = rng.choice((10, 100, 1000, 3000))
    i = rng.randrange(len(b) + 1)
    b[i:i] = b"[" * n + b"]" * n if rng.random() < 0.5 else b'{"x":' * n + b"1" + b"}" * n


def _random_bytes(rng: random.Random, b: bytearray) -> None:
    b[:] = rng.randbytes(rng.choice((0, 1, 7, 64, 1000)))


def _swap_value(rng: random.Random, b: bytearray) -> None:
    """Replace one JSON string value with another kind of value."""
    i = b.find(b'":"', rng.randrange(len(b) + 1))
    if i >= 0:
        j = b.find(b'"', i + 3)
        if j > 0:
            b[i + 2 : j + 1] = rng.choice(
                (
                    b"[]",
                    b"{}",
                    b"null",
                    b"123",
                    b'"' + b"x" * 300 + b'"',
                    b'"\\ud800"',
                    b'"\xff"',
                    b"[" * 50 + b"]" * 50,
                )
            )


MUTATIONS: Final[tuple[Callable[[random.Random, bytearray], None], ...]] = (
    _flip,
    _insert,
    _delete,
    _truncate,
    _duplicate,
    _nest,
    _random_bytes,
    _swap_value,
)


def mutate(rng: random.Random, raw: bytes, rounds: int | None = None) -> bytes:
    b = bytearray(raw)
    for _ in range(rounds if rounds is not None else rng.randint(1, 4)):
        rng.choice(MUTATIONS)(rng, b)
    return bytes(b)


def hostile_message(rng: random.Random) -> bytes | None:
    """A message from a hostile world: mostly mutated valid ones, some poison, some pure noise."""
    x = rng.random()
    if x < 0.02:
        return None
    if x < 0.06:
        return poison(rng.choice(("invalid_utf8", "surrogate", "deep_nesting")), rng, rng.randint(0, 20))[0]
    if x < 0.10:
        return rng.randbytes(rng.randint(0, 2000))
    return mutate(rng, valid_message(rng))


# --- the property ---------------------------------------------------------------------------------


class Violation(AssertionError):
    """The decoder broke its contract on one message."""


def expected_units(raw: bytes | None, max_events: int) -> int | None:
    """Events in a message by an independent parser (Python's json): the array's length, or 1; None
    when json cannot tell (not JSON, too deep for it)."""
    if raw is None:
        return 1
    try:
        value = json.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError):
        return None
    if isinstance(value, list):
        return len(value) if len(value) <= max_events else 1
    return 1


def _head(raw: bytes | None) -> bytes | None:
    return raw[:200] if raw is not None else None


def verdict(raw: bytes | None, *, max_bytes: int = 262_144, max_events: int = 1000) -> tuple[int, int, int]:
    """(events in, accepted, refused) for one message; raises `Violation` if an exception escaped
    the decoder or the conservation law fails."""
    try:
        d = decode(raw, max_bytes=max_bytes, max_events=max_events)
    except BaseException as err:
        raise Violation(f"{type(err).__name__} escaped decode: {err!r} on {_head(raw)!r}") from err
    accepted, refused = len(d.events), len(d.rejects)
    if accepted + refused != d.units:
        raise Violation(f"{d.units} events in, {accepted} accepted + {refused} refused, on {_head(raw)!r}")
    if d.indexes is not None and len(d.indexes) != accepted:
        raise Violation(f"{accepted} events but {len(d.indexes)} indexes on {_head(raw)!r}")
    positions = [r.index for r in d.rejects] + (d.indexes if d.indexes is not None else list(range(accepted)))
    if d.units > 1 and sorted(positions) != list(range(d.units)):
        raise Violation(f"positions {sorted(positions)[:20]}... do not cover 0..{d.units - 1} on {_head(raw)!r}")
    if any(not r.reason or len(r.detail) > 300 for r in d.rejects):
        raise Violation(f"a refusal without a reason or with an unbounded detail: {d.rejects[:3]}")
    want = expected_units(raw, max_events) if raw is None or len(raw) <= max_bytes else 1
    if want is not None and want != d.units:
        raise Violation(f"json sees {want} events, the decoder {d.units}, on {_head(raw)!r}")
    return d.units, accepted, refused
