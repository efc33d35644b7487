"""Sending simulated traffic through the collector's front door (HTTP) instead of straight to Kafka.

Each generator message (one client's SDK batch) becomes one POST /api/event, with the client's
address in X-Forwarded-For (the simulator stands where the platform's reverse proxy would: its
address must be in EDU_COLLECTOR_TRUSTED_PROXIES). The address is one the collector's own
database places in the event's province (or country), so the stored counts still equal the
run's ground truth; user ids travel as pseudonymous `pid`s. Requests go out on a pool of
keep-alive connections; 429/503 are retried after Retry-After; events the collector refuses are
subtracted from the truth (counted in `errors`), never silently lost.
"""

from __future__ import annotations

import http.client
import json
import queue
import threading
import time
import zlib
from typing import Any
from urllib.parse import urlsplit

import msgspec

from collector.geo import Geo
from contracts.events import ABROAD, Click, Event, decode_message
from simulators.kafka_out import SenderStats
from simulators.truth import GroundTruth


class AddressBook:
    """Addresses that the collector's data places in each province and country (found, then cached)."""

    def __init__(self, geo: Geo | None = None, per_province: int = 64) -> None:
        self.geo = geo or Geo()
        table = self.geo.v4
        self.by_province: dict[str, list[str]] = {}
        self.by_country: dict[str, list[str]] = {}
        self._foreign: list[int] = []
        import ipaddress

        self._ip = ipaddress.IPv4Address
        for start, rid in zip(table.starts, table.ids, strict=True):
            if rid == 0xFFFF:
                continue
            raw = table.regions[rid]
            if raw[0] == "中国":
                region = self.geo.lookup(str(self._ip(start + 1)))
                if (
                    region.province
                    and region.province != ABROAD
                    and len(self.by_province.setdefault(region.province, [])) < per_province
                ):
                    self.by_province[region.province].append(str(self._ip(start + 1)))
            elif raw[0] not in ("0", "") and len(self._foreign) < 400_000:
                self._foreign.append(start + 1)
        self._cursor = 0
        self._pass = 0

    def for_event(self, ev: Event) -> str | None:
        h = zlib.crc32(ev.session.encode())
        if ev.province == ABROAD:
            pool = self._country(ev.country or "")
        else:
            pool = self.by_province.get(ev.province, [])
        return pool[h % len(pool)] if pool else None

    def _country(self, iso: str) -> list[str]:
        """A sparse pass over the foreign ranges first (most countries are big), then every range;
        a country the data does not place anywhere gets no address (its events count as errors)."""
        pool = self.by_country.get(iso)
        for step in (97, 1):
            if pool is not None:
                break
            if self._cursor >= len(self._foreign):
                self._cursor = 0 if step == 1 and self._pass == 0 else len(self._foreign)
                self._pass += 1
            while pool is None and self._cursor < len(self._foreign):
                addr = str(self._ip(self._foreign[self._cursor]))
                self._cursor += step
                region = self.geo.lookup(addr)
                if region.province == ABROAD and region.country:
                    got = self.by_country.setdefault(region.country, [])
                    if len(got) < 8:
                        got.append(addr)
                pool = self.by_country.get(iso)
        if pool is None:
            self.by_country[iso] = pool = []
        return pool


def to_wire(ev: Event) -> dict[str, Any]:
    """A contract event as a client sends it: no province, device or raw user id."""
    common = {"platform": ev.platform, "session": ev.session, "pid": ev.user, "id": ev.id, "ts": ev.ts}
    if ev.device in ("app", "tv"):
        common["device"] = ev.device
    if isinstance(ev, Click):
        return {"type": "click", "section": ev.section, "resource": ev.resource, "action": ev.action, **common}
    return {"type": "session", "kind": ev.kind, "duration_s": ev.duration_s, **common}


class HttpSink:
    """The send loop's sink for the collector (`url` like http://127.0.0.1:8060)."""

    def __init__(
        self,
        url: str,
        *,
        connections: int = 8,
        queue_size: int = 10_000,
        max_retries: int = 20,
        user_agent: str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
        "(KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
        addresses: AddressBook | None = None,
    ) -> None:
        parts = urlsplit(url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.path = (parts.path.rstrip("/") or "") + "/api/event"
        self.ua = user_agent
        self.addresses = addresses or AddressBook()
        self.failed = GroundTruth()
        self.max_retries = max_retries
        self._q: queue.Queue[tuple[bytes, str, list[Event]] | None] = queue.Queue(queue_size)
        self._lock = threading.Lock()
        self.stats = SenderStats()  # messages, bytes, errors (events refused or unanswered), samples
        self.requests = self.accepted = self.retries = 0
        self._threads = [
            threading.Thread(target=self._work, name=f"http-sink-{i}", daemon=True) for i in range(connections)
        ]
        for t in self._threads:
            t.start()
        self.sender = self  # the loop's progress reads sender.stats.errors
        self._enc = msgspec.json.Encoder()

    # --- Sink protocol --------------------------------------------------------------------
    def send_batch(self, batch: list[Event]) -> None:
        self._submit(batch)

    def send_raw(self, value: bytes, kind: str, key: bytes | None = None) -> None:
        events, _ = decode_message(value, max_bytes=1 << 30, max_events=1 << 30)
        if events:
            self._submit(events)

    def hand_over(self) -> None:
        pass

    def close(self) -> dict[str, Any]:
        for _ in self._threads:
            self._q.put(None)
        for t in self._threads:
            t.join()
        return {**self.stats.as_dict(), "requests": self.requests, "accepted": self.accepted, "retries": self.retries}

    # --- internals ------------------------------------------------------------------------
    def _submit(self, events: list[Event]) -> None:
        addr = self.addresses.for_event(events[0])
        if addr is None:
            self._fail(events, "no address for the event's region")
            return
        body = self._enc.encode([to_wire(e) for e in events])
        sent = max(e.ts for e in events)
        self.stats.messages += 1
        self.stats.bytes += len(body)
        self._q.put((body, f"{addr}|{sent}", events))

    def _fail(self, events: list[Event], why: str) -> None:
        with self._lock:
            self.stats.errors += len(events)
            if len(self.stats.error_samples) < 5:
                self.stats.error_samples.append(why[:200])
            self.failed.add_batch(events)

    def _work(self) -> None:
        conn: http.client.HTTPConnection | None = None
        while True:
            item = self._q.get()
            if item is None:
                break
            body, meta, events = item
            addr, _, sent = meta.partition("|")
            for attempt in range(self.max_retries + 1):
                try:
                    if conn is None:
                        conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
                    conn.request(
                        "POST",
                        f"{self.path}?sent={sent}",
                        body=body,
                        headers={"Content-Type": "application/json", "User-Agent": self.ua, "X-Forwarded-For": addr},
                    )
                    resp = conn.getresponse()
                    data = resp.read()
                except (OSError, http.client.HTTPException):
                    if conn is not None:
                        conn.close()
                    conn = None
                    time.sleep(min(0.1 * 2**attempt, 5.0))  # a retry's backoff (the loop's schedule is not held)
                    continue
                with self._lock:
                    self.requests += 1
                if resp.status in (429, 503) and attempt < self.max_retries:
                    with self._lock:
                        self.retries += 1
                    time.sleep(min(float(resp.getheader("Retry-After") or 1), 5.0))
                    continue
                self._answered(resp.status, data, events)
                break
            else:
                self._fail(events, "no answer after retries")
        if conn is not None:
            conn.close()

    def _answered(self, status: int, data: bytes, events: list[Event]) -> None:
        try:
            answer = json.loads(data) if data else {}
        except ValueError:
            answer = {}
        if status == 202 and answer.get("accepted") == len(events):
            with self._lock:
                self.accepted += len(events)
            return
        listed = {e.get("index", -1) for e in answer.get("errors", [])} if status == 202 else set()
        if (
            status == 202
            and -1 not in listed
            and len(listed) == answer.get("refused", -1)
            and answer.get("accepted", -1) + len(listed) == len(events)
        ):
            bad = [e for i, e in enumerate(events) if i in listed]
            with self._lock:
                self.accepted += len(events) - len(bad)
        else:  # refused whole, or the answer does not say which: none of it counts as delivered
            bad = events
        self._fail(bad, f"HTTP {status}: {data[:150]!r}")
