"""An append-only journal of accepted Kafka messages: written before the collector answers 202.

A record is one `write()` to a segment file, so once it returns the bytes are in the kernel's page
cache and survive a SIGKILL of the collector (a power cut needs `collector_fsync_s`). A torn record
at the tail (a crash mid-write) fails its length or CRC check and is cut off at start-up.

Record: u32 length of the rest, u32 CRC-32 of the rest, u64 sequence, u8 topic index, u16 key
length, key, value. Segments are named by their first sequence number and deleted once every record
in them is in Kafka (the sender's checkpoint says so).
"""

from __future__ import annotations

import os
import struct
import threading
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Final

_HEAD: Final = struct.Struct("<II")
_BODY: Final = struct.Struct("<QBH")
SEGMENT_BYTES: Final = 64 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Record:
    seq: int
    topic: int
    key: bytes
    value: bytes
    segment: int  # first seq of its segment
    end: int  # byte position just after it in that segment


def _segments(directory: Path) -> list[int]:
    return sorted(int(p.stem) for p in directory.glob("*.seg") if p.stem.isdigit())


def _path(directory: Path, first: int) -> Path:
    return directory / f"{first:020d}.seg"


def drop_segments(directory: Path, before: int) -> list[int]:
    """Delete the segments that start before `before`; their first sequences."""
    gone = [first for first in _segments(directory) if first < before]
    for first in gone:
        _path(directory, first).unlink(missing_ok=True)
    return gone


def scan(data: bytes, start: int = 0) -> Iterator[tuple[int, int, int, bytes, bytes]]:
    """Valid records from `start`: (seq, topic, end, key, value); stops at the first torn one."""
    pos, n = start, len(data)
    while pos + 8 <= n:
        length, crc = _HEAD.unpack_from(data, pos)
        end = pos + 8 + length
        if length < _BODY.size or end > n or zlib.crc32(data[pos + 8 : end]) != crc:
            return
        seq, topic, klen = _BODY.unpack_from(data, pos + 8)
        kstart = pos + 8 + _BODY.size
        yield seq, topic, end, data[kstart : kstart + klen], data[kstart + klen : end]
        pos = end


class Journal:
    """The writer (one thread: the event loop) and the shared position the sender reads up to."""

    def __init__(self, directory: Path, first_seq: int = 1, segment_bytes: int = SEGMENT_BYTES) -> None:
        self.dir = directory
        directory.mkdir(parents=True, exist_ok=True)
        self.segment_bytes = segment_bytes
        self.changed = threading.Condition()
        self.written_bytes = 0  # since start: for the spool depth
        segs = _segments(directory)
        self.sizes: dict[int, int] = {s: _path(directory, s).stat().st_size for s in segs}
        if segs:
            last = segs[-1]
            data = _path(directory, last).read_bytes()
            end, next_seq = 0, last
            for seq, _, rec_end, _, _ in scan(data):
                end, next_seq = rec_end, seq + 1
            if end < len(data):  # a torn tail from a crash: cut it off
                with open(_path(directory, last), "r+b") as f:
                    f.truncate(end)
            self.segment, self.size, self.next_seq = last, end, max(next_seq, first_seq)
            self.sizes[last] = end
        else:
            self.segment, self.size, self.next_seq = first_seq, 0, first_seq
            self.sizes[first_seq] = 0
        self._fd = os.open(_path(directory, self.segment), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)

    def append(self, topic: int, key: bytes, value: bytes) -> int:
        """Write one record; returns its sequence number once the kernel has it."""
        seq = self.next_seq
        body = _BODY.pack(seq, topic, len(key)) + key + value
        rec = _HEAD.pack(len(body), zlib.crc32(body)) + body
        if self.size and self.size + len(rec) > self.segment_bytes:
            self._roll(seq)
        os.write(self._fd, rec)
        with self.changed:
            self.next_seq = seq + 1
            self.size += len(rec)
            self.sizes[self.segment] = self.size
            self.written_bytes += len(rec)
            self.changed.notify_all()
        return seq

    def _roll(self, seq: int) -> None:
        fd = os.open(_path(self.dir, seq), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        old, self._fd = self._fd, fd
        os.close(old)
        with self.changed:
            self.segment, self.size = seq, 0
            self.sizes[seq] = 0

    def sync(self) -> None:
        os.fdatasync(self._fd)

    def wake(self) -> None:
        """Wake a reader waiting for records (it is being stopped)."""
        with self.changed:
            self.changed.notify_all()

    def close(self) -> None:
        os.close(self._fd)

    def position(self) -> tuple[int, int]:
        with self.changed:
            return self.segment, self.size

    def drop_before(self, segment: int) -> None:
        """Delete segments wholly before `segment` (their records are all in Kafka)."""
        for first in drop_segments(self.dir, min(segment, self.segment)):
            with self.changed:
                self.sizes.pop(first, None)

    def bytes_after(self, segment: int, offset: int) -> int:
        """Journal bytes after position (segment, offset): what Kafka has not acknowledged."""
        with self.changed:
            return sum(size for first, size in self.sizes.items() if first >= segment) - offset

    def read(
        self, segment: int, offset: int, stop: threading.Event, wait_s: float = 0.1, gather_s: float = 0.002
    ) -> Iterator[Record | None]:
        """Records from (segment, offset) on, waiting for new ones until `stop` is set; None after
        each idle wait (so the reader can do its housekeeping while nothing comes). After a short
        read it lets `gather_s` pass, so a busy collector is read in chunks, not one wake-up per
        request (each wake-up costs the request path a GIL hand-over)."""
        f: BinaryIO | None = None
        f_segment = -1
        try:
            while not stop.is_set():
                with self.changed:
                    cur, size = self.segment, self.size
                if segment > cur:
                    return
                limit = size if segment == cur else None
                if f_segment != segment:
                    if f is not None:
                        f.close()
                    try:
                        f = open(_path(self.dir, segment), "rb")
                        f_segment = segment
                    except FileNotFoundError:
                        f, f_segment = None, -1
                if f is not None:
                    f.seek(offset)
                    data = f.read() if limit is None else f.read(max(0, limit - offset))
                else:
                    data = b""
                end, n = offset, 0
                for seq, topic, rec_end, key, value in scan(data):
                    end = offset + rec_end
                    n += 1
                    yield Record(seq, topic, key, value, segment, end)
                offset = end
                if segment != cur:
                    later = [s for s in _segments(self.dir) if s > segment]
                    if later:
                        segment, offset = later[0], 0
                        continue
                if 0 < n < 256:
                    stop.wait(gather_s)
                    yield None  # a pause: the reader sends what it holds
                    continue
                with self.changed:
                    if self.segment == segment and self.size == offset:
                        self.changed.wait(wait_s)
                        yield None
        finally:
            if f is not None:
                f.close()


class JournalTail:
    """Reads a journal that another process writes: the same records as `Journal.read`, found by
    reading the segment files (no shared memory); `wait_s` is how often an idle tail looks again.

    A segment is finished once a later one exists (the writer rolls only after its last write), so
    the old one is read once more to its end before the reader moves on.
    """

    def __init__(self, directory: Path, wait_s: float = 0.002) -> None:
        self.dir = directory
        self.wait_s = wait_s

    def drop_before(self, segment: int) -> None:
        """Delete segments wholly before `segment`: all their records are in Kafka."""
        drop_segments(self.dir, segment)

    def wake(self) -> None:
        """Nothing to wake: the reader looks again every `wait_s`."""

    def read(self, segment: int, offset: int, stop: threading.Event) -> Iterator[Record | None]:
        """Records from (segment, offset) on until `stop` is set; None after each look that found
        nothing new (the caller's moment to send what it holds)."""
        f: BinaryIO | None = None
        f_segment = -1
        following: int | None = None  # a later segment seen: this one is finished
        try:
            while not stop.is_set():
                if f_segment != segment:
                    if f is not None:
                        f.close()
                    try:
                        f, f_segment = open(_path(self.dir, segment), "rb"), segment
                    except FileNotFoundError:
                        f, f_segment = None, -1
                data = b""
                if f is not None:
                    f.seek(offset)
                    data = f.read()
                n = 0
                for seq, topic, rec_end, key, value in scan(data):
                    n += 1
                    yield Record(seq, topic, key, value, segment, offset + rec_end)
                    last_end = rec_end
                if n:
                    offset += last_end
                    continue
                if following is not None:  # read to its end after the next one was seen: move on
                    segment, offset, following = following, 0, None
                    continue
                later = [s for s in _segments(self.dir) if s > segment]  # listed only when idle
                if later:  # finished before `later` existed: one more read reaches its true end
                    following = later[0]
                    continue
                stop.wait(self.wait_s)
                yield None
        finally:
            if f is not None:
                f.close()
