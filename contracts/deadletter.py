"""Dead-letter contract v2: one record per refused source message, listing what was refused and why.

One letter per message, whatever the number of refused events in it, so a message of 1,000 bad
events is one letter, not 1,000 (v1 wrote one each and amplified a 145 KB message 36 times). The
letter keeps the bytes that were refused, up to `PAYLOAD_KEEP`: the whole message when nothing in
it was kept, else only the refused elements as a JSON array; as text when that is compact, else
base64. So a letter is at most about the refused bytes (x 4/3 for base64) plus a fixed head.

`decode_record` reads v1 letters too (their new fields take their defaults). Nobody needs a letter
to count: the per-reason counts reach the sink in `RateBatch.rejects`.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Final, Literal

import msgspec

DEADLETTER_VERSION: Final = 2
PAYLOAD_KEEP: Final = 262_144  # the default size limit of a source message: a refused one is kept whole
DETAILS_KEEP: Final = 8  # error texts kept per letter (the first ones); every index is listed


class DeadLetterRecord(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    reason: str  # the reason of most refused events (v1: the only one)
    detail: str  # the first refusal's error text
    src_topic: str
    src_partition: int
    src_offset: int
    index: int  # first refused event's position in a batch message, -1 for the whole message
    payload: str  # refused bytes, up to PAYLOAD_KEEP, as `payload_encoding` says
    payload_bytes: int  # size of the source message
    seen_at_ms: int
    v: int = 1
    # v2
    refused: dict[str, list[int]] = {}  # reason -> positions of the refused events (-1: the message)
    events: int = 1  # events in the source message (array length, or 1)
    details: list[str] = []  # the error texts after `detail`, up to DETAILS_KEEP in all
    payload_kind: Literal["message", "refused_events"] = "message"
    payload_encoding: Literal["utf-8", "base64"] = "utf-8"
    payload_truncated: bool = False


class Refusal(msgspec.Struct, frozen=True, array_like=True):
    """One refused unit of a message: an event at `index`, or the whole message at -1."""

    reason: str
    detail: str
    index: int


_enc = msgspec.json.Encoder()
_dec = msgspec.json.Decoder(DeadLetterRecord)


def make_record(
    *,
    topic: str,
    partition: int,
    offset: int,
    payload: bytes | None,
    refusals: Sequence[Refusal],
    events: int,
    seen_at_ms: int,
    spans: Sequence[tuple[int, int]] | None = None,
) -> DeadLetterRecord:
    """The letter of one message. `spans` are the byte spans of the message's array elements (needed
    only when some of its events were kept, to keep just the refused ones)."""
    raw = payload or b""
    by_reason: dict[str, list[int]] = {}
    for r in refusals:
        by_reason.setdefault(r.reason, []).append(r.index)
    kind: Literal["message", "refused_events"]
    if len(refusals) >= events or spans is None or any(r.index < 0 for r in refusals):
        kept, kind = raw, "message"
    else:
        parts = [raw[spans[r.index][0] : spans[r.index][1]] for r in refusals if 0 <= r.index < len(spans)]
        kept, kind = b"[" + b",".join(parts) + b"]", "refused_events"
    truncated = len(kept) > PAYLOAD_KEEP
    text, encoding = _compact(kept[:PAYLOAD_KEEP])
    first = refusals[0] if refusals else Refusal("internal", "no refusal", -1)  # refusals come sorted by index
    return DeadLetterRecord(
        reason=max(by_reason, key=lambda k: len(by_reason[k])) if by_reason else first.reason,
        detail=first.detail,
        src_topic=topic,
        src_partition=partition,
        src_offset=offset,
        index=first.index,
        payload=text,
        payload_bytes=len(raw),
        seen_at_ms=seen_at_ms,
        v=DEADLETTER_VERSION,
        refused=by_reason,
        events=events,
        details=[r.detail for r in refusals[1:DETAILS_KEEP]],
        payload_kind=kind,
        payload_encoding=encoding,
        payload_truncated=truncated,
    )


def _compact(data: bytes) -> tuple[str, Literal["utf-8", "base64"]]:
    """UTF-8 text when it is valid and its JSON form is not much larger than base64, else base64:
    control characters and quotes grow up to 6x when escaped in JSON, base64 by 4/3."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is not None and len(_enc.encode(text)) <= len(data) * 4 // 3 + 8:
        return text, "utf-8"
    return base64.b64encode(data).decode("ascii"), "base64"


def payload_bytes(rec: DeadLetterRecord) -> bytes:
    """The kept bytes of a letter, whatever their encoding."""
    if rec.payload_encoding == "base64":
        return base64.b64decode(rec.payload)
    return rec.payload.encode("utf-8")


def encode_record(rec: DeadLetterRecord) -> bytes:
    return _enc.encode(rec)


def decode_record(raw: bytes) -> DeadLetterRecord:
    """Decode a letter (v1 or v2); a bad one is a bug upstream, so this raises."""
    return _dec.decode(raw)
