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

from typing import Annotated, Final, Literal, Union

import msgspec

from contracts.geo import ABROAD, ACTIONS, DEVICES, PLATFORMS, PROVINCE_CODES, SECTIONS, SESSION_KINDS

SCHEMA_VERSION: Final = 1

Platform = Literal[tuple(PLATFORMS)]  # type: ignore[valid-type]
ProvinceCode = Literal[PROVINCE_CODES]  # type: ignore[valid-type]
Section = Literal[tuple(SECTIONS)]  # type: ignore[valid-type]
Action = Literal[ACTIONS]  # type: ignore[valid-type]
Device = Literal[DEVICES]  # type: ignore[valid-type]
SessionKind = Literal[SESSION_KINDS]  # type: ignore[valid-type]

Id = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
EpochMs = Annotated[int, msgspec.Meta(ge=0)]
Country = Annotated[str, msgspec.Meta(pattern="^[A-Z]{2}$")]

# The earliest event time accepted: the platform's predecessor (eduyun) went national in 2020.
EARLIEST_EVENT_MS: Final = 1_577_836_800_000  # 2020-01-01T00:00:00Z


class Click(msgspec.Struct, tag="click", tag_field="type", frozen=True, kw_only=True, omit_defaults=True,
            gc=False):
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


class Session(msgspec.Struct, tag="session", tag_field="type", frozen=True, kw_only=True, omit_defaults=True,
              gc=False):
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
    "too_large",  # the message is over the size limit
    "batch_too_large",  # more events in one message than allowed
    "time_future",
    "time_past",
    "version",  # a schema version this worker does not know
)

_single = msgspec.json.Decoder(Event)
_message = msgspec.json.Decoder(Union[Event, list[Event]])
_raw_list = msgspec.json.Decoder(list[msgspec.Raw])
_encoder = msgspec.json.Encoder()


def _classify(err: Exception) -> str:
    text = str(err)
    if isinstance(err, msgspec.ValidationError):
        if "$.province" in text or "`$[...].province`" in text:
            return "unknown_province"
        return "schema"
    return "json"


def _semantic(event: Event) -> str | None:
    if event.v != SCHEMA_VERSION:
        return "version"
    if (event.province == ABROAD) != (event.country is not None):
        return "abroad_without_country"
    return None


def decode_message(
    raw: bytes, *, max_bytes: int, max_events: int
) -> tuple[list[Event], list[Reject]]:
    """Decode one Kafka message into valid events and rejects; never raises on bad input.

    The fast path decodes the whole message in one call. Only when that fails is a batch split into
    its elements, so one bad event does not cost its neighbours their place in the counts.
    """
    if len(raw) > max_bytes:
        return [], [Reject("too_large", f"{len(raw)} bytes > {max_bytes}")]
    try:
        decoded = _message.decode(raw)
    except (msgspec.ValidationError, msgspec.DecodeError) as err:
        return _decode_elementwise(raw, err, max_events)
    events = decoded if isinstance(decoded, list) else [decoded]
    if len(events) > max_events:
        return [], [Reject("batch_too_large", f"{len(events)} events > {max_events}")]
    return _split_semantic(events)


def _split_semantic(events: list[Event], indexes: list[int] | None = None) -> tuple[list[Event], list[Reject]]:
    good: list[Event] = []
    bad: list[Reject] = []
    for i, ev in enumerate(events):
        reason = _semantic(ev)
        if reason is None:
            good.append(ev)
        else:
            bad.append(Reject(reason, f"event {ev.id}", indexes[i] if indexes else (i if len(events) > 1 else -1)))
    return good, bad


def _decode_elementwise(raw: bytes, err: Exception, max_events: int) -> tuple[list[Event], list[Reject]]:
    try:
        parts = _raw_list.decode(raw)
    except (msgspec.ValidationError, msgspec.DecodeError):
        return [], [Reject(_classify(err), str(err)[:300])]
    if len(parts) > max_events:
        return [], [Reject("batch_too_large", f"{len(parts)} events > {max_events}")]
    good: list[Event] = []
    idx: list[int] = []
    bad: list[Reject] = []
    for i, part in enumerate(parts):
        try:
            good.append(_single.decode(part))
            idx.append(i)
        except (msgspec.ValidationError, msgspec.DecodeError) as e:
            bad.append(Reject(_classify(e), str(e)[:300], i))
    ok, semantic_bad = _split_semantic(good, idx)
    return ok, bad + semantic_bad


def check_time(event: Event, now_ms: int, max_future_ms: int) -> str | None:
    """Reason code if the event time is absurd against the receiver's clock, else None."""
    if event.ts > now_ms + max_future_ms:
        return "time_future"
    if event.ts < EARLIEST_EVENT_MS:
        return "time_past"
    return None


def encode(event: Event | list[Event]) -> bytes:
    """The wire form of one event or of a client batch."""
    return _encoder.encode(event)
