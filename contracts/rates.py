"""Rate contract v1: what the stream workers send the sink on the rates topics.

One message = the partial aggregates of one contiguous run of offsets `[first_offset, last_offset]`
of one source partition. Each rates topic is co-partitioned with its source topic (rates partition p
holds batches of source partition p only), and its last message per partition is the worker's
checkpoint: `last_offset` and `watermark_ms` say exactly how far the output is complete. See
docs/exactly-once.md.

All rows are partial sums (or, for visitors, distinct ids) keyed by event-time buckets, so the sink
can store them in summing/aggregating tables in any grouping and order.
"""

from __future__ import annotations

from typing import Final

import msgspec

RATES_VERSION: Final = 1

# minute (epoch s, floored), platform, province, section, action, clicks
ClickRow = tuple[int, str, str, str, str, int]
# minute, platform, province, events beyond the allowed lateness
LateRow = tuple[int, str, str, int]
# 10-second bucket (epoch s), platform, clicks: the live national tiles
TileRow = tuple[int, str, int]
# minute, platform, resource id, section, views, plays, downloads
ResourceRow = tuple[int, str, str, str, int, int, int]
# minute, platform, province, pseudonymous user id, session id (distinct within the batch)
VisitorRow = tuple[int, str, str, str, str]
# minute, platform, province, started, ended, heartbeats, duration buckets of ended sessions:
# <1 min, 1-5, 5-15, 15-30, 30-60, >=60 min, and the sum of their durations in seconds
SessionRow = tuple[int, str, str, int, int, int, int, int, int, int, int, int, float]
# minute, platform, ISO country, events (clicks and session events of users abroad)
CountryRow = tuple[int, str, str, int]

DURATION_BUCKETS_S: Final = (60, 300, 900, 1800, 3600)  # upper bounds; the last bucket is open


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
    # event time (epoch ms) to file `rejects` at: the watermark, or for a partition without a valid
    # event yet the broker time of the first refused record (else the worker's clock); 0 = unset (v1)
    rejects_at_ms: int = 0
    tiles: list[TileRow] = []
    resources: list[ResourceRow] = []
    visitors: list[VisitorRow] = []
    sessions: list[SessionRow] = []
    countries: list[CountryRow] = []
    v: int = RATES_VERSION


class RateBatchHead(msgspec.Struct):
    """Where a rate batch stands, without its rows: for watchers that only follow coverage (msgspec
    skips the row lists without building them)."""

    src_partition: int
    last_offset: int
    events: int


_enc = msgspec.json.Encoder()
_dec = msgspec.json.Decoder(RateBatch)
_head = msgspec.json.Decoder(RateBatchHead)


def encode_batch(batch: RateBatch) -> bytes:
    return _enc.encode(batch)


def decode_batch(raw: bytes) -> RateBatch:
    """Decode a rates message; a bad one is a bug upstream, so this raises."""
    return _dec.decode(raw)


def decode_head(raw: bytes) -> RateBatchHead:
    """The coverage fields of a rates message, at a fraction of `decode_batch`'s cost."""
    return _head.decode(raw)
