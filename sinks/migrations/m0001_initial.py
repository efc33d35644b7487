"""The first schema: per-minute click aggregates, late events, and the sink's offsets."""
from __future__ import annotations

from sinks.tables import clicks_minute, late_events, sink_offsets

VERSION = 1


def statements(database: str) -> list[str]:
    return [
        clicks_minute.create_sql(database),
        late_events.create_sql(database),
        sink_offsets.create_sql(database),
    ]
