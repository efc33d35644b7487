"""`sink_offsets`: the next Kafka offset to read, per sink group × topic × partition.

The sink writes a batch's rows, then these offsets; on start it seeks to them instead of trusting
Kafka's committed offsets, so a batch stored just before a crash is not stored again. Queried only
by key (`consumer, topic`), hence that ORDER BY; ReplacingMergeTree keeps the highest offset.
"""
from __future__ import annotations

TABLE = "sink_offsets"
COLUMNS = ("consumer", "topic", "partition", "next_offset")


def create_sql(database: str) -> str:
    return f"""
CREATE TABLE IF NOT EXISTS {database}.{TABLE} (
    consumer String,
    topic String,
    partition UInt32,
    next_offset UInt64
) ENGINE = ReplacingMergeTree(next_offset)
ORDER BY (consumer, topic, partition)
"""


NEXT_OFFSETS = f"""
SELECT partition, max(next_offset) FROM {{db}}.{TABLE}
WHERE consumer = %(consumer)s AND topic = %(topic)s
GROUP BY partition
"""
