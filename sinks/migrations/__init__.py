"""Numbered migrations. Each module `mNNNN_name.py` has `VERSION` and `statements(database)`.

Each migration freezes its own DDL (or ALTER) as text, so an old migration means the same after its
table changes; a table change is a new migration. `tests/sinks/test_migrations.py` checks that the
migrations' end state equals the table modules' definitions, so a change made in one place only
fails there. A migration must be safe to run twice (IF NOT EXISTS), since a crash may fall between
a statement and its record.
"""
