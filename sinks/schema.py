"""The schema at head: every table module and view, in creation order (for tools, not migrations).

Migrations stay the way a store gets there; this list is what `sinks/cluster.py` generates the
cluster variant from, what retention walks, and where `sinks/queries.py` finds the named queries.
"""

from __future__ import annotations

from types import ModuleType
from typing import Final

from sinks.tables import (
    BLOCK_TAG,
    TableDef,
    ViewDef,
    alert_log,
    clicks_day,
    clicks_hour,
    clicks_minute,
    countries_minute,
    late_events,
    rejects_minute,
    resources,
    resources_minute,
    schema_migrations,
    sessions_minute,
    sink_flushes,
    sink_offsets,
    tiles_10s,
    uniques_minute,
)

TABLE_MODULES: Final[tuple[ModuleType, ...]] = (
    schema_migrations,
    clicks_minute,
    late_events,
    sink_offsets,
    clicks_hour,
    rejects_minute,
    tiles_10s,
    resources_minute,
    uniques_minute,
    sessions_minute,
    countries_minute,
    alert_log,
    sink_flushes,
    clicks_day,
    resources,
)
# Null-engine input tables: they store nothing, their materialized views do.
INPUTS: Final[tuple[TableDef, ...]] = (uniques_minute.INPUT_DEFINITION,)
VIEWS: Final[tuple[ViewDef, ...]] = (clicks_hour.VIEW, uniques_minute.VIEW, clicks_day.VIEW)


def tables() -> tuple[TableDef, ...]:
    return tuple(m.DEFINITION for m in TABLE_MODULES)


def retained() -> tuple[ModuleType, ...]:
    """Table modules with a retention policy (partitioned by day or month)."""
    return tuple(m for m in TABLE_MODULES if getattr(m, "RETENTION", None) is not None)


# Tables whose blocks carry the flush step's tag (sinks/tables/__init__.py, BLOCK_TAG).
TAGGED: Final[frozenset[str]] = frozenset(t.name for t in tables() if BLOCK_TAG in t.column_names)
