"""The alert log (`sinks.tables.alert_log`) as the pages read it: each alert's current state
(`AlertNow`), the changes, acknowledgements and silences (`AlertChange`), and their ordering.

Labels and annotations are stored as JSON; a malformed value reads as empty, never as an error.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from cockpit.timeframe import MINUTE

ACTIVE_STATES = ("firing", "pending")
SILENCE_STARTS, SILENCE_ENDS = "silence_starts_at", "silence_ends_at"  # a silence's window (cockpit.acks)
SEVERITY_ORDER = {"critical": 0, "warning": 1, "info": 2}
STATE_ORDER = {"firing": 0, "pending": 1, "resolved": 2}


def _json(text: Any) -> dict[str, str]:
    try:
        value = json.loads(text) if text else {}
    except (TypeError, ValueError):
        return {}
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else {}


def as_float(text: str | None) -> float | None:
    """An annotation's number, or None when it is missing or not a number."""
    try:
        return float(text) if text is not None and text != "" else None
    except ValueError:
        return None


@dataclass(frozen=True)
class AlertNow:
    """An alert's latest state change (`alerts_current`)."""

    fingerprint: str
    alertname: str
    state: str
    severity: str
    at: int
    value: float
    labels: dict[str, str]
    annotations: dict[str, str]

    @property
    def province(self) -> str | None:
        return self.labels.get("province")

    @property
    def ratio(self) -> float | None:
        """The surge ratio against the baseline, when the alert's annotations carry one."""
        return as_float(self.annotations.get("ratio"))

    @property
    def summary(self) -> str:
        return self.annotations.get("summary", "")


@dataclass(frozen=True)
class AlertChange:
    """One line of the alert log (`alerts_history`): a state change, acknowledgement or silence."""

    at: int
    fingerprint: str
    alertname: str
    kind: str
    old_state: str
    new_state: str
    severity: str
    value: float
    labels: dict[str, str]
    annotations: dict[str, str]
    author: str
    comment: str


def parse_current(rows: Iterable[Sequence[Any]]) -> list[AlertNow]:
    return [
        AlertNow(str(fp), str(name), str(state), str(sev), int(at), float(value), _json(labels), _json(ann))
        for fp, name, state, sev, at, value, labels, ann in rows
    ]


def parse_history(rows: Iterable[Sequence[Any]]) -> list[AlertChange]:
    return [
        AlertChange(
            int(at),
            str(fp),
            str(name),
            str(kind),
            str(old),
            str(new),
            str(sev),
            float(value),
            _json(labels),
            _json(ann),
            str(author),
            str(comment),
        )
        for at, fp, name, kind, old, new, sev, value, labels, ann, author, comment in rows
    ]


def filter_alerts(
    alerts: Iterable[AlertNow], states: Iterable[str] | None = None, severities: Iterable[str] | None = None
) -> list[AlertNow]:
    """Alerts in the chosen states and severities (None: any), firing before pending before resolved,
    then by severity, then the latest change first."""
    st = set(states) if states is not None else None
    sv = set(severities) if severities is not None else None
    kept = [a for a in alerts if (st is None or a.state in st) and (sv is None or a.severity in sv)]
    return sorted(
        kept, key=lambda a: (STATE_ORDER.get(a.state, 9), SEVERITY_ORDER.get(a.severity, 9), -a.at, a.fingerprint)
    )


def alerts_end(now: int | None) -> int:
    """The end of the alert queries: after the event-time "now" minute, or everything while the store
    holds no clicks yet (alerts may still be logged)."""
    return now + MINUTE if now is not None else 2**31 - 1


def chart_episodes(
    history: Iterable[AlertChange], end: int
) -> tuple[list[tuple[int, int | None, str]], list[tuple[int, str, str]]]:
    """(episodes, actions) for the time-series annotations: each alert's firing..resolved runs
    (None end while it still fires at `end`) and its acks and silences, from the alert log."""
    episodes: list[tuple[int, int | None, str]] = []
    open_: dict[str, tuple[int, str]] = {}
    actions: list[tuple[int, str, str]] = []
    for c in sorted(history, key=lambda c: c.at):
        label = c.alertname + (f" · {c.labels['province']}" if c.labels.get("province") else "")
        if c.kind in ("ack", "silence"):
            actions.append((c.at, c.kind, c.comment or label))
        elif c.kind == "state" and c.new_state == "firing" and c.fingerprint not in open_:
            open_[c.fingerprint] = (c.at, label)
        elif c.kind == "state" and c.new_state == "resolved" and c.fingerprint in open_:
            at, lbl = open_.pop(c.fingerprint)
            episodes.append((at, c.at, lbl))
    episodes += [(at, None, lbl) for at, lbl in open_.values() if at < end]
    return episodes, actions
