"""Recording to and reading from files: NDJSON (one Kafka message per line, optionally gzip).

A line is exactly the bytes of one Kafka message (an event object or a client batch array), so a
replay sends what was recorded without re-encoding. The topic is known from the event type. Parquet
(one row per event, for analysis with pandas/ClickHouse) is an export, not a replay format.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Union

import msgspec

from contracts.events import Event, encode


class _TsClick(msgspec.Struct, tag="click", tag_field="type"):
    ts: int


class _TsSession(msgspec.Struct, tag="session", tag_field="type"):
    ts: int


_Light = Union[_TsClick, _TsSession]
_light = msgspec.json.Decoder(Union[_Light, list[_Light]])


def _open(path: Path, mode: str) -> IO[bytes]:
    if path.suffix == ".gz":
        return gzip.open(path, mode + "b", compresslevel=3)  # type: ignore[return-value]
    return open(path, mode + "b")


class NdjsonWriter:
    """Append client batches as lines; `.gz` names compress."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._fh = _open(self.path, "w")
        self.messages = 0
        self.events = 0

    def write(self, batch: list[Event]) -> None:
        self._fh.write(encode(batch[0] if len(batch) == 1 else batch) + b"\n")
        self.messages += 1
        self.events += len(batch)

    def write_raw(self, line: bytes) -> None:
        self._fh.write(line.rstrip(b"\n") + b"\n")
        self.messages += 1

    def close(self) -> None:
        self._fh.close()

    def __enter__(self) -> NdjsonWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Recorded(msgspec.Struct, frozen=True):
    """One recorded message: its bytes, topic kind, first event time and event count."""

    value: bytes
    kind: str  # "clicks" or "sessions"
    ts: int
    events: int
    line: int


def read_messages(path: str | Path) -> Iterator[Recorded]:
    """The recorded messages in file order, with the light facts a replay paces and routes by."""
    path = Path(path)
    with _open(path, "r") as fh:
        for n, raw in enumerate(fh, 1):
            line = raw.rstrip(b"\n")
            if not line:
                continue
            try:
                head = _light.decode(line)
            except msgspec.DecodeError as err:
                raise ValueError(f"{path}:{n}: not an event or event batch: {err}") from None
            first = head[0] if isinstance(head, list) else head
            if isinstance(head, list) and not head:
                raise ValueError(f"{path}:{n}: empty batch")
            yield Recorded(
                line,
                "clicks" if isinstance(first, _TsClick) else "sessions",
                first.ts,
                len(head) if isinstance(head, list) else 1,
                n,
            )


def write_parquet(batches: Iterable[list[Event]], path: str | Path) -> int:
    """Export events to Parquet, one row per event (for analysis; not replayable)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = [
        msgspec.structs.asdict(ev) | {"type": "click" if "resource" in ev.__struct_fields__ else "session"}
        for batch in batches
        for ev in batch
    ]
    pq.write_table(pa.Table.from_pylist(rows), str(path))
    return len(rows)
