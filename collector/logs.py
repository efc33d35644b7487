"""`edu-collect logs FILE|-`: Nginx access logs -> the same events the HTTP collector makes.

Each line: client address (trusted proxies' X-Forwarded-For believed as in HTTP) -> province, the
User-Agent -> device or bot (dropped, counted), the URL -> platform/section/resource/action through
a mapping (YAML; default: every successful GET of a non-asset path is a pageview of that path).
Events keep their logged time, so last month's logs fill last month's minutes.

Events are journaled (the same journal and exactly-once sender as the HTTP side, in a spool of
their own) and a per-file ledger records how far each file was imported; a file is known by its
first line, so importing it again (or a longer copy of it) skips what was already imported.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO, Final

import yaml

from collector.address import ClientAddress
from collector.service import Enricher, spool_dir
from contracts.events import Click, encode
from contracts.geo import ACTIONS, PLATFORMS, SECTIONS
from contracts.settings import Settings

COMBINED: Final = (
    '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent"'
)
_ASSET: Final = re.compile(r"\.(?:css|js|mjs|map|png|jpe?g|gif|ico|svg|webp|woff2?|ttf|eot)(?:\?|$)", re.IGNORECASE)
_MONTHS: Final = {
    m: i for i, m in enumerate(("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1)
}
MESSAGE_EVENTS: Final = 200  # events per Kafka message (well under the worker's message size limit)


def format_regex(log_format: str) -> re.Pattern[bytes]:
    """An Nginx log_format as a regex with a named group per variable."""
    out, pos = [], 0
    for m in re.finditer(r"\$([a-z_][a-z0-9_]*)", log_format):
        literal = log_format[pos : m.start()]
        out.append(re.escape(literal))
        name = m.group(1)
        nxt = log_format[m.end() : m.end() + 1]
        if name == "time_local":
            out.append(rf"(?P<{name}>[^\]]+)")
        elif nxt == '"':
            out.append(rf'(?P<{name}>[^"]*)')  # Nginx writes a quote inside a value as \x22
        elif nxt:
            out.append(rf"(?P<{name}>[^{re.escape(nxt)}]*)")
        else:
            out.append(rf"(?P<{name}>\S*)")
        pos = m.end()
    out.append(re.escape(log_format[pos:]))
    return re.compile("".join(out).encode())


@dataclass(frozen=True)
class Rule:
    pattern: re.Pattern[str]
    skip: bool = False
    platform: str | None = None
    section: str | None = None
    action: str | None = None
    resource: str | None = None  # a template: "{resource}" (a named group) or fixed text


@dataclass
class ResourceMap:
    """URL path -> (platform, section, resource, action), first matching rule wins."""

    rules: list[Rule] = field(default_factory=list)
    platform: str = "k12"
    section: str = "other"
    pageviews: bool = True  # unmatched non-asset paths count as pageviews of the path

    @classmethod
    def load(cls, path: Path | None, platform: str) -> ResourceMap:
        if path is None:
            return cls(platform=platform)
        doc = yaml.safe_load(path.read_text()) or {}
        rules = []
        for i, r in enumerate(doc.get("rules", [])):
            rule = Rule(
                re.compile(r["match"]),
                bool(r.get("skip", False)),
                r.get("platform"),
                r.get("section"),
                r.get("action"),
                r.get("resource"),
            )
            for name, allowed in (("platform", PLATFORMS), ("section", SECTIONS), ("action", ACTIONS)):
                value = getattr(rule, name)
                if value is not None and value not in allowed:
                    raise SystemExit(f"{path}: rule {i}: {name} {value!r} not one of {sorted(allowed)}")
            rules.append(rule)
        default = doc.get("default", {})
        return cls(
            rules,
            default.get("platform", platform),
            default.get("section", "other"),
            bool(default.get("pageviews", True)),
        )

    def resolve(self, path: str) -> tuple[str, str, str, str] | None:
        for rule in self.rules:
            m = rule.pattern.search(path)
            if m is None:
                continue
            if rule.skip:
                return None
            template = rule.resource or "{path}"
            resource = template.format(path=path.partition("?")[0], **m.groupdict())[:64] or "/"
            return (rule.platform or self.platform, rule.section or self.section, resource, rule.action or "view")
        if not self.pageviews or _ASSET.search(path):
            return None
        return self.platform, self.section, path.partition("?")[0][:64] or "/", "view"


class TimeParser:
    """`10/Oct/2000:13:55:36 -0700` -> epoch ms, cached per second (a log has many lines a second)."""

    def __init__(self) -> None:
        self._last = b""
        self._ms = 0

    def __call__(self, text: bytes) -> int | None:
        if text == self._last:
            return self._ms
        try:
            s = text.decode()
            day, mon, rest = s[:2], s[3:6], s[7:]
            dt = datetime.strptime(f"{day}/{_MONTHS[mon]:02d}/{rest}", "%d/%m/%Y:%H:%M:%S %z")
        except (ValueError, KeyError, UnicodeDecodeError):
            return None
        self._last, self._ms = text, int(dt.timestamp() * 1000)
        return self._ms


@dataclass
class Stats:
    lines: int = 0
    events: int = 0
    bots: int = 0
    skipped: int = 0  # assets, non-GET, errors, unmapped
    unparsed: int = 0
    no_region: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


class LineConverter:
    """One log line -> a Click, or a reason it is not one."""

    def __init__(self, settings: Settings, enricher: Enricher, log_format: str, mapping: ResourceMap) -> None:
        self.regex = format_regex(log_format)
        self.en = enricher
        self.addresses = ClientAddress(settings.collector_trusted_proxies)
        self.mapping = mapping
        self.times = TimeParser()
        self.stats = Stats()
        self._paths: dict[str, tuple[str, str, str, str] | None] = {}
        self._idents: dict[tuple[int, str, str | None, str], tuple[str, str]] = {}

    def convert(self, line: bytes, eid: str) -> Click | None:
        st = self.stats
        st.lines += 1
        m = self.regex.match(line)
        if m is None:
            st.unparsed += 1
            return None
        g = m.groupdict()
        request = g.get("request") or b""
        status = g.get("status") or b"200"
        if not request.startswith(b"GET ") or not (status.startswith(b"2") or status == b"304"):
            st.skipped += 1
            return None
        path = request[4:].rpartition(b" ")[0].decode("utf-8", "replace") or request[4:].decode("utf-8", "replace")
        target = self._paths.get(path)
        if target is None and path not in self._paths:
            target = self._paths[path] = self.mapping.resolve(path)
            if len(self._paths) > 100_000:
                self._paths.clear()
        if target is None:
            st.skipped += 1
            return None
        ua = (g.get("http_user_agent") or b"").decode("utf-8", "replace")
        agent = self.en.agents.classify(ua)
        if agent.bot:
            st.bots += 1
            return None
        ts = self.times(g.get("time_local") or b"")
        if ts is None:
            st.unparsed += 1
            return None
        peer = (g.get("remote_addr") or b"").decode("ascii", "replace")
        xff = g.get("http_x_forwarded_for")
        addr = self.addresses.resolve(peer, xff.decode("ascii", "replace") if xff and xff != b"-" else None, None)
        region = self.en.geo.lookup(addr) if addr else None
        if region is None or region.refusal is not None:
            st.no_region += 1
            return None
        platform, section, resource, action = target
        day = (ts + self.en.pseudonyms.offset_ms) // 86_400_000  # a visitor's lines hash once a day
        ident = (day, platform, addr, ua)
        pair = self._idents.get(ident)
        if pair is None:
            ps = self.en.pseudonyms
            user = ps.visitor(ts, platform, addr or "", ua[:512])
            pair = (user, ps.session(ts, user, None))
            if len(self._idents) > 200_000:
                self._idents.clear()
            self._idents[ident] = pair
        st.events += 1
        return Click(
            id=eid,
            ts=ts,
            platform=platform,
            province=region.province or "",
            user=pair[0],
            session=pair[1],
            resource=resource,
            section=section,
            action=action,
            device=agent.device,
            country=region.country,
        )


# ------------------------------------------------------------------------------------ ledger
class Ledger:
    """How far each file (known by a hash of its first line) was imported."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self.files: dict[str, dict[str, Any]] = json.loads(path.read_text())
        except FileNotFoundError:
            self.files = {}

    def offset(self, key: str) -> int:
        return int(self.files.get(key, {}).get("offset", 0))

    def advance(self, key: str, name: str, offset: int) -> None:
        self.files[key] = {"offset": offset, "name": name, "at": int(time.time())}
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.files))
        os.replace(tmp, self.path)


def file_key(first_line: bytes) -> str:
    return hashlib.sha256(first_line).hexdigest()[:32]


# ------------------------------------------------------------------------------------ reading
def _lines(f: BinaryIO, start: int) -> Iterator[tuple[int, bytes]]:
    """(offset after the line, line) for complete lines from `start`."""
    f.seek(start)
    pos = start
    for line in f:
        if not line.endswith(b"\n"):
            return  # a line still being written: read again later
        pos += len(line)
        yield pos, line


def follow(path: Path, start: int, stop: Any, poll_s: float = 0.5) -> Iterator[tuple[int, bytes | None, bool]]:
    """Lines of a live log across rotation (tail -F): (offset, line, new_file), and (offset, None,
    False) when idle. A rotated file is read to its end before the new one is opened from its start."""
    f = open(path, "rb")
    inode = os.fstat(f.fileno()).st_ino
    pos = start
    new = False
    try:
        while not stop():
            got = False
            for end, line in _lines(f, pos):
                got = True
                pos = end
                yield pos, line, new
                new = False
            try:
                st = os.stat(path)
            except FileNotFoundError:
                st = None
            if st is not None and (st.st_ino != inode or st.st_size < pos):
                f.close()
                f = open(path, "rb")
                inode, pos, new = os.fstat(f.fileno()).st_ino, 0, True
                continue
            if not got:
                yield pos, None, False  # idle: the caller may flush what it holds
                time.sleep(poll_s)  # a live log's next line: nothing to wait on but the file
    finally:
        f.close()


# --------------------------------------------------------------------------------------- run
def unsent(journal: Any, sender: Any) -> int:
    """Journaled records Kafka has not acknowledged yet."""
    return max(0, journal.next_seq - 1 - sender.position[0])


def run_import(settings: Settings, args: argparse.Namespace) -> int:
    from collector.journal import Journal
    from collector.privacy import load_secret
    from collector.sender import Checkpoint, Sender, consumer_factory, producer_factory, start_checkpoint

    base = spool_dir(settings)
    secret = load_secret(settings.collector_salt_file or base / "secret")
    enricher = Enricher(settings, secret)
    mapping = ResourceMap.load(args.map or settings.collector_resource_map, args.platform)
    fmt = COMBINED if args.format == "combined" else args.format
    conv = LineConverter(settings, enricher, fmt, mapping)
    ledger = Ledger(base / "import-ledger.json")
    sender = None
    journal = None
    if not args.dry_run:
        ck = Checkpoint.load(base / "import" / "checkpoint.json")
        journal = Journal(base / "import" / "journal", first_seq=(ck.seq + 1) if ck else 1)
        start_checkpoint(journal, base / "import" / "checkpoint.json")
        sender = Sender(
            journal,
            [settings.topic_clicks, settings.topic_sessions],
            producer_factory(settings),
            consumer_factory(settings),
            base / "import" / "checkpoint.json",
        )
        sender.start()
    t0 = time.perf_counter()
    pending: list[Click] = []

    def flush(key: str, name: str, offset: int) -> None:
        for i in range(0, len(pending), MESSAGE_EVENTS):
            chunk = pending[i : i + MESSAGE_EVENTS]
            if journal is not None:
                journal.append(0, chunk[0].session.encode(), encode(chunk))
        pending.clear()
        if not args.dry_run and not args.no_ledger:
            ledger.advance(key, name, offset)

    try:
        if args.file == "-":
            stream: BinaryIO = sys.stdin.buffer
            first = stream.readline()
            key = file_key(first)
            skip_to = 0 if args.no_ledger else ledger.offset(key)
            pos = 0
            for line in [first] if first else []:
                pos += len(line)
                if pos > skip_to:
                    ev = conv.convert(line, f"l{key[:12]}{pos:x}")
                    if ev is not None:
                        pending.append(ev)
            for line in stream:
                pos += len(line)
                if pos <= skip_to:
                    continue
                ev = conv.convert(line, f"l{key[:12]}{pos:x}")
                if ev is not None:
                    pending.append(ev)
                if len(pending) >= 5000:
                    flush(key, "-", pos)
            flush(key, "-", pos)
        else:
            path = Path(args.file)
            with open(path, "rb") as f:
                first = f.readline()
            key = file_key(first)
            start = 0 if args.no_ledger else ledger.offset(key)
            if start and path.stat().st_size < start:
                start = 0  # shorter than what was imported under this key: a different file
            stop_flag = [False]
            source: Iterator[tuple[int, bytes | None, bool]]
            if args.follow:
                source = follow(path, start, lambda: stop_flag[0])
            else:
                fh = open(path, "rb")
                source = ((p, ln, False) for p, ln in _lines(fh, start))
            last_flush = time.monotonic()
            pos = last_pos = start
            for at, got, new in source:
                pos = at
                if new:  # rotated: the old file is done (its key keeps its offset), the new one has its own
                    flush(key, path.name, last_pos)
                    key = file_key(got or b"")
                last_pos = pos
                if got is not None:
                    ev = conv.convert(got, f"l{key[:12]}{pos:x}")
                    if ev is not None:
                        pending.append(ev)
                if len(pending) >= 5000 or (args.follow and time.monotonic() - last_flush > 1.0):
                    flush(key, path.name, pos)
                    last_flush = time.monotonic()
            flush(key, path.name, pos)
    except KeyboardInterrupt:
        pass
    finally:
        elapsed = time.perf_counter() - t0
        if sender is not None:
            deadline = time.monotonic() + 120
            while unsent(journal, sender) and time.monotonic() < deadline:
                time.sleep(0.1)  # waiting for Kafka's acknowledgements, bounded
            sender.stop()
            journal.close()  # type: ignore[union-attr]
    st = conv.stats
    left = unsent(journal, sender) if sender is not None and journal is not None else 0
    print(json.dumps({**st.as_dict(), "seconds": round(elapsed, 3), "unsent": left}), flush=True)
    return 0 if left == 0 else 1


__all__ = ["COMBINED", "Ledger", "LineConverter", "ResourceMap", "format_regex", "run_import"]
