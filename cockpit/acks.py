"""Acknowledgements and silences: an operator's "I have this one" / "quiet for a while".

The cockpit never writes the store: it produces an "ack" or "silence" `StateChange` to the alerts
topic, which the sink logs like any other change, so the alert service, the cockpit and a replay
all read one history.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from cockpit.alert_log import ACTIVE_STATES, SILENCE_ENDS, SILENCE_STARTS, AlertNow, alerts_end, parse_current
from cockpit.queries import Queries
from contracts.alerts import Severity, State, StateChange

log = logging.getLogger(__name__)

SEND_TIMEOUT_S = 10.0
MAX_COMMENT = 500
SILENCE_DURATIONS_S: tuple[int, ...] = (15 * 60, 3600, 4 * 3600, 24 * 3600)  # what the alerts page offers


class Producer(Protocol):
    def send(self, topic: str, value: bytes | None = None, key: bytes | None = None) -> Any: ...


class AckError(Exception):
    """Why an acknowledgement was refused: `status` is the HTTP status to answer with."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class AckResult:
    change: StateChange
    topic: str


def kafka_producer_factory(settings: Any) -> Callable[[], Producer]:
    """The Kafka producer, made on first use: the cockpit starts without a broker (tests inject a fake)."""

    def make() -> Producer:
        from kafka import KafkaProducer

        return KafkaProducer(
            bootstrap_servers=settings.kafka_bootstrap.split(","), acks="all", client_id="edu-cockpit-acks"
        )

    return make


class AckRecorder:
    """Looks the alert up, builds the "ack" or "silence" StateChange and produces it, keyed by the
    alert's fingerprint, to `settings.topic_alerts`; one per app."""

    def __init__(
        self,
        queries: Queries,
        topic: str,
        producer_factory: Callable[[], Producer],
        durations: tuple[int, ...] = SILENCE_DURATIONS_S,
    ) -> None:
        self.queries = queries
        self.durations = tuple(durations) or SILENCE_DURATIONS_S
        self.topic = topic
        self._factory = producer_factory
        self._producer: Producer | None = None
        self._lock = threading.Lock()

    @property
    def producer(self) -> Producer:
        with self._lock:
            if self._producer is None:
                self._producer = self._factory()
            return self._producer

    def current(self, fingerprint: str) -> AlertNow | None:
        """The alert's latest state change, straight from the store (not the page cache)."""
        now = self.queries.latest_minute()
        rows = self.queries._query("alerts_current", {"end": alerts_end(now)})  # uncached: act on the truth
        return next((a for a in parse_current(rows) if a.fingerprint == fingerprint), None)

    def build(
        self,
        alert: AlertNow,
        author: str,
        comment: str,
        now: int | None,
        kind: str = "ack",
        extra: dict[str, str] | None = None,
    ) -> StateChange:
        """The record, complete: name, state, severity, value, labels and annotations copied from the
        alert's latest state change. Its time is event time (the cockpit's "now", never before the
        change it acknowledges), so a replayed scenario keeps one clock."""
        at = max(alert.at, now if now is not None else alert.at)
        state = State(alert.state)
        return StateChange(
            at=float(at),
            fingerprint=alert.fingerprint,
            alertname=alert.alertname,
            kind=kind,
            old_state=state,
            new_state=state,
            severity=Severity(alert.severity),
            value=alert.value,
            labels=dict(alert.labels),
            annotations={**alert.annotations, **(extra or {})},
            silenced=kind == "silence",
            author=author,
            comment=comment,
        )

    def acknowledge(self, fingerprint: str, author: str, comment: str = "") -> AckResult:
        alert = self._active(fingerprint, author, "an acknowledgement", "acknowledged")
        change = self.build(alert, author, comment.strip()[:MAX_COMMENT], self.queries.latest_minute())
        return self._produce(change)

    def silence(self, fingerprint: str, author: str, duration_s: int, comment: str = "") -> AckResult:
        """Silence one firing or pending alert for `duration_s` (one of SILENCE_DURATIONS_S) from the
        cockpit's event-time "now".

        The record's labels are the alert's (the silence's matchers: exactly this alert); its window
        travels in two annotations next to the alert's own, `silence_starts_at` and `silence_ends_at`
        (epoch seconds, event time), which is what `alerts.lifecycle.AlertBook.silence` takes."""
        if duration_s not in self.durations:
            raise AckError(400, f"a silence lasts one of {list(self.durations)} seconds")
        alert = self._active(fingerprint, author, "a silence", "silenced")
        now = self.queries.latest_minute()
        start = max(alert.at, now if now is not None else alert.at)
        window = {SILENCE_STARTS: str(start), SILENCE_ENDS: str(start + duration_s)}
        return self._produce(self.build(alert, author, comment.strip()[:MAX_COMMENT], now, "silence", window))

    def _active(self, fingerprint: str, author: str, what: str, done: str) -> AlertNow:
        if not author.strip():
            raise AckError(401, f"{what} needs an operator")
        alert = self.current(fingerprint)
        if alert is None:
            raise AckError(404, "no such alert")
        if alert.state not in ACTIVE_STATES:
            raise AckError(409, f"the alert is {alert.state}: only firing or pending alerts are {done}")
        return alert

    def _produce(self, change: StateChange) -> AckResult:
        try:
            future = self.producer.send(self.topic, value=change.encode(), key=change.fingerprint.encode())
            if hasattr(future, "get"):
                future.get(timeout=SEND_TIMEOUT_S)  # the broker has it before we say so
        except Exception as err:
            log.exception("%s of %s could not be produced", change.kind, change.fingerprint)
            raise AckError(502, f"the alerts topic is unavailable: {type(err).__name__}") from err
        return AckResult(change, self.topic)
