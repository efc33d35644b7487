"""`alert_log`: every alert state change (pending, firing, resolved), acknowledgement and silence.

Written by the sink from the alerts topic (`contracts.alerts.StateChange` JSON). Replaying the topic is
harmless: ReplacingMergeTree folds identical changes (same alert, time, kind and state) and the
queries group by that key anyway. Labels and annotations are JSON strings: an alert's identity is
its fingerprint; free text stays in the annotations.

Queries: `alerts_current` (each alert's latest change, for the firing/pending lists) and
`alerts_history` (changes in a range, newest first) scan `at`, the first key; partitioned by
month for retention.
"""

from __future__ import annotations

import json
from typing import Final

from contracts.alerts import StateChange
from sinks.tables import Retention, TableDef

TABLE = "alert_log"
COLUMNS = (
    "at",
    "fingerprint",
    "alertname",
    "kind",
    "old_state",
    "new_state",
    "severity",
    "value",
    "labels",
    "annotations",
    "silenced",
    "author",
    "comment",
)
DEFINITION: Final = TableDef(
    name=TABLE,
    columns=(
        ("at", "DateTime('Asia/Shanghai')"),
        ("fingerprint", "String"),
        ("alertname", "String"),
        ("kind", "String"),
        ("old_state", "String"),
        ("new_state", "String"),
        ("severity", "String"),
        ("value", "Float64"),
        ("labels", "String"),
        ("annotations", "String"),
        ("silenced", "UInt8"),
        ("author", "String"),
        ("comment", "String"),
    ),
    engine="ReplacingMergeTree",
    partition_by="toYYYYMM(at)",
    order_by="(at, fingerprint, kind, new_state)",
    shard_by="cityHash64(fingerprint)",
)
RETENTION: Final = Retention("retention_alerts_days", 400, "month")


def create_sql(database: str) -> str:
    return DEFINITION.create_sql(database)


def row(change: StateChange) -> tuple[object, ...]:
    """An alerts-topic change (`contracts.alerts.StateChange`) as a table row, in COLUMNS order."""
    return (
        int(change.at),
        change.fingerprint,
        change.alertname,
        change.kind,
        change.old_state.value,
        change.new_state.value,
        change.severity.value,
        float(change.value),
        json.dumps(dict(change.labels), ensure_ascii=False, sort_keys=True),
        json.dumps(dict(change.annotations), ensure_ascii=False, sort_keys=True),
        int(change.silenced),
        change.author,
        change.comment,
    )


ALERTS_CURRENT = f"""
SELECT fingerprint, argMax(alertname, at), argMax(new_state, at), argMax(severity, at),
       toUInt32(max(at)), argMax(value, at), argMax(labels, at), argMax(annotations, at)
FROM (SELECT DISTINCT * FROM {{db}}.{TABLE} WHERE kind = 'state' AND at < toDateTime(%(end)s))
GROUP BY fingerprint ORDER BY max(at) DESC, fingerprint
"""
ALERTS_HISTORY = f"""
SELECT DISTINCT toUInt32(at), fingerprint, alertname, kind, old_state, new_state, severity, value,
       labels, annotations, author, comment
FROM {{db}}.{TABLE}
WHERE at >= toDateTime(%(start)s) AND at < toDateTime(%(end)s)
ORDER BY toUInt32(at) DESC, fingerprint, kind, new_state LIMIT %(limit)s
"""
QUERIES: Final[dict[str, str]] = {"alerts_current": ALERTS_CURRENT, "alerts_history": ALERTS_HISTORY}
