"""`block_tag`: a per-step value in every summed table the sink writes and in the two rollups (issue 17).

Replicated tables drop an inserted block equal to a recent one; ClickHouse 18.16 compares whole
blocks, so two different flushes that formed the same block were stored once (measured: 3 of 80
rejects on the cluster's kill loop). The ledger now writes a value derived from the flush and step
into this column (sinks/tables/__init__.py, BLOCK_TAG); the views carry it into the rollups.

The views are dropped and created again with the new SELECT: run this with the sinks stopped, as
every migration runs (`edu-sink migrate`, or a sink's own start before it consumes). 18.16 has no
`ADD COLUMN IF NOT EXISTS`: the runners skip an ADD COLUMN whose column exists (sinks/migrate.py),
so a re-run after a crash is harmless.
"""

from __future__ import annotations

VERSION = 8

_TABLES = (
    "clicks_minute",
    "late_events",
    "clicks_hour",
    "rejects_minute",
    "tiles_10s",
    "resources_minute",
    "sessions_minute",
    "countries_minute",
    "clicks_day",
)

# Frozen DDL: the columns, then each view dropped and created again with the tag.
STATEMENTS = (
    *(f"ALTER TABLE {{db}}.{t} ADD COLUMN block_tag UInt64" for t in _TABLES),
    "DROP TABLE IF EXISTS {db}.clicks_hour_mv",
    """CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.clicks_hour_mv TO {db}.clicks_hour AS
SELECT toStartOfHour(minute) AS hour, platform, province, section, sum(clicks) AS clicks, max(block_tag) AS block_tag
FROM {db}.clicks_minute
GROUP BY hour, platform, province, section""",
    "DROP TABLE IF EXISTS {db}.clicks_day_mv",
    """CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.clicks_day_mv TO {db}.clicks_day AS
SELECT toStartOfDay(minute) AS day, platform, province, section, sum(clicks) AS clicks, max(block_tag) AS block_tag
FROM {db}.clicks_minute
GROUP BY day, platform, province, section""",
)


def statements(database: str) -> list[str]:
    return [s.replace("{db}", database) + "\n" for s in STATEMENTS]
