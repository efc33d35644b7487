"""Numbered migrations. Each module `mNNNN_name.py` has `VERSION` and `statements(database)`.

Statements are built from the table modules, so a table's DDL has one home. A migration must be
safe to run twice (IF NOT EXISTS), since a crash may fall between a statement and its record.
"""
