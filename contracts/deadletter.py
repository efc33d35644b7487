"""Dead-letter contract v1: a refused message or event on the dead-letter topic, with its reason.

The payload is kept (truncated to `PAYLOAD_KEEP` bytes, so a 1 MB attack does not become a 1 MB
dead letter) with its source coordinates, so an operator can find and replay the original.
"""
from __future__ import annotations

from typing import Final

import msgspec

PAYLOAD_KEEP: Final = 4096


class DeadLetterRecord(msgspec.Struct, frozen=True, kw_only=True):
    reason: str
    detail: str
    src_topic: str
    src_partition: int
    src_offset: int
    index: int  # position of the event in a batch message, -1 for the whole message
    payload: str  # the first PAYLOAD_KEEP bytes, decoded as UTF-8 with replacement
    payload_bytes: int
    seen_at_ms: int
    v: int = 1


_enc = msgspec.json.Encoder()
_dec = msgspec.json.Decoder(DeadLetterRecord)


def make_record(*, reason: str, detail: str, topic: str, partition: int, offset: int, index: int,
                payload: bytes, seen_at_ms: int) -> DeadLetterRecord:
    return DeadLetterRecord(
        reason=reason, detail=detail, src_topic=topic, src_partition=partition, src_offset=offset,
        index=index, payload=payload[:PAYLOAD_KEEP].decode("utf-8", "replace"),
        payload_bytes=len(payload), seen_at_ms=seen_at_ms,
    )


def encode_record(rec: DeadLetterRecord) -> bytes:
    return _enc.encode(rec)


def decode_record(raw: bytes) -> DeadLetterRecord:
    return _dec.decode(raw)
