"""The sender process's reader: what one process appends, another reads from the files, in order,
once each, across segment rolls; a torn tail is not read until it is whole."""

from __future__ import annotations

import os
import threading
from pathlib import Path

from collector.journal import Journal, JournalTail, _path


def read_all(tail: JournalTail, want: int, timeout: float = 30.0) -> list[int]:
    stop = threading.Event()
    seqs: list[int] = []
    timer = threading.Timer(timeout, stop.set)  # a bound on a broken reader, not a wait for data
    timer.start()
    try:
        for rec in tail.read(1, 0, stop):
            if rec is not None:
                seqs.append(rec.seq)
                assert rec.value == f"v{rec.seq}".encode() * (rec.seq % 7 + 1)
            if len(seqs) >= want:
                break
    finally:
        timer.cancel()
    return seqs


def test_a_live_writer_is_read_in_order_across_segment_rolls(tmp_path: Path) -> None:
    journal = Journal(tmp_path, segment_bytes=2_000)  # a roll every ~50 records
    n = 3_000

    def write() -> None:
        for i in range(1, n + 1):
            journal.append(i % 2, b"k", f"v{i}".encode() * (i % 7 + 1))

    writer = threading.Thread(target=write)
    writer.start()
    seqs = read_all(JournalTail(tmp_path, wait_s=0.001), n)
    writer.join()
    assert seqs == list(range(1, n + 1))
    assert len(list(tmp_path.glob("*.seg"))) > 20  # it did cross many rolls


def test_drop_before_deletes_only_older_segments(tmp_path: Path) -> None:
    journal = Journal(tmp_path, segment_bytes=500)
    for i in range(1, 200):
        journal.append(0, b"", f"v{i}".encode() * (i % 7 + 1))
    segs = sorted(int(p.stem) for p in tmp_path.glob("*.seg"))
    JournalTail(tmp_path).drop_before(segs[2])
    assert sorted(int(p.stem) for p in tmp_path.glob("*.seg")) == segs[2:]


def test_a_torn_tail_is_read_once_it_is_whole(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j")
    journal.append(0, b"", b"v1")
    journal.close()
    two = Journal(tmp_path / "two", first_seq=2)  # the bytes of the record that follows, seq 2
    two.append(0, b"", b"v2v2v2")
    two.close()
    record = _path(tmp_path / "two", 2).read_bytes()
    fd = os.open(_path(tmp_path / "j", 1), os.O_WRONLY | os.O_APPEND)
    os.write(fd, record[:9])  # half a record: a writer caught mid-write
    stop = threading.Event()
    reader = JournalTail(tmp_path / "j", wait_s=0.001).read(1, 0, stop)
    first = next(reader)
    assert first is not None and first.seq == 1
    assert next(reader) is None  # the half record is not a record yet
    os.write(fd, record[9:])
    os.close(fd)
    got = next(r for r in reader if r is not None)
    assert (got.seq, got.value) == (2, b"v2v2v2")
    stop.set()
