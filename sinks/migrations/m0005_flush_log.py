"""The sink's write-ahead log of flush steps (`sink_flushes`), for exact counts through a crash."""

from __future__ import annotations

VERSION = 5

_SQL = """
CREATE TABLE IF NOT EXISTS {db}.sink_flushes (
    consumer String,
    topic String,
    seq UInt64,
    ends String,
    step UInt32,
    step_key String,
    state UInt8,
    detail String,
    written_at DateTime
) ENGINE = ReplacingMergeTree(seq)
ORDER BY (consumer, topic)
"""


def statements(database: str) -> list[str]:
    # Frozen DDL (not today's builder): this migration must mean the same forever.
    return [_SQL.format(db=database)]
