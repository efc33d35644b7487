"""`rejects_minute`: the dead-letter ledger: refused events per minute and reason.

The workers send each refused message or event to the dead-letter topic (with its payload) and
count it by reason in the rate batch (`RateBatch.rejects`); the sink stores those counts here, in
the same flush as the batch's clicks, so "sent = stored + late + rejected" can be checked from
ClickHouse alone. The minute is the batch's `rejects_at_ms` floored: its watermark (event time), or
the broker time of the first refused record when the partition has no valid event yet (never 1970). Reason is a String, not an Enum8: a new reason in a worker must not
break the sink.

Queries that justify the layout: `rejects_by_reason` over a minute range (today, the last hour),
hence ORDER BY `minute` first and partitions by Beijing day, which retention drops whole.
"""

from __future__ import annotations

from typing import Final

from sinks.tables import BLOCK_TAG, BLOCK_TAG_COLUMN, Retention, TableDef

TABLE = "rejects_minute"
COLUMNS = ("minute", "reason", "events")

DEFINITION: Final = TableDef(
    name=TABLE,
    columns=(
        ("minute", "DateTime('Asia/Shanghai')"),
        ("reason", "String"),
        ("events", "UInt64"),
        BLOCK_TAG_COLUMN,
    ),
    engine="SummingMergeTree",
    engine_args="(events)",
    partition_by="toYYYYMMDD(minute)",
    order_by="(minute, reason)",
    shard_by="cityHash64(reason)",
)
RETENTION: Final = Retention("retention_rejects_days", 30, "day")
assert DEFINITION.column_names == (*COLUMNS, BLOCK_TAG)


def create_sql(database: str) -> str:
    return DEFINITION.create_sql(database)


REJECTS_BY_REASON = f"""
SELECT reason, sum(events) AS events
FROM {{db}}.{TABLE}
WHERE minute >= toDateTime(%(start)s) AND minute < toDateTime(%(end)s)
GROUP BY reason ORDER BY reason
"""

QUERIES: Final[dict[str, str]] = {"rejects_by_reason": REJECTS_BY_REASON}
