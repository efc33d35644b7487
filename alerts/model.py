"""Alert identity and records, after Prometheus/Alertmanager's model.

Why: an alert *is* its label set. The fingerprint of the labels (FNV-1a 64 over sorted name/value
pairs, as `prometheus/common/model` does) names it across evaluations, restarts, the alerts topic,
ClickHouse and Alertmanager, so no id has to be stored anywhere. Free text (summary, explanation,
ratios) goes in annotations, which may change while the alert lives without changing its identity.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from contracts.alerts import Severity, State

_FNV_OFFSET = 0xCBF29CE484222325
_FNV_PRIME = 0x100000001B3
_SEP = 0xFF
LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


def fingerprint(labels: Mapping[str, str]) -> str:
    """16 hex digits, FNV-1a 64 over `name 0xff value 0xff` of the labels sorted by name."""
    h = _FNV_OFFSET
    for name in sorted(labels):
        for part in (name.encode(), labels[name].encode()):
            for byte in part:
                h = ((h ^ byte) * _FNV_PRIME) & 0xFFFFFFFFFFFFFFFF
            h = ((h ^ _SEP) * _FNV_PRIME) & 0xFFFFFFFFFFFFFFFF
    return f"{h:016x}"


def check_labels(labels: Mapping[str, str]) -> dict[str, str]:
    """A copy with string values; raises on names Prometheus would refuse."""
    out: dict[str, str] = {}
    for k, v in labels.items():
        if not LABEL_NAME.match(k):
            raise ValueError(f"invalid label name {k!r}")
        out[k] = str(v)
    return out


@dataclass(frozen=True, slots=True)
class Ack:
    author: str
    at: float
    comment: str = ""


@dataclass(frozen=True, slots=True)
class Silence:
    """Suppresses delivery of alerts whose labels equal every matcher, from starts_at to ends_at."""

    id: str
    matchers: Mapping[str, str]
    starts_at: float
    ends_at: float
    author: str
    comment: str = ""

    def active(self, now: float) -> bool:
        return self.starts_at <= now < self.ends_at

    def matches(self, labels: Mapping[str, str]) -> bool:
        return all(labels.get(k) == v for k, v in self.matchers.items())


@dataclass(slots=True)
class Alert:
    """One alert's mutable state inside the book (see lifecycle.AlertBook)."""

    labels: dict[str, str]
    annotations: dict[str, str]
    fingerprint: str
    severity: Severity
    state: State = State.INACTIVE
    value: float = 0.0
    active_since: float | None = None  # condition first true in this incident (pending start)
    last_active: float | None = None  # last evaluation with the condition true
    fired_at: float | None = None
    resolved_at: float | None = None
    last_notified: float | None = None  # last firing notification delivered (not silenced)
    last_refreshed: float | None = None  # last keep-alive for Alertmanager
    ack: Ack | None = None

    @property
    def name(self) -> str:
        return self.labels.get("alertname", "")


@dataclass(frozen=True, slots=True)
class Notification:
    """What delivery sends: a firing (first or repeated) or resolved alert, detached from the book."""

    status: str  # "firing" or "resolved"
    fingerprint: str
    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    starts_at: float  # event time the alert started firing
    ends_at: float | None  # event time it resolved
    at: float  # event time of the evaluation that produced it
    repeat: bool = False  # a reminder of an alert already delivered (repeat interval)
    refresh: bool = False  # keep-alive for Alertmanager only; people are not told again
    extra: Mapping[str, str] = field(default_factory=dict)
