"""Load the resource catalogue (`resources` table) from CSV or JSONL; each bad line is refused with a reason.

edu-sink resources load catalogue.jsonl     # {"resource": "...", "platform": "k12", "section": "lessons",
edu-sink resources load catalogue.csv       #  "subcolumn": "...", "title": "..."} per line, or a CSV
edu-simulate catalogue | edu-sink resources load -      # with that header
"""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO

from contracts.geo import PLATFORMS, SECTIONS
from sinks.store import Store
from sinks.tables import resources

FIELDS = ("resource", "platform", "section", "subcolumn", "title")
MAX_FIELD = 1000  # characters; a title longer than this is a broken file, not a title
CHUNK = 10_000


@dataclass
class LoadReport:
    loaded: int = 0
    refused: list[tuple[int, str]] = field(default_factory=list)  # (line number, reason), first 100 kept
    refused_total: int = 0

    def refuse(self, line: int, reason: str) -> None:
        self.refused_total += 1
        if len(self.refused) < 100:
            self.refused.append((line, reason))


def check(record: object) -> tuple[str, str, str, str, str] | str:
    """A catalogue row, or the reason it is refused."""
    if not isinstance(record, dict):
        return "not an object"
    values = []
    for name in FIELDS:
        value = record.get(name, "" if name == "subcolumn" else None)
        if not isinstance(value, str):
            return f"{name}: missing or not text"
        if len(value) > MAX_FIELD:
            return f"{name}: longer than {MAX_FIELD} characters"
        values.append(value.strip())
    rid, platform, section, subcolumn, title = values
    if not rid:
        return "resource: empty"
    if platform not in PLATFORMS:
        return f"platform: unknown {platform[:40]!r}"
    if section not in SECTIONS:
        return f"section: unknown {section[:40]!r}"
    return rid, platform, section, subcolumn, title or rid


def records(stream: IO[str]) -> Iterator[tuple[int, object]]:
    """(line number, parsed record or a refusal reason) from JSONL, or from CSV with a header."""
    first = stream.readline()
    if first.lstrip().startswith("{"):
        for n, line in enumerate(_chain([first], stream), start=1):
            if not line.strip():
                continue
            try:
                yield n, json.loads(line)
            except (ValueError, RecursionError) as err:
                yield n, f"invalid JSON: {str(err)[:100]}"
        return
    reader = csv.DictReader(_chain([first], stream))
    missing = [f for f in FIELDS if f != "subcolumn" and f not in (reader.fieldnames or [])]
    if missing:
        yield 1, f"CSV header lacks {missing}"
        return
    for row in reader:
        yield reader.line_num, row


def _chain(head: Iterable[str], rest: IO[str]) -> Iterator[str]:
    yield from head
    yield from rest


def load(store: Store, stream: IO[str]) -> LoadReport:
    """Insert every good row (in chunks); one bad row never costs the others."""
    report = LoadReport()
    now = int(time.time())
    batch: list[tuple[object, ...]] = []
    for line, rec in records(stream):
        row = rec if isinstance(rec, str) else check(rec)
        if isinstance(row, str):
            report.refuse(line, row)
            continue
        batch.append((*row, now))
        if len(batch) >= CHUNK:
            report.loaded += store.insert(resources.TABLE, resources.COLUMNS, batch)
            batch = []
    if batch:
        report.loaded += store.insert(resources.TABLE, resources.COLUMNS, batch)
    return report


def open_text(path: str) -> IO[str]:
    import sys

    if path == "-":
        return io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8", errors="replace")
    return open(path, encoding="utf-8", errors="replace", newline="")
