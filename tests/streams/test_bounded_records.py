"""Compressed record batches: every codec aiokafka reads expands at most to the limit, a batch over it
becomes one refused record, and no codec input (valid, mutated, bomb) raises anything else."""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest
from aiokafka.record.default_records import DefaultRecordBatchBuilder
from aiokafka.record.memory_records import MemoryRecords
from aiokafka.structs import TopicPartition

from contracts.events import Unreadable, decode
from simulators.hostile import mutate, valid_message
from streams import bounded_records
from streams.bounded_records import DecompressionLimit, gzip_decode, lz4_decode, snappy_decode, zstd_decode

CODECS = {1: "gzip", 2: "snappy", 3: "lz4", 4: "zstd"}
DECODERS = {"gzip": gzip_decode, "snappy": snappy_decode, "lz4": lz4_decode, "zstd": zstd_decode}
LIMIT = 1 << 20


def batch(codec: int, values: list[bytes | None]) -> bytes:
    b = DefaultRecordBatchBuilder(
        magic=2,
        compression_type=codec,
        is_transactional=0,
        producer_id=-1,
        producer_epoch=-1,
        base_sequence=-1,
        batch_size=1 << 30,
    )
    for i, v in enumerate(values):
        b.append(i, timestamp=1_700_000_000_000 + i, key=None, value=v, headers=[])
    return bytes(b.build())


def compressed_payload(codec: int, raw: bytes) -> bytes:
    """The compressed part of a one-record batch (what the codec's decode gets)."""
    import aiokafka.codec as c

    return {1: c.gzip_encode, 2: c.snappy_encode, 3: c.lz4_encode, 4: c.zstd_encode}[codec](raw)


@pytest.fixture(scope="module", autouse=True)
def installed() -> Iterator[None]:
    bounded_records.install(LIMIT)
    yield
    bounded_records.uninstall()


def read(buf: bytes) -> list:  # type: ignore[type-arg]
    from aiokafka.consumer import fetcher

    return list(fetcher.PartitionRecords(TopicPartition("t", 0), MemoryRecords(buf), [], 0, None, None, True, 0))


@pytest.mark.parametrize("codec", sorted(CODECS))
def test_valid_batches_read_as_before(codec: int) -> None:
    rng = random.Random(codec)
    values = [valid_message(rng) for _ in range(50)] + [None, b""]
    recs = read(batch(codec, values))
    assert [r.value for r in recs] == values and [r.offset for r in recs] == list(range(len(values)))
    assert all(type(r.value) is not Unreadable for r in recs)


@pytest.mark.parametrize("codec", sorted(CODECS))
def test_a_bomb_becomes_one_refused_record(codec: int) -> None:
    recs = read(batch(codec, [b"ok", b"\0" * (16 << 20), b"ok"]))
    assert [r.offset for r in recs] == [2]  # one record, at the batch's last offset
    value = recs[0].value
    assert type(value) is Unreadable and len(value) <= bounded_records.HEAD_KEEP
    d = decode(value, max_bytes=262_144, max_events=1000)
    assert [r.reason for r in d.rejects] == ["too_large"] and CODECS[codec] in d.rejects[0].detail


_READ_BOMB = """
import sys
from aiokafka.record.memory_records import MemoryRecords
from aiokafka.structs import TopicPartition
import aiokafka.consumer.fetcher as fetcher
from streams import bounded_records
if sys.argv[2] == "bounded":
    bounded_records.install(1 << 20)
buf = open(sys.argv[1], "rb").read()

def peak_kb():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])

open("/proc/self/clear_refs", "w").write("5")  # reset the peak RSS (getrusage's is inherited over exec)
before = peak_kb()
recs = list(fetcher.PartitionRecords(TopicPartition("t", 0), MemoryRecords(buf), [], 0, None, None, True, 0))
print(peak_kb() - before, len(recs))
"""


@pytest.mark.parametrize("codec", sorted(CODECS))
def test_reading_a_bomb_does_not_grow_memory_beyond_the_limit(codec: int, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """In a fresh process (its peak RSS reset before the read): 64 MB of zeros in one record. aiokafka's
        own codecs grow the reader by the whole expansion; the bounded ones by at most a few limits (plus
    copies of the compressed batch, as aiokafka makes too)."""
    import subprocess
    import sys

    from tests.support import ROOT

    path = tmp_path / "bomb.bin"
    path.write_bytes(batch(codec, [b"\0" * (64 << 20)]))
    assert path.stat().st_size < 16 << 20  # a bomb: small on the wire
    grew = {}
    for mode in ("bounded", "plain"):
        out = subprocess.run(
            [sys.executable, "-c", _READ_BOMB, str(path), mode],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        ).stdout.split()
        grew[mode] = int(out[0]) << 10
    assert grew["bounded"] < 4 * LIMIT + 2 * path.stat().st_size, grew
    assert grew["plain"] > 60 << 20, grew  # the control: without the bound, it expands


@pytest.mark.parametrize("codec", sorted(CODECS))
def test_codec_fuzz_never_raises_anything_but_the_limit(codec: int) -> None:
    """Mutated compressed bytes, bombs and noise: a value within the limit, or DecompressionLimit."""
    rng = random.Random(100 + codec)
    fn = DECODERS[CODECS[codec]]
    samples = [compressed_payload(codec, valid_message(rng)) for _ in range(40)]
    samples += [compressed_payload(codec, b"\0" * (4 << 20)), compressed_payload(codec, b"")]
    outcomes = {"ok": 0, "limit": 0}
    for i in range(2_000):
        data = samples[i % len(samples)] if i < len(samples) else mutate(rng, rng.choice(samples))
        try:
            out = fn(data, LIMIT)
        except DecompressionLimit:
            outcomes["limit"] += 1
            continue
        assert len(out) <= LIMIT
        outcomes["ok"] += 1
        if i < len(samples) - 2:
            decode(out, max_bytes=262_144, max_events=1000)
    assert outcomes["ok"] > 0 and outcomes["limit"] > 0


def test_round_trips_equal_aiokafkas_own_codecs() -> None:
    import aiokafka.codec as c

    rng = random.Random(9)
    raw = b"".join(valid_message(rng) for _ in range(200))
    for codec, name in CODECS.items():
        data = compressed_payload(codec, raw)
        assert (
            DECODERS[name](data, LIMIT)
            == raw
            == {1: c.gzip_decode, 2: c.snappy_decode, 3: c.lz4_decode, 4: c.zstd_decode}[codec](data)
        )
