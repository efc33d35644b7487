"""The collector's state: enrichment, pseudonyms, journal and sender, built once from settings.

`accept()` is the whole path of one request's events after the HTTP checks: classify the client,
locate it, pseudonymise, build contract events, journal them (before any 202), count them. The HTTP
layer (collector/app.py) and the log importer share the enrichment pieces.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry

from collector import intake
from collector.address import ClientAddress
from collector.agent import AgentParser
from collector.geo import Geo
from collector.intake import Refusal
from collector.journal import Journal
from collector.limits import RateLimiter
from collector.metrics import CollectorMetrics
from collector.privacy import Pseudonyms, load_secret
from collector.sender import Checkpoint, Sender, start_checkpoint
from collector.sender import consumer_factory as kafka_consumer_factory
from collector.sender import producer_factory as kafka_producer_factory
from collector.sender_process import SenderProcess
from contracts.beijing import BEIJING_OFFSET_S
from contracts.events import Click, Event, encode
from contracts.settings import Settings

TOPIC_CLICKS, TOPIC_SESSIONS = 0, 1


class SpoolFull(RuntimeError):
    """The journal holds as much as it may of what Kafka has not acknowledged."""


@dataclass
class Outcome:
    accepted: int = 0
    bots: int = 0
    refusals: list[Refusal] = field(default_factory=list)

    @property
    def refused(self) -> int:
        return len(self.refusals)


def spool_dir(settings: Settings) -> Path:
    return settings.collector_spool_dir or settings.data_dir / "collector"


class Enricher:
    """Address -> region, User-Agent -> agent, ids -> pseudonyms (shared with the log importer)."""

    def __init__(self, settings: Settings, secret: bytes) -> None:
        self.geo = Geo(v6_xdb=settings.collector_geo_v6_xdb)
        self.agents = AgentParser(settings.collector_app_tokens)
        self.pseudonyms = Pseudonyms(secret, BEIJING_OFFSET_S)  # the salt turns at Beijing midnight
        self._eid_prefix = os.urandom(4).hex()
        self._eid_n = 0
        # Pay the parsers' and tables' first-use costs now, not in the first requests.
        self.agents.classify("Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/120.0.0.0 Safari/537.36")
        self.geo.lookup("8.8.8.8")

    def event_id(self) -> str:
        self._eid_n += 1
        return f"c{self._eid_prefix}{self._eid_n:x}"


class Collector:
    """Everything a running collector holds; `start()` starts the sender, `stop()` drains it."""

    def __init__(
        self,
        settings: Settings,
        registry: CollectorRegistry | None = None,
        producer_factory: Any = None,
        consumer_factory: Any = None,
        sender_process: bool = False,
    ) -> None:
        """`sender_process`: send from a child process (`edu-collect serve`); otherwise from a
        thread of this one (tests with fake producers, embedding)."""
        self.settings = settings
        self.dir = spool_dir(settings)
        self.dir.mkdir(parents=True, exist_ok=True)
        secret = load_secret(settings.collector_salt_file or self.dir / "secret")
        self.enricher = Enricher(settings, secret)
        self.addresses = ClientAddress(settings.collector_trusted_proxies)
        self.limiter = RateLimiter(settings.collector_rate_per_address, settings.collector_rate_burst)
        self.registry = registry or CollectorRegistry()
        self.metrics = CollectorMetrics.create(self.registry)
        ck_path = self.dir / "checkpoint.json"
        ck = Checkpoint.load(ck_path)
        self.journal = Journal(self.dir / "journal", first_seq=(ck.seq + 1) if ck else 1)
        ck = start_checkpoint(self.journal, ck_path)
        self.topics = [settings.topic_clicks, settings.topic_sessions]
        self.sender: Sender | SenderProcess
        if sender_process and producer_factory is None and consumer_factory is None:
            self.sender = SenderProcess(settings, self.dir, self.topics, ck)
        else:
            self.sender = Sender(
                self.journal,
                self.topics,
                producer_factory or kafka_producer_factory(settings),
                consumer_factory or kafka_consumer_factory(settings),
                ck_path,
            )
        self._sent_counted = 0
        self._fsync_stop = threading.Event()

    # ---------------------------------------------------------------------------- lifecycle
    def start(self) -> None:
        self.sender.start()
        if self.settings.collector_fsync_s > 0:
            threading.Thread(target=self._fsync_loop, name="collector-fsync", daemon=True).start()
        if isinstance(self.sender, SenderProcess):
            threading.Thread(target=self._watch_sender, name="collector-sender-watch", daemon=True).start()

    def stop(self, timeout: float = 30.0) -> None:
        self._fsync_stop.set()
        self.sender.stop(timeout)
        self.journal.close()

    def _fsync_loop(self) -> None:
        while not self._fsync_stop.wait(self.settings.collector_fsync_s):
            self.journal.sync()

    def _watch_sender(self) -> None:
        """A sender process that died is replaced (the journal keeps what it had not sent)."""
        assert isinstance(self.sender, SenderProcess)
        while not self._fsync_stop.wait(1.0):
            self.sender.restart_if_dead()

    # --------------------------------------------------------------------------------- state
    def spool_bytes(self) -> int:
        _, segment, offset = self.sender.position
        return self.journal.bytes_after(segment, offset)

    def spool_full(self) -> bool:
        return self.spool_bytes() >= self.settings.collector_spool_max_bytes

    def depth_records(self) -> int:
        """Accepted records Kafka has not acknowledged yet."""
        return max(0, self.journal.next_seq - 1 - self.sender.position[0])

    def refresh_gauges(self) -> None:
        self.metrics.spool_records.set(self.depth_records())
        self.metrics.spool_bytes.set(self.spool_bytes())
        self.metrics.kafka_connected.set(1 if self.sender.connected else 0)
        acked = self.sender.sent_acked
        if acked > self._sent_counted:
            self.metrics.sent.inc(acked - self._sent_counted)
            self._sent_counted = acked

    def health(self) -> dict[str, Any]:
        return {
            "status": "ok",
            "kafka_connected": self.sender.connected,
            "spool_records": self.depth_records(),
            "spool_bytes": self.spool_bytes(),
            "spool_full": self.spool_full(),
            "last_error": self.sender.last_error,
            "sender_restarts": getattr(self.sender, "restarts", 0),
            "ip2region_created": self.enricher.geo.v4.created_at,
        }

    # ----------------------------------------------------------------------------- the path
    def accept(
        self, body: bytes, *, address: str | None, user_agent: str, sent_ms: int | None, now_ms: int | None = None
    ) -> Outcome:
        """Decode, enrich and journal one request's events; raises SpoolFull before journaling."""
        s = self.settings
        items, refusals = intake.decode(body, s.collector_max_batch_events)
        out = Outcome(refusals=refusals)
        if not items:
            return out
        en = self.enricher
        agent = en.agents.classify(user_agent)
        if agent.bot:
            out.bots = len(items)
            self.metrics.child(self.metrics.bots, "http").inc(len(items))
            return out
        region = en.geo.lookup(address) if address else None
        if region is None or region.refusal is not None:
            reason = region.refusal if region is not None else "no_address"
            out.refusals.extend(
                Refusal(i, "address", reason or "unknown_region", "no province can be found for the client's address")
                for i, _ in items
            )
            return out
        now = now_ms if now_ms is not None else int(time.time() * 1000)
        skew = now - sent_ms if sent_ms is not None else 0
        ua = user_agent[:512]
        clicks: list[Event] = []
        sessions: list[Event] = []
        visitors: dict[str, str] = {}
        user: str | None  # a str once a branch below is done
        idents: dict[tuple[str, str | None, str | None], tuple[str, str]] = {}
        ps = en.pseudonyms
        for i, ev in items:
            ts = intake.event_time(ev, now, skew)
            if ts is None:
                out.refusals.append(Refusal(i, "ts", "time", "event time more than a day old or in the future"))
                continue
            ident = (ev.platform, ev.pid, ev.session)  # a batch is mostly one client: hash once
            pair = idents.get(ident)
            if pair is None:
                if ev.pid is not None:
                    user = ps.platform_id(ev.pid)
                else:
                    user = visitors.get(ev.platform)
                    if user is None:
                        user = visitors[ev.platform] = ps.visitor(now, ev.platform, address or "", ua)
                pair = idents[ident] = (user, ps.session(now, user, ev.session))
            user, session = pair
            event = intake.build(
                ev,
                eid=ev.id or en.event_id(),
                ts=ts,
                province=region.province or "",
                country=region.country,
                user=user,
                session=session,
                device=agent.device,
            )
            (clicks if event.__class__ is Click else sessions).append(event)
        if clicks or sessions:
            if self.spool_full():
                raise SpoolFull()
            for topic, events in ((TOPIC_CLICKS, clicks), (TOPIC_SESSIONS, sessions)):
                if events:
                    self.journal.append(
                        topic, events[0].session.encode(), encode(events[0] if len(events) == 1 else events)
                    )
            out.accepted = len(clicks) + len(sessions)
            m = self.metrics
            m.child(m.accepted, "http").inc(out.accepted)
            m.child(m.clients, agent.device, agent.browser).inc(out.accepted)
        return out

    def journal_events(self, events: list[Event]) -> None:
        """Journal ready-made contract events (the log importer), grouped by topic; one session each."""
        clicks = [e for e in events if e.__class__ is Click]
        sessions = [e for e in events if e.__class__ is not Click]
        for topic, evs in ((TOPIC_CLICKS, clicks), (TOPIC_SESSIONS, sessions)):
            if evs:
                self.journal.append(topic, evs[0].session.encode(), encode(evs[0] if len(evs) == 1 else evs))
