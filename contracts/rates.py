"""Rate contract v1: what the stream workers send the sink on the rates topic.

One message = the partial aggregates of one contiguous run of offsets `[first_offset, last_offset]`
of one source partition. The rates topic is co-partitioned with its source topic (rates partition p
holds batches of source partition p only), and its last message per partition is the worker's
checkpoint: `last_offset` and `watermark_ms` say exactly how far the output is complete. See
docs/exactly-once.md.
"""
from __future__ import annotations

from typing import Final

import msgspec

RATES_VERSION: Final = 1

# minute (epoch s, floored), platform, province, section, action, clicks
ClickRow = tuple[int, str, str, str, str, int]
# minute (epoch s), platform, province, events beyond the allowed lateness
LateRow = tuple[int, str, str, int]


class RateBatch(msgspec.Struct, frozen=True, kw_only=True):
    src_topic: str
    src_partition: int
    first_offset: int
    last_offset: int
    watermark_ms: int  # max event time seen in the partition up to last_offset
    events: int  # valid events in the run (on time + late)
    clicks: list[ClickRow] = []
    late: list[LateRow] = []
    rejects: dict[str, int] = {}  # dead-lettered events by reason
    v: int = RATES_VERSION


_enc = msgspec.json.Encoder()
_dec = msgspec.json.Decoder(RateBatch)


def encode_batch(batch: RateBatch) -> bytes:
    return _enc.encode(batch)


def decode_batch(raw: bytes) -> RateBatch:
    """Decode a rates message; a bad one is a bug upstream, so this raises."""
    return _dec.decode(raw)
