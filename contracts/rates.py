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
DURATION_BUCKETS_S: Final = (60, 300, 900, 1800, 3600)  # upper bounds; the last bucket is open


class _Row(msgspec.Struct, array_like=True, frozen=True, gc=False, order=True, forbid_unknown_fields=True):
    """A rates row: read by name, sent as a JSON array in field order (the wire of rates v1).

    An array with more or fewer items than the row has fields is refused on decoding, as the tuples
    of v1 were. Each row's field names are the columns of the sink table it goes to
    (tests/sinks/test_batch_contract.py); times are epoch seconds floored to the bucket. Each row
    class repeats `frozen=True` for the type checker; the rest of this config is inherited.
    """


class ClickRow(_Row, frozen=True):
    minute: int
    platform: str
    province: str
    section: str
    action: str
    clicks: int


class LateRow(_Row, frozen=True):
    """Events beyond the allowed lateness."""

    minute: int
    platform: str
    province: str
    events: int


class TileRow(_Row, frozen=True):
    """Clicks per 10-second bucket: the live national tiles."""

    ts: int
    platform: str
    clicks: int


class ResourceRow(_Row, frozen=True):
    minute: int
    platform: str
    resource: str
    section: str
    views: int
    plays: int
    downloads: int


class VisitorRow(_Row, frozen=True):
    """One pseudonymous user and session seen in a minute (distinct within the batch)."""

    minute: int
    platform: str
    province: str
    user: str
    session: str


class SessionRow(_Row, frozen=True):
    """Sessions started, ended and alive (heartbeats), and the duration histogram of the ended ones
    (buckets `DURATION_BUCKETS_S`: <1 min, 1-5, 5-15, 15-30, 30-60, >=60 min) with their summed
    duration in seconds."""

    minute: int
    platform: str
    province: str
    started: int
    ended: int
    heartbeats: int
    d_lt_1m: int
    d_1_5m: int
    d_5_15m: int
    d_15_30m: int
    d_30_60m: int
    d_ge_60m: int
    duration_s: float


class CountryRow(_Row, frozen=True):
    """Events (clicks and session events) of users abroad, by ISO country."""

    minute: int
    platform: str
    country: str
    events: int


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
