"""Alert lifecycle: inactive -> pending -> firing -> resolved, with hold time, repeats, acks, silences.

As in Prometheus' `rules/alerting.go`, the caller chooses when to evaluate and passes the clock in, so
a replay at 60x event time and a test with a fake clock behave as live and nothing sleeps. Pending
becomes firing after `for_s` (or vanishes); a firing alert whose condition goes false is kept for
`hold_s` (`keep_firing_for`), then resolved. Notifications: on firing, every `repeat_s` unless
acknowledged or silenced, on resolving (if the firing was delivered), and a `refresh` keep-alive every
`refresh_s` for Alertmanager. Silences suppress delivery, not evaluation (a still-firing alert is
delivered once its silence ends). Every decision is returned as a `StateChange`.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from alerts.model import Ack, Alert, Notification, Silence, check_labels, fingerprint
from contracts.alerts import Severity, State, StateChange


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    severity: Severity = Severity.WARNING
    for_s: float = 300.0
    hold_s: float = 300.0
    repeat_s: float = 4 * 3600.0
    refresh_s: float = 60.0  # keep-alive to Alertmanager for firing alerts, also when acknowledged
    resolved_retention_s: float = 900.0  # resolved alerts are forgotten after this


@dataclass(frozen=True, slots=True)
class Candidate:
    """A series for which a rule's condition is true at this evaluation."""

    labels: Mapping[str, str]
    annotations: Mapping[str, str] = field(default_factory=dict)
    value: float = 0.0


@dataclass(slots=True)
class Evaluation:
    changes: list[StateChange] = field(default_factory=list)
    notifications: list[Notification] = field(default_factory=list)


class AlertBook:
    """All alerts of all rules, keyed by fingerprint; the silences and acknowledgements."""

    def __init__(self) -> None:
        self.alerts: dict[str, Alert] = {}
        self.silences: dict[str, Silence] = {}
        self._silence_ids = itertools.count(1)

    # ---------------------------------------------------------------- evaluation
    def evaluate(self, rule: Rule, candidates: Iterable[Candidate], now: float) -> Evaluation:
        """Advance every alert of `rule` to `now` given the series whose condition holds."""
        out = Evaluation()
        seen: set[str] = set()
        for c in candidates:
            labels = check_labels({**c.labels, "alertname": rule.name, "severity": rule.severity.value})
            fp = fingerprint(labels)
            seen.add(fp)
            a = self.alerts.get(fp)
            if a is None or a.state in (State.INACTIVE, State.RESOLVED):
                a = Alert(labels, dict(c.annotations), fp, rule.severity)
                self.alerts[fp] = a
                a.active_since = now
                self._move(a, State.PENDING, now, out)
            a.annotations, a.value, a.last_active = dict(c.annotations), c.value, now
            if a.state is State.PENDING and a.active_since is not None and now - a.active_since >= rule.for_s:
                a.fired_at = now
                self._move(a, State.FIRING, now, out)
        for fp, a in list(self.alerts.items()):
            if a.name != rule.name or fp in seen:
                continue
            if a.state is State.PENDING:
                self._move(a, State.INACTIVE, now, out)
                del self.alerts[fp]
            elif a.state is State.FIRING and a.last_active is not None and now - a.last_active >= rule.hold_s:
                a.resolved_at = now
                self._move(a, State.RESOLVED, now, out)
            elif (
                a.state is State.RESOLVED
                and a.resolved_at is not None
                and now - a.resolved_at >= rule.resolved_retention_s
            ):
                del self.alerts[fp]
        self._notify(rule, now, out)
        return out

    def _move(self, a: Alert, new: State, now: float, out: Evaluation) -> None:
        old, a.state = a.state, new
        out.changes.append(
            StateChange(
                now,
                a.fingerprint,
                a.name,
                "state",
                old,
                new,
                a.severity,
                a.value,
                dict(a.labels),
                dict(a.annotations),
                self.silenced(a.labels, now),
            )
        )

    def _notify(self, rule: Rule, now: float, out: Evaluation) -> None:
        for a in self.alerts.values():
            if a.name != rule.name:
                continue
            if a.state is State.FIRING:
                if self.silenced(a.labels, now):
                    continue
                due = a.last_notified is None or (a.ack is None and now - a.last_notified >= rule.repeat_s)
                if due:
                    out.notifications.append(self._notification(a, "firing", now, repeat=a.last_notified is not None))
                    a.last_notified = a.last_refreshed = now
                elif a.last_refreshed is not None and now - a.last_refreshed >= rule.refresh_s:
                    out.notifications.append(self._notification(a, "firing", now, refresh=True))
                    a.last_refreshed = now
            elif a.state is State.RESOLVED and a.resolved_at == now and a.last_notified is not None:
                out.notifications.append(self._notification(a, "resolved", now))
                a.ack = None

    @staticmethod
    def _notification(a: Alert, status: str, now: float, repeat: bool = False, refresh: bool = False) -> Notification:
        extra = {"acknowledged_by": a.ack.author} if a.ack else {}
        starts = a.fired_at if a.fired_at is not None else now
        return Notification(
            status,
            a.fingerprint,
            dict(a.labels),
            dict(a.annotations),
            starts,
            a.resolved_at if status == "resolved" else None,
            now,
            repeat,
            refresh,
            extra,
        )

    # ---------------------------------------------------------------- people
    def acknowledge(self, fp: str, author: str, now: float, comment: str = "") -> StateChange:
        """Record who took the alert; stops repeated notifications until it resolves."""
        if not author.strip():
            raise ValueError("an acknowledgement needs an author")
        a = self.alerts.get(fp)
        if a is None or a.state not in (State.PENDING, State.FIRING):
            raise KeyError(f"no pending or firing alert {fp}")
        a.ack = Ack(author, now, comment)
        return StateChange(
            now,
            fp,
            a.name,
            "ack",
            a.state,
            a.state,
            a.severity,
            a.value,
            dict(a.labels),
            dict(a.annotations),
            self.silenced(a.labels, now),
            author,
            comment,
        )

    def silence(
        self, matchers: Mapping[str, str], starts_at: float, ends_at: float, author: str, comment: str = ""
    ) -> Silence:
        if ends_at <= starts_at:
            raise ValueError("a silence must end after it starts")
        if not author.strip():
            raise ValueError("a silence needs an author")
        if not matchers:
            raise ValueError("a silence needs at least one matcher")
        s = Silence(f"s{next(self._silence_ids)}", dict(check_labels(matchers)), starts_at, ends_at, author, comment)
        self.silences[s.id] = s
        return s

    def expire(self, silence_id: str, now: float) -> None:
        s = self.silences[silence_id]
        self.silences[silence_id] = Silence(
            s.id, s.matchers, s.starts_at, max(s.starts_at, min(s.ends_at, now)), s.author, s.comment
        )

    def silenced(self, labels: Mapping[str, str], now: float) -> bool:
        return any(s.active(now) and s.matches(labels) for s in self.silences.values())

    def prune_silences(self, now: float) -> None:
        for sid in [sid for sid, s in self.silences.items() if s.ends_at <= now]:
            del self.silences[sid]

    # ---------------------------------------------------------------- views
    def firing(self, name: str | None = None) -> list[Alert]:
        return [a for a in self.alerts.values() if a.state is State.FIRING and (name is None or a.name == name)]

    def get(self, fp: str) -> Alert | None:
        return self.alerts.get(fp)
