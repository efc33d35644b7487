"""Event contract v1: the click and session records on the `clicks` and `sessions` topics.

Both the simulators (producers) and the stream workers (consumers) import this module, so the wire
format has exactly one definition. On the wire an event is a JSON object; a Kafka message carries
either one event or a JSON array of events from one client (as browser and app SDKs batch them).

Decoding is done with msgspec typed structs: type, enum membership, length and pattern checks run in C
while parsing, which keeps validation off the per-event Python cost the workers are sized by.
Checks that need a clock (absurd timestamps) live in `check_time`, so callers pass their own "now".

Events are `gc=False` structs: they hold only strings and numbers, so they can never be part of a
reference cycle, and leaving them out of the cyclic collector saves the workers (which decode a
million of them every few seconds) most of their garbage-collection passes.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated, Final, Literal, NamedTuple, Union

import msgspec

from contracts.geo import ABROAD, ACTIONS, DEVICES, PLATFORMS, PROVINCE_CODES, SECTIONS, SESSION_KINDS

SCHEMA_VERSION: Final = 1

if TYPE_CHECKING:
    # The members come from contracts.geo at import time, which a static checker cannot see.
    Platform = str
    Section = str
else:
    Platform = Literal[tuple(PLATFORMS)]
    Section = Literal[tuple(SECTIONS)]
ProvinceCode = Literal[PROVINCE_CODES]  # type: ignore[valid-type]
Action = Literal[ACTIONS]  # type: ignore[valid-type]
Device = Literal[DEVICES]  # type: ignore[valid-type]
SessionKind = Literal[SESSION_KINDS]  # type: ignore[valid-type]

Id = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
EpochMs = Annotated[int, msgspec.Meta(ge=0)]
Country = Annotated[str, msgspec.Meta(pattern="^[A-Z]{2}$")]

# The earliest event time accepted: the platform's predecessor (eduyun) went national in 2020.
EARLIEST_EVENT_MS: Final = 1_577_836_800_000  # 2020-01-01T00:00:00Z


class Click(msgspec.Struct, tag="click", tag_field="type", frozen=True, kw_only=True, omit_defaults=True, gc=False):
    """A user acted on a resource: viewed a page, played a lesson video, downloaded, searched."""

    id: Id
    ts: EpochMs
    platform: Platform
    province: ProvinceCode
    user: Id
    session: Id
    resource: Id
    section: Section
    action: Action = "view"
    device: Device = "web"
    country: Country | None = None
    v: int = SCHEMA_VERSION


class Session(msgspec.Struct, tag="session", tag_field="type", frozen=True, kw_only=True, omit_defaults=True, gc=False):
    """A session's start, periodic heartbeat, or end; `duration_s` is the time since its start."""

    id: Id
    ts: EpochMs
    platform: Platform
    province: ProvinceCode
    user: Id
    session: Id
    kind: SessionKind
    duration_s: Annotated[float, msgspec.Meta(ge=0, le=7 * 86400)] = 0.0
    device: Device = "web"
    country: Country | None = None
    v: int = SCHEMA_VERSION


Event = Union[Click, Session]


class Reject(msgspec.Struct, frozen=True):
    """Why one event (or a whole message) was refused; `reason` is a bounded code for metrics."""

    reason: str
    detail: str
    index: int = -1  # position in a batch message, -1 for the whole message


REASONS: Final[tuple[str, ...]] = (
    "json",  # not JSON at all, or truncated
    "schema",  # missing fields, wrong types, bad lengths, unknown fields values
    "unknown_province",
    "abroad_without_country",
    "too_large",  # the message (or its decompressed record batch) is over the size limit
    "batch_too_large",  # more events in one message than allowed
    "time_future",
    "time_past",
    "version",  # a schema version this worker does not know
    "encoding",  # invalid UTF-8, or an escaped lone UTF-16 surrogate, inside the JSON
    "too_deep",  # nesting deeper than the decoder's recursion allows
    "tombstone",  # a record with a null value
    "internal",  # the worker failed on this message (a bug): it was set aside, see the logs
)

DETAIL_KEEP: Final = 200  # characters of an error text kept in a reject

_single = msgspec.json.Decoder(Event)
_message = msgspec.json.Decoder(Union[Event, list[Event]])
_encoder = msgspec.json.Encoder()

# The tokens that matter for splitting a JSON array into its elements without parsing them: flat
# objects whole (an event: one match), strings (whose contents may be anything, even invalid UTF-8),
# runs of square brackets (a deep nesting: one match), braces and commas.
_TOKENS = re.compile(
    rb'\{(?:[^][{}"]++|"(?:[^"\\]++|\\.)*+")*+\}'  # a flat object: one match
    rb'|(?:\[\s*+|\{\s*+"[^][{}:"\\]*+"\s*+:\s*+)++'  # a run of openers (a deep nesting: one match)
    rb"|(?:[\]}]\s*+)++"  # a run of closers
    rb'|"(?:[^"\\]++|\\.)*+"|[{,]',
    re.DOTALL,
)
_WS = b" \t\r\n"


class Unreadable(bytes):
    """A record value the consumer could not read (a record batch expanding beyond the limit): the
    bytes it kept, with the reason it gives `decode`."""

    reason: str
    detail: str

    def __new__(cls, data: bytes, *, reason: str, detail: str) -> Unreadable:
        obj = super().__new__(cls, data)
        obj.reason = reason
        obj.detail = detail[:DETAIL_KEEP]
        return obj


class Decoded(NamedTuple):
    """One message's verdict: every unit (array element, or the whole message) is either an event or
    a reject, so `len(events) + len(rejects) == units` always holds."""

    events: list[Event]
    rejects: list[Reject]
    indexes: list[int] | None  # position in the message of each event; None: 0, 1, 2, ...
    units: int  # events the message held: its array's length, or 1


def _classify(err: BaseException) -> str:
    if isinstance(err, msgspec.ValidationError):
        text = str(err)
        if "$.province" in text or "`$[...].province`" in text:
            return "unknown_province"
        return "schema"
    if isinstance(err, UnicodeError):
        return "encoding"
    if isinstance(err, RecursionError):
        return "too_deep"
    if isinstance(err, msgspec.DecodeError):
        return "encoding" if "surrogate" in str(err) else "json"
    return "internal"


def _reject(err: BaseException, index: int) -> Reject:
    return Reject(_classify(err), f"{type(err).__name__}: {err}"[:DETAIL_KEEP], index)


def _semantic(event: Event) -> str | None:
    if event.v != SCHEMA_VERSION:
        return "version"
    if (event.province == ABROAD) != (event.country is not None):
        return "abroad_without_country"
    return None


def decode(raw: bytes | None, *, max_bytes: int, max_events: int) -> Decoded:
    """Decode one Kafka message into valid events and rejects; total: no input raises.

    The fast path decodes the whole message in one call. Only when that fails is a batch split into
    its elements (without parsing them, so a bad string or a deep nesting stays inside its element),
    and each element decoded alone: one bad event never costs its neighbours their place.
    """
    if raw is None:
        return Decoded([], [Reject("tombstone", "record with a null value")], None, 1)
    if raw.__class__ is Unreadable:
        return Decoded([], [Reject(raw.reason, raw.detail)], None, 1)  # type: ignore[attr-defined]
    if len(raw) > max_bytes:
        return Decoded([], [Reject("too_large", f"{len(raw)} bytes > {max_bytes}")], None, 1)
    try:
        decoded = _message.decode(raw)
    except Exception as err:
        return _decode_elementwise(raw, err, max_events)
    events = decoded if isinstance(decoded, list) else [decoded]
    if len(events) > max_events:
        return Decoded([], [Reject("batch_too_large", f"{len(events)} events > {max_events}")], None, 1)
    if not isinstance(decoded, list):
        reason = _semantic(decoded)
        if reason is None:
            return Decoded(events, [], None, 1)
        return Decoded([], [Reject(reason, f"event {decoded.id}")], None, 1)
    return _split_semantic(events, None, [], len(events))


def decode_message(raw: bytes | None, *, max_bytes: int, max_events: int) -> tuple[list[Event], list[Reject]]:
    """`decode` without the bookkeeping: (valid events, rejects)."""
    d = decode(raw, max_bytes=max_bytes, max_events=max_events)
    return d.events, d.rejects


def _split_semantic(events: list[Event], indexes: list[int] | None, bad: list[Reject], units: int) -> Decoded:
    good: list[Event] = []
    kept: list[int] = []
    for i, ev in enumerate(events):
        reason = _semantic(ev)
        at = indexes[i] if indexes is not None else i
        if reason is None:
            good.append(ev)
            kept.append(at)
        else:
            bad.append(Reject(reason, f"event {ev.id}", at))
    if len(good) == len(events) and indexes is None:
        return Decoded(good, bad, None, units)
    return Decoded(good, sorted(bad, key=lambda r: r.index), kept, units)


def split_array(raw: bytes) -> list[tuple[int, int]] | None:
    """The byte spans of the top-level elements of a JSON array, found without parsing them (so an
    invalid string or a deep nesting stays inside its own span); None if `raw` is not an array.

    Whatever follows an unclosed array, or trails a closed one, becomes one more span, refused
    when decoded: nothing in the message goes uncounted.
    """
    start = len(raw) - len(raw.lstrip(_WS))
    if raw[start : start + 1] != b"[":
        return None
    spans: list[tuple[int, int]] = []
    depth = 0
    elem = start + 1
    end = len(raw)
    closed = False
    for m in _TOKENS.finditer(raw, start):
        tok = raw[m.start()]
        if tok == 0x7B and raw[m.end() - 1] == 0x7D:  # a whole flat object
            continue
        if tok == 0x5B or tok == 0x7B:  # openers
            text = m.group()
            depth += text.count(b"[") + text.count(b"{") if len(text) > 1 else 1
        elif tok == 0x5D or tok == 0x7D:  # closers
            text = m.group()
            n = len(text) if text[-1] in b"]}" and len(text) == 1 else text.count(b"]") + text.count(b"}")
            if depth - n <= 0 and depth > 0:
                k = 0  # find the closer that closes the array
                for pos in range(m.start(), m.end()):
                    if raw[pos] in b"]}":
                        k += 1
                        if k == depth:
                            break
                spans.append((elem, pos))
                end = pos + 1
                closed = True
                break
            depth -= n
        elif tok == 0x2C and depth == 1:  # a comma between top-level elements
            spans.append((elem, m.start()))
            elem = m.end()
    else:
        spans.append((elem, len(raw)))  # never closed: the rest is one (refused) element
        end = len(raw)
    if closed and len(spans) == 1 and not raw[spans[0][0] : spans[0][1]].strip(_WS):
        spans = []  # `[]`
    if raw[end:].strip(_WS):
        spans.append((end, len(raw)))  # trailing bytes after the array
    return spans


def _decode_elementwise(raw: bytes, err: Exception, max_events: int) -> Decoded:
    try:
        spans = split_array(raw)
    except Exception as split_err:
        return Decoded([], [_reject(split_err, -1)], None, 1)
    if spans is None:
        return Decoded([], [_reject(err, -1)], None, 1)
    if len(spans) > max_events:
        return Decoded([], [Reject("batch_too_large", f"{len(spans)} events > {max_events}")], None, 1)
    good: list[Event] = []
    idx: list[int] = []
    bad: list[Reject] = []
    for i, (a, b) in enumerate(spans):
        try:
            good.append(_single.decode(raw[a:b]))
            idx.append(i)
        except Exception as e:
            bad.append(_reject(e, i))
    return _split_semantic(good, idx, bad, len(spans))


def check_time(event: Event, now_ms: int, max_future_ms: int) -> str | None:
    """Reason code if the event time is absurd against the receiver's clock, else None."""
    if event.ts > now_ms + max_future_ms:
        return "time_future"
    if event.ts < EARLIEST_EVENT_MS:
        return "time_past"
    return None


def encode(event: Event | Sequence[Event]) -> bytes:
    """The wire form of one event or of a client batch."""
    return _encoder.encode(event)
