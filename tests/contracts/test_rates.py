"""The rates wire: named rows sent as JSON arrays, byte for byte the tuples of rates v1.

A field added to a row changes these bytes: that is a new rates version (`RATES_VERSION`), and the
messages of v1 still on the rates topics must keep decoding.
"""

from __future__ import annotations

import msgspec
import pytest

from contracts.rates import (
    DURATION_BUCKETS_S,
    ClickRow,
    CountryRow,
    LateRow,
    RateBatch,
    ResourceRow,
    SessionRow,
    TileRow,
    VisitorRow,
    decode_batch,
    decode_head,
    encode_batch,
)

# One row of each kind as the workers of rates v1 sent it (tuples then); frozen.
V1 = (
    b'{"src_topic":"edu.clicks.v1","src_partition":3,"first_offset":100,"last_offset":119,'
    b'"watermark_ms":1647216061000,"events":12,'
    b'"clicks":[[1647216000,"k12","220000","lessons","view",7]],'
    b'"late":[[1647215400,"k12","220000",1]],'
    b'"rejects":{"json":2},"rejects_at_ms":1647216061000,'
    b'"tiles":[[1647216010,"k12",7]],'
    b'"resources":[[1647216000,"k12","r9","lessons",5,2,0]],'
    b'"visitors":[[1647216000,"k12","220000","u1","s1"]],'
    b'"sessions":[[1647216000,"higher","abroad",1,2,1,1,0,0,0,0,1,4059.5]],'
    b'"countries":[[1647216000,"higher","SG",4]],"v":1}'
)


def v1_batch() -> RateBatch:
    m = 1_647_216_000
    return RateBatch(
        src_topic="edu.clicks.v1",
        src_partition=3,
        first_offset=100,
        last_offset=119,
        watermark_ms=1_647_216_061_000,
        events=12,
        clicks=[ClickRow(minute=m, platform="k12", province="220000", section="lessons", action="view", clicks=7)],
        late=[LateRow(minute=m - 600, platform="k12", province="220000", events=1)],
        rejects={"json": 2},
        rejects_at_ms=1_647_216_061_000,
        tiles=[TileRow(ts=m + 10, platform="k12", clicks=7)],
        resources=[
            ResourceRow(minute=m, platform="k12", resource="r9", section="lessons", views=5, plays=2, downloads=0)
        ],
        visitors=[VisitorRow(minute=m, platform="k12", province="220000", user="u1", session="s1")],
        sessions=[
            SessionRow(
                minute=m,
                platform="higher",
                province="abroad",
                started=1,
                ended=2,
                heartbeats=1,
                d_lt_1m=1,
                d_1_5m=0,
                d_5_15m=0,
                d_15_30m=0,
                d_30_60m=0,
                d_ge_60m=1,
                duration_s=4059.5,
            )
        ],
        countries=[CountryRow(minute=m, platform="higher", country="SG", events=4)],
    )


def test_messages_of_rates_v1_decode_into_named_rows() -> None:
    assert decode_batch(V1) == v1_batch()
    head = decode_head(V1)
    assert (head.src_partition, head.last_offset, head.events) == (3, 119, 12)


def test_named_rows_are_sent_as_rates_v1_byte_for_byte() -> None:
    """A failure here means the wire changed: bump RATES_VERSION, keep v1 messages decoding (the test
    above) and freeze the new version's bytes beside these."""
    assert encode_batch(v1_batch()) == V1


@pytest.mark.parametrize(
    "row",
    [
        b'[1647216000,"k12","220000","lessons","view",7,0]',  # one item more (a newer row): not dropped
        b'[1647216000,"k12","220000","lessons","view"]',  # one item short
        b'{"minute":1647216000,"platform":"k12","province":"220000","section":"lessons","action":"view","clicks":7}',
    ],
)
def test_a_row_of_another_shape_is_refused_not_truncated(row: bytes) -> None:
    raw = V1.replace(b'[[1647216000,"k12","220000","lessons","view",7]]', b"[" + row + b"]")
    assert raw != V1
    with pytest.raises(msgspec.ValidationError):
        decode_batch(raw)


def test_the_session_histogram_has_one_field_per_duration_bucket() -> None:
    buckets = [f.name for f in msgspec.structs.fields(SessionRow) if f.name.startswith("d_")]
    assert len(buckets) == len(DURATION_BUCKETS_S) + 1
