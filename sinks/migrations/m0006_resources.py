"""The resource catalogue dimension table (titles for the cockpit)."""

from __future__ import annotations

VERSION = 6

# Frozen DDL: this migration means the same whatever `sinks/tables/resources.py` becomes later.
STATEMENTS = (
    """CREATE TABLE IF NOT EXISTS {db}.resources (
    resource String,
    platform Enum8('k12' = 1, 'vocational' = 2, 'higher' = 3, 'employment' = 4),
    section Enum8('topic' = 1, 'lessons' = 2, 'afterschool' = 3, 'teacher' = 4, 'family' = 5, 'reform' = 6, 'vocational_courses' = 7, 'mooc' = 8, 'jobs' = 9, 'other' = 10),
    subcolumn String,
    title String,
    loaded_at DateTime('Asia/Shanghai')
) ENGINE = ReplacingMergeTree(loaded_at)
ORDER BY resource""",
)


def statements(database: str) -> list[str]:
    return [s.replace("{db}", database) + "\n" for s in STATEMENTS]
