"""`schema_migrations`: which numbered migrations ran, so running them again is a no-op."""
from __future__ import annotations

TABLE = "schema_migrations"


def create_sql(database: str) -> str:
    return f"""
CREATE TABLE IF NOT EXISTS {database}.{TABLE} (
    version UInt32,
    name String,
    applied_at DateTime
) ENGINE = ReplacingMergeTree()
ORDER BY version
"""


APPLIED = f"SELECT DISTINCT version FROM {{db}}.{TABLE} ORDER BY version"
