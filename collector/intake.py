"""What clients send, and how it becomes the pipeline's events (contracts/events.py).

Clients send one event (a JSON object) or a batch (an array). They never send a province, a device
or a user id: those come from the request (address, User-Agent) and from pseudonyms. Decoding is
total: any bytes give events and per-event refusals naming the field, never an exception.

Client clocks are not trusted blindly: with `?sent=<client ms>` on the URL, each event's `ts` is
shifted by (server now - sent), as Snowplow corrects device timestamps.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Any, Final, Literal, Union, cast

import msgspec

from contracts.events import (
    Action,
    Click,
    Event,
    Platform,
    Section,
    Session,
    SessionKind,
)

Text64 = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
Text128 = Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
MAX_AGE_MS: Final = 86_400_000  # an event older than a day (after clock correction) is refused
MAX_FUTURE_MS: Final = 60_000


class Incoming(msgspec.Struct, kw_only=True, gc=False):
    """One event as a tracker, an app or a server sends it (unknown fields are ignored)."""

    type: Literal["pageview", "click", "session"]
    platform: Platform
    section: Section = "other"
    resource: Text64 | None = None
    action: Action = "view"
    kind: SessionKind | None = None
    duration_s: Annotated[float, msgspec.Meta(ge=0, le=7 * 86400)] = 0.0
    session: Text128 | None = None
    pid: Text128 | None = None  # the platform's own pseudonymous user id, if it has one
    id: Text64 | None = None
    ts: Annotated[int, msgspec.Meta(ge=0)] | None = None
    device: Literal["app", "tv"] | None = None  # an app SDK may say so; browsers are classified by UA
    user: Any = None  # refused: raw user ids must not be sent


@dataclass(frozen=True, slots=True)
class Refusal:
    index: int  # position in the batch; -1 for the whole body
    field: str  # the field at fault ("body" for the whole request)
    reason: str  # bounded code for metrics
    detail: str

    def as_dict(self) -> dict[str, object]:
        return {"index": self.index, "field": self.field, "reason": self.reason, "detail": self.detail}


_batch = msgspec.json.Decoder(Union[list[Incoming], Incoming])
_raw = msgspec.json.Decoder(msgspec.Raw)
_raws = msgspec.json.Decoder(list[msgspec.Raw])
_one = msgspec.json.Decoder(Incoming)
_AT = re.compile(r"at `\$(?:\[\d+\])?\.?([A-Za-z_]+)")
_MISSING = re.compile(r"missing required field `([A-Za-z_]+)`")


def _field_of(err: Exception) -> str:
    text = str(err)
    m = _AT.search(text) or _MISSING.search(text)
    return m.group(1) if m else "body"


def decode(body: bytes, max_events: int) -> tuple[list[tuple[int, Incoming]], list[Refusal]]:
    """(index, event) pairs and refusals; a batch over `max_events` is refused whole. Total: nesting
    deeper than the decoder's recursion allows is a refusal too (`too_deep`), never an error."""
    try:
        return _decode(body, max_events)
    except RecursionError:
        return [], [Refusal(-1, "body", "too_deep", "nesting deeper than the decoder allows")]


def _decode(body: bytes, max_events: int) -> tuple[list[tuple[int, Incoming]], list[Refusal]]:
    try:
        decoded = _batch.decode(body)
    except (msgspec.ValidationError, msgspec.DecodeError):
        return _elementwise(body, max_events)
    events = decoded if isinstance(decoded, list) else [decoded]
    if len(events) > max_events:
        return [], [Refusal(-1, "body", "batch_too_large", f"{len(events)} events > {max_events}")]
    if not events:
        return [], [Refusal(-1, "body", "empty", "no events")]
    single = not isinstance(decoded, list)
    return _semantic([(-1 if single else i, e) for i, e in enumerate(events)])


def _elementwise(body: bytes, max_events: int) -> tuple[list[tuple[int, Incoming]], list[Refusal]]:
    try:
        _raw.decode(body)
    except msgspec.DecodeError as err:
        return [], [Refusal(-1, "body", "json", str(err)[:200])]
    if body.lstrip()[:1] != b"[":
        try:
            _one.decode(body)
        except msgspec.ValidationError as err:
            return [], [Refusal(-1, _field_of(err), "schema", str(err)[:200])]
        return [], [Refusal(-1, "body", "json", "not an event")]  # unreachable: the fast path took it
    raws = _raws.decode(body)
    if len(raws) > max_events:
        return [], [Refusal(-1, "body", "batch_too_large", f"{len(raws)} events > {max_events}")]
    good: list[tuple[int, Incoming]] = []
    bad: list[Refusal] = []
    for i, raw in enumerate(raws):
        try:
            good.append((i, _one.decode(raw)))
        except (msgspec.ValidationError, msgspec.DecodeError) as err:
            bad.append(Refusal(i, _field_of(err), "schema", str(err)[:200]))
    ok, semantic = _semantic(good)
    return ok, bad + semantic


def _semantic(events: list[tuple[int, Incoming]]) -> tuple[list[tuple[int, Incoming]], list[Refusal]]:
    good: list[tuple[int, Incoming]] = []
    bad: list[Refusal] = []
    for i, ev in events:
        if ev.user is not None:
            bad.append(Refusal(i, "user", "raw_user_id", "raw user ids are not accepted; send a pseudonymous pid"))
        elif ev.type == "session" and ev.kind is None:
            bad.append(Refusal(i, "kind", "schema", "a session event needs kind: start, heartbeat or end"))
        elif ev.type != "session" and ev.resource is None:
            bad.append(Refusal(i, "resource", "schema", "a pageview or click needs a resource"))
        else:
            good.append((i, ev))
    return good, bad


def event_time(ev: Incoming, now_ms: int, skew_ms: int) -> int | None:
    """The event's time on the server's clock, or None when it is absurd."""
    if ev.ts is None:
        return now_ms
    ts = ev.ts + skew_ms
    if ts > now_ms + MAX_FUTURE_MS or ts < now_ms - MAX_AGE_MS:
        return None
    return min(ts, now_ms)


def build(
    ev: Incoming, *, eid: str, ts: int, province: str, country: str | None, user: str, session: str, device: str
) -> Event:
    """The contract event (fields all validated already: the constructor checks nothing)."""
    if ev.type == "session":
        return Session(
            id=eid,
            ts=ts,
            platform=ev.platform,
            province=province,
            user=user,
            session=session,
            kind=ev.kind,
            duration_s=ev.duration_s,
            device=ev.device or device,
            country=country,
        )
    return Click(
        id=eid,
        ts=ts,
        platform=ev.platform,
        province=province,
        user=user,
        session=session,
        resource=cast(str, ev.resource),  # _semantic refuses a click without one
        section=ev.section,
        action=ev.action,
        device=ev.device or device,
        country=country,
    )
