"""Bounded decompression of the record batches the worker fetches, and a refusal for those over it.

aiokafka expands a compressed record batch whole before reading its records: a 510 KB gzip batch
grew to 512 MB inside the worker before any size check. `install(limit)` replaces the codecs its
record batches (message format v2, the only one Kafka 4 brokers write) call by streaming ones
that stop at `limit` output bytes, and makes the fetcher turn a batch stopped so into ONE record at
the batch's last offset whose value is an `Unreadable` (reason `too_large`, the compressed bytes
first expanded bytes kept as its payload): the worker dead-letters it and goes on; the batch never expands.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from typing import Any, Final

import cramjam
import lz4.frame

from contracts.events import Unreadable

_XERIAL_HEADER: Final = b"\x82SNAPPY\x00"
_MIN_GUESS: Final = 64 * 1024


HEAD_KEEP: Final = 65_536  # expanded bytes kept from a refused batch, for its dead letter


class DecompressionLimit(Exception):
    """A compressed batch expands beyond the limit (or is not valid data of its codec)."""

    def __init__(self, text: str, head: bytes = b"") -> None:
        super().__init__(text)
        self.head = head  # the first expanded bytes, if any


def gzip_decode(data: Any, limit: int) -> bytes:
    """gzip members one after another (as `gzip.decompress`), never more than `limit` bytes out."""
    buf = bytes(data)
    out: list[bytes] = []
    total = 0
    while buf:
        d = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            chunk = d.decompress(buf, limit - total + 1)
        except zlib.error as err:
            raise DecompressionLimit(f"gzip: {err}") from None
        total += len(chunk)
        if total > limit:
            raise DecompressionLimit(f"gzip: expands beyond {limit} bytes", (out or [chunk])[0][:HEAD_KEEP])
        out.append(chunk)
        if not d.eof:
            raise DecompressionLimit("gzip: truncated")
        buf = d.unused_data.lstrip(b"\x00")  # gzip.decompress ignores trailing zero padding
    return b"".join(out)


def lz4_decode(data: Any, limit: int) -> bytes:
    """LZ4 frames (what Kafka's v2 batches carry), never more than `limit` bytes out."""
    buf = bytes(data)
    out: list[bytes] = []
    total = 0
    while buf:
        d = lz4.frame.LZ4FrameDecompressor()
        try:
            chunk = d.decompress(buf, max_length=limit - total + 1)
        except RuntimeError as err:
            raise DecompressionLimit(f"lz4: {err}") from None
        total += len(chunk)
        if total > limit:
            raise DecompressionLimit(f"lz4: expands beyond {limit} bytes", (out or [chunk])[0][:HEAD_KEEP])
        out.append(chunk)
        if not d.eof:
            raise DecompressionLimit("lz4: truncated")
        buf = d.unused_data
    return b"".join(out)


def zstd_decode(data: Any, limit: int) -> bytes:
    """zstd into a buffer that grows (doubling) up to `limit`; never a larger allocation."""
    src = bytes(data)
    size = min(limit, max(_MIN_GUESS, 8 * len(src)))
    while True:
        out = bytearray(size)
        try:
            n = cramjam.zstd.decompress_into(src, out)
        except cramjam.DecompressionError as err:
            if size >= limit:
                raise DecompressionLimit(
                    f"zstd: expands beyond {limit} bytes ({err})", bytes(out[:HEAD_KEEP])
                ) from None
            size = min(limit, size * 2)
            continue
        if n < size or size >= limit:
            return bytes(memoryview(out)[:n])
        size = min(limit, size * 2)  # filled exactly: there may be more


def snappy_decode(data: Any, limit: int) -> bytes:
    """Raw snappy, or Kafka's xerial framing of snappy blocks; each block's stated length checked
    against what is left of `limit` before it is expanded."""
    buf = bytes(data)
    try:
        if len(buf) > 16 and buf[:8] == _XERIAL_HEADER:
            out: list[bytes] = []
            total = 0
            pos = 16
            while pos < len(buf):
                n = int.from_bytes(buf[pos : pos + 4], "big")
                block = buf[pos + 4 : pos + 4 + n]
                pos += 4 + n
                total += cramjam.snappy.decompress_raw_len(block)
                if total > limit:
                    raise DecompressionLimit(f"snappy: expands beyond {limit} bytes")
                out.append(bytes(cramjam.snappy.decompress_raw(block)))
            return b"".join(out)
        if cramjam.snappy.decompress_raw_len(buf) > limit:
            raise DecompressionLimit(f"snappy: expands beyond {limit} bytes")
        return bytes(cramjam.snappy.decompress_raw(buf))
    except cramjam.DecompressionError as err:
        raise DecompressionLimit(f"snappy: {err}") from None


class _Refused:
    """The one record standing for a batch that could not be expanded."""

    __slots__ = ("offset", "timestamp", "timestamp_type", "value")
    key = None
    checksum = None
    headers: tuple = ()

    def __init__(self, offset: int, timestamp: int, timestamp_type: int, value: Unreadable) -> None:
        self.offset, self.timestamp, self.timestamp_type, self.value = offset, timestamp, timestamp_type, value


class _GuardedBatch:
    """A record batch whose iteration turns a decompression over the limit into one refused record."""

    def __init__(self, batch: Any) -> None:
        self._batch = batch

    def __getattr__(self, name: str) -> Any:
        return getattr(self._batch, name)

    def __iter__(self) -> Iterator[Any]:
        try:
            records = iter(self._batch)  # expands the batch
            first = next(records, None)
        except DecompressionLimit as err:
            b = self._batch
            value = Unreadable(
                err.head,
                reason="too_large",
                detail=f"record batch at offsets {b.base_offset}..{b.next_offset - 1}: {err}",
            )
            yield _Refused(b.next_offset - 1, b.max_timestamp, b.timestamp_type, value)
            return
        while first is not None:  # not `yield from`: it would call the batch's __iter__ a second time
            yield first
            first = next(records, None)


class _GuardedRecords:
    """MemoryRecords whose batches are `_GuardedBatch`es."""

    def __init__(self, records: Any) -> None:
        self._records = records

    def has_next(self) -> bool:
        return bool(self._records.has_next())

    def next_batch(self) -> Any:
        batch = self._records.next_batch()
        if batch is None or not getattr(batch, "compression_type", 0):
            return batch
        return _GuardedBatch(batch)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._records, name)


_installed: dict[Any, Any] = {}  # what `install` replaced, for `uninstall`


def install(limit: int) -> None:
    """Make this process's aiokafka expand compressed batches only up to `limit` bytes each."""
    import aiokafka.record.default_records as py_records
    from aiokafka.consumer import fetcher

    modules = [py_records]
    try:
        import aiokafka.record._crecords.default_records as c_records

        modules.append(c_records)
    except ImportError:  # pure-Python aiokafka (AIOKAFKA_NO_EXTENSIONS)
        pass
    codecs = {
        "gzip_decode": gzip_decode,
        "lz4_decode": lz4_decode,
        "zstd_decode": zstd_decode,
        "snappy_decode": snappy_decode,
    }
    for mod in modules:
        for name, fn in codecs.items():
            if not hasattr(mod, name):
                raise RuntimeError(
                    f"{mod.__name__} has no {name}: re-check streams.bounded_records against this aiokafka version"
                )
            _installed.setdefault((mod.__name__, name), getattr(mod, name))
            setattr(mod, name, lambda data, _fn=fn: _fn(data, limit))
    base = _installed.get("PartitionRecords") or fetcher.PartitionRecords
    _installed["PartitionRecords"] = base

    class GuardedPartitionRecords(base):  # type: ignore[misc, valid-type]
        def __init__(self, tp: Any, records: Any, *args: Any, **kwargs: Any) -> None:
            super().__init__(tp, _GuardedRecords(records), *args, **kwargs)

    fetcher.PartitionRecords = GuardedPartitionRecords


def uninstall() -> None:
    """Give aiokafka its own codecs and fetcher records back (tests)."""
    import importlib

    import aiokafka.consumer.fetcher as fetcher

    if "PartitionRecords" in _installed:
        fetcher.PartitionRecords = _installed.pop("PartitionRecords")
    for key in [k for k in _installed if isinstance(k, tuple)]:
        module, name = key
        setattr(importlib.import_module(module), name, _installed.pop(key))
