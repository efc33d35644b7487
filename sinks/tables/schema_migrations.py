"""`schema_migrations`: which numbered migrations ran, so running them again is a no-op.

Read whole (`applied`), written once per migration; ReplacingMergeTree by `version` folds a version
recorded twice (a crash between a migration's last statement and its record re-runs it, harmlessly).
"""

from __future__ import annotations

from typing import Final

from sinks.tables import TableDef

TABLE = "schema_migrations"
COLUMNS = ("version", "name", "applied_at")

DEFINITION: Final = TableDef(
    name=TABLE,
    columns=(("version", "UInt32"), ("name", "String"), ("applied_at", "DateTime")),
    engine="ReplacingMergeTree",
    order_by="version",
    shard_by="version",
)


def create_sql(database: str) -> str:
    return DEFINITION.create_sql(database)


APPLIED = f"SELECT DISTINCT version FROM {{db}}.{TABLE} ORDER BY version"

QUERIES: Final[dict[str, str]] = {"applied_migrations": APPLIED}
