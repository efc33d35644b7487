"""The alert log: state changes, acknowledgements and silences from the alerts topic."""

from __future__ import annotations

VERSION = 4

# Frozen DDL: this migration means the same whatever the table modules become later.
STATEMENTS = (
    """CREATE TABLE IF NOT EXISTS {db}.alert_log (
    at DateTime('Asia/Shanghai'),
    fingerprint String,
    alertname String,
    kind String,
    old_state String,
    new_state String,
    severity String,
    value Float64,
    labels String,
    annotations String,
    silenced UInt8,
    author String,
    comment String
) ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(at)
ORDER BY (at, fingerprint, kind, new_state)""",
)


def statements(database: str) -> list[str]:
    return [s.replace("{db}", database) + "\n" for s in STATEMENTS]
