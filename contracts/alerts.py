"""Alerts-topic contract v1: one alert state change, acknowledgement or silence.

Produced by `edu-alerts` (and by the cockpit for acks), stored by the sink in `alert_log`, read
back by the cockpit. One struct for all three, so a field added here is seen by every side.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any, Final

ALERTS_VERSION: Final = 1
MAX_CHANGE_BYTES: Final = 256 * 1024  # a state change is a few hundred bytes; anything larger is refused


class Severity(str, enum.Enum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


class State(str, enum.Enum):
    INACTIVE = "inactive"
    PENDING = "pending"
    FIRING = "firing"
    RESOLVED = "resolved"


KINDS: Final = ("state", "ack", "silence")


@dataclass(frozen=True, slots=True)
class StateChange:
    """One line of an alert's history: for the alerts topic and the ClickHouse alert log."""

    at: float  # event time of the evaluation (epoch s)
    fingerprint: str
    alertname: str
    kind: str  # "state", "ack" or "silence"
    old_state: State
    new_state: State
    severity: Severity
    value: float
    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    silenced: bool = False
    author: str = ""  # who acknowledged (kind "ack")
    comment: str = ""

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["labels"], d["annotations"] = dict(self.labels), dict(self.annotations)
        for k in ("old_state", "new_state", "severity"):
            d[k] = d[k].value
        return d

    def encode(self) -> bytes:
        """The alerts-topic message (JSON, versioned); the key should be the fingerprint."""
        return json.dumps({**self.to_dict(), "v": ALERTS_VERSION}, ensure_ascii=False, sort_keys=True).encode()


def _str_map(value: object, name: str) -> dict[str, str]:
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise ValueError(f"{name} must be an object of strings")
    return value


def decode_change(raw: bytes | None) -> StateChange | str:
    """The change in an alerts-topic message, or the reason it is refused (never raises)."""
    if raw is None:
        return "tombstone"
    if len(raw) > MAX_CHANGE_BYTES:
        return f"too large ({len(raw)} bytes)"
    try:
        d = json.loads(raw)
        if not isinstance(d, dict):
            return "not an object"
        if d.get("v", ALERTS_VERSION) != ALERTS_VERSION:
            return f"unknown version {d.get('v')!r}"
        kind = d["kind"]
        if kind not in KINDS:
            return f"unknown kind {kind!r}"
        at, value = float(d["at"]), float(d["value"])
        if not (at == at and value == value) or abs(at) > 1e11:  # NaN or absurd times
            return "bad number"
        texts = {k: d.get(k, "") for k in ("fingerprint", "alertname", "author", "comment")}
        if not all(isinstance(v, str) for v in texts.values()):
            return "text field is not a string"
        return StateChange(
            at=at,
            fingerprint=texts["fingerprint"],
            alertname=texts["alertname"],
            kind=kind,
            old_state=State(d["old_state"]),
            new_state=State(d["new_state"]),
            severity=Severity(d["severity"]),
            value=value,
            labels=_str_map(d["labels"], "labels"),
            annotations=_str_map(d["annotations"], "annotations"),
            silenced=bool(d.get("silenced", False)),
            author=texts["author"],
            comment=texts["comment"],
        )
    except (ValueError, KeyError, TypeError, RecursionError, OverflowError) as err:
        return f"invalid: {type(err).__name__}: {str(err)[:200]}"
