"""The alert log: state changes, acknowledgements and silences from the alerts topic."""
from __future__ import annotations

from sinks.tables import alert_log

VERSION = 4


def statements(database: str) -> list[str]:
    return [alert_log.create_sql(database)]
