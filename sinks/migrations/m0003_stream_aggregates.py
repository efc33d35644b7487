"""The workers' further aggregates: 10 s tiles, resources, unique users/sessions, sessions, countries."""
from __future__ import annotations

from sinks.tables import countries_minute, resources_minute, sessions_minute, tiles_10s, uniques_minute

VERSION = 3


def statements(database: str) -> list[str]:
    return [
        tiles_10s.create_sql(database),
        resources_minute.create_sql(database),
        uniques_minute.create_sql(database),
        uniques_minute.input_sql(database),
        uniques_minute.view_sql(database),
        sessions_minute.create_sql(database),
        countries_minute.create_sql(database),
    ]
