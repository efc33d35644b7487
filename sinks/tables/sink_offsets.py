"""`sink_offsets`: the next Kafka offset to read, per sink group × topic × partition.

The sink writes a batch's rows, then these offsets; on start it seeks to them instead of trusting
Kafka's committed offsets, so a batch stored just before a crash is not stored again. Queried only
by key (`next_offsets`: consumer, topic), hence that ORDER BY; ReplacingMergeTree keeps the highest
offset and readers take `max` anyway. Tiny, never partitioned, never expired.
"""

from __future__ import annotations

from typing import Final

from sinks.tables import TableDef

TABLE = "sink_offsets"
COLUMNS = ("consumer", "topic", "partition", "next_offset")

DEFINITION: Final = TableDef(
    name=TABLE,
    columns=(("consumer", "String"), ("topic", "String"), ("partition", "UInt32"), ("next_offset", "UInt64")),
    engine="ReplacingMergeTree",
    engine_args="next_offset",
    order_by="(consumer, topic, partition)",
    shard_by="cityHash64(consumer, topic)",
)
assert DEFINITION.column_names == COLUMNS


def create_sql(database: str) -> str:
    return DEFINITION.create_sql(database)


NEXT_OFFSETS = f"""
SELECT partition, max(next_offset) FROM {{db}}.{TABLE}
WHERE consumer = %(consumer)s AND topic = %(topic)s
GROUP BY partition
"""

QUERIES: Final[dict[str, str]] = {"next_offsets": NEXT_OFFSETS}
