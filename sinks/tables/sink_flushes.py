"""`sink_flushes`: the sink's write-ahead log, one row before each insert of a flush (`sinks/ledger.py`).

A row names the flush (sink group, topic, the next offset per rates partition it ends at), the step
about to run (its index and `table/day` key) and, per table the step writes, the highest block number
of that table's parts just before it (`state` 0), or, once an uncertain step is settled, which of its
tables it did store (`state` 1, `detail` = those tables). Read only by key (`latest`: the newest row
of one sink group and topic), hence that ORDER BY; ReplacingMergeTree by `seq` keeps the newest.
"""

from __future__ import annotations

from typing import Final

from sinks.tables import TableDef

TABLE = "sink_flushes"
COLUMNS = ("consumer", "topic", "seq", "ends", "step", "step_key", "state", "detail", "written_at")
PENDING, SETTLED = 0, 1

DEFINITION: Final = TableDef(
    name=TABLE,
    columns=(
        ("consumer", "String"),
        ("topic", "String"),
        ("seq", "UInt64"),
        ("ends", "String"),
        ("step", "UInt32"),
        ("step_key", "String"),
        ("state", "UInt8"),
        ("detail", "String"),
        ("written_at", "DateTime"),
    ),
    engine="ReplacingMergeTree",
    engine_args="seq",
    order_by="(consumer, topic)",
    shard_by="cityHash64(consumer, topic)",
)
assert DEFINITION.column_names == COLUMNS


def create_sql(database: str) -> str:
    return DEFINITION.create_sql(database)


LATEST = f"""
SELECT argMax(ends, seq), argMax(step, seq), argMax(step_key, seq), argMax(state, seq),
       argMax(detail, seq), max(seq)
FROM {{db}}.{TABLE}
WHERE consumer = %(consumer)s AND topic = %(topic)s
"""

# Every flush-log key of a topic: a sink group's own, and its instances' (`group@I/N`)
KEYS = f"SELECT DISTINCT consumer FROM {{db}}.{TABLE} WHERE topic = %(topic)s"

# The highest block number of a table's parts (active or merged away: a merge keeps the highest):
# a part inserted after a reading has a higher one (non-replicated MergeTree numbers inserts in order).
MAX_BLOCK = """
SELECT table, max(max_block_number) FROM system.parts
WHERE database = %(db)s AND table IN %(tables)s
GROUP BY table
"""

QUERIES: Final[dict[str, str]] = {}  # LATEST, KEYS and MAX_BLOCK are the sink's own, not named queries
