"""Migrations on both engines: from empty, re-run, from version 1 with data, and a crashed re-run."""

from __future__ import annotations

import re
from typing import Any

from sinks import schema
from sinks.migrate import applied_versions, discover, migrate
from sinks.migrations import m0001_initial, m0002_rollup_and_ledger
from sinks.tables import clicks_hour, clicks_minute, schema_migrations
from tests.sinks import fixture_data as fx


def normal_type(t: str) -> Any:
    """Enum8 types compare as sets of (name, value): engines list the elements in different orders."""
    if t.startswith("Enum8("):
        return frozenset(re.findall(r"'([^']*)' = (-?\d+)", t))
    return t


def columns(store: Any, table: str) -> list[tuple[str, Any]]:
    rows = store.query(
        "SELECT name, type FROM system.columns WHERE database = %(db)s AND table = %(t)s",
        {"db": store.database, "t": table},
    )
    return [(n, normal_type(t)) for n, t in rows]


def engines(store: Any) -> dict[str, str]:
    return dict(store.query("SELECT name, engine FROM system.tables WHERE database = %(db)s", {"db": store.database}))


def hourly(store: Any) -> list[tuple[Any, ...]]:
    return store.query(
        f"SELECT toUInt32(hour), toString(province), sum(clicks) FROM {store.database}.clicks_hour "
        "GROUP BY hour, province ORDER BY hour, province"
    )


def test_from_empty_creates_every_table_as_defined(engine_store: Any) -> None:
    versions = [m.VERSION for m in discover()]
    assert versions == list(range(1, len(versions) + 1))  # numbered without gaps
    assert applied_versions(engine_store) == []
    assert migrate(engine_store) == versions
    assert applied_versions(engine_store) == versions
    found = engines(engine_store)
    for t in schema.tables():
        assert found[t.name] == t.engine, t.name
        assert columns(engine_store, t.name) == [(c, normal_type(ty)) for c, ty in t.columns], t.name
    for v in schema.VIEWS:
        assert found[v.name] == "MaterializedView"


def test_rerun_is_a_no_op(engine_store: Any) -> None:
    migrate(engine_store)
    before = engines(engine_store)
    assert migrate(engine_store) == []
    assert migrate(engine_store) == []
    assert engines(engine_store) == before
    rows = engine_store.query(
        f"SELECT version, name FROM {engine_store.database}.{schema_migrations.TABLE} ORDER BY version"
    )
    assert rows == [(m.VERSION, m.__name__.rsplit(".", 1)[1]) for m in discover()]
    assert rows[:4] == [
        (1, "m0001_initial"),
        (2, "m0002_rollup_and_ledger"),
        (3, "m0003_stream_aggregates"),
        (4, "m0004_alert_log"),
    ]


def test_upgrade_from_version_1_rolls_up_existing_minutes_once(engine_store: Any) -> None:
    store = engine_store
    store.command(schema_migrations.create_sql(store.database))
    for sql in m0001_initial.statements(store.database):
        store.command(sql)
    store.insert(schema_migrations.TABLE, schema_migrations.COLUMNS, [(1, "m0001_initial", 0)])
    store.insert(clicks_minute.TABLE, clicks_minute.COLUMNS, fx.CLICKS_1 + fx.CLICKS_2)

    assert migrate(store) == [m.VERSION for m in discover()][1:]
    # Ordered by hour, then the province's Enum8 value ('abroad' is 0).
    expected = [
        (fx.T - fx.H, "450000", 1000),
        (fx.T + 8 * fx.H, "abroad", 2),
        (fx.T + 8 * fx.H, "110000", 3),
        (fx.T + 8 * fx.H, "450000", 26),
    ]  # 08:00 Guangxi: 10+7+5+4
    assert hourly(store) == expected
    # A crash after the data step and before the record re-runs the migration: no double count.
    m0002_rollup_and_ledger.apply(store)
    assert hourly(store) == expected
    # From now on the view rolls up new minutes as they are inserted.
    store.insert(clicks_minute.TABLE, clicks_minute.COLUMNS, fx.CLICKS_3)
    assert hourly(store) == expected + [
        (fx.T + 9 * fx.H, "370000", 6),
        (fx.T + 23 * fx.H, "110000", 8),
        (fx.T + fx.D, "110000", 100),
    ]
    assert clicks_hour.TABLE in engines(store)
    # m0007 rolled the hours up into days once; the day view then follows new minutes.
    days = store.query(f"SELECT toUInt32(day), sum(clicks) FROM {store.database}.clicks_day GROUP BY day ORDER BY day")
    assert days == [(fx.T - fx.D, 1000), (fx.T, 45), (fx.T + fx.D, 100)]


def test_statements_match_what_apply_creates(engine_store: Any) -> None:
    """m0002's `statements` (used by tools that print DDL) build the same objects as its `apply`."""
    a = engine_store
    migrate(a)
    b = a.with_database(a.database + "b")
    try:
        b.command(schema_migrations.create_sql(b.database))
        for mod in discover():
            for sql in mod.statements(b.database):
                b.command(sql)
        assert engines(a) == engines(b)
    finally:
        b.drop_database()


def test_the_migrations_build_every_table_and_view_exactly_as_head_defines_it(chdb_session_store: Any) -> None:
    """Columns, engine and summed columns, partitioning, keys and views: what the frozen migrations
    build is what `sinks/tables/` declares, statement for statement as the engine shows it. A table
    changed (a column added to a rates table) without a new migration fails here. chDB alone: the
    migrations' statements are the same on both engines."""
    from sinks.tables import uniques_minute
    from tests.conftest import unique

    migrated = chdb_session_store.with_database(unique("m"))
    defined = chdb_session_store.with_database(unique("d"))
    try:
        migrate(migrated)
        for t in schema.tables():
            defined.command(t.create_sql(defined.database))
        defined.command(uniques_minute.input_sql(defined.database))
        for v in schema.VIEWS:
            defined.command(v.create_sql(defined.database))

        def shown(store: Any, name: str) -> str:
            sql = store.query(f"SHOW CREATE TABLE {store.database}.{name}")[0][0]
            return str(sql).replace(f"{store.database}.", "{db}.")

        names = [t.name for t in (*schema.tables(), *schema.INPUTS)] + [v.name for v in schema.VIEWS]
        differ = [n for n in names if shown(migrated, n) != shown(defined, n)]
        assert not differ, "\n\n".join(f"{shown(migrated, n)}\n  !=\n{shown(defined, n)}" for n in differ)
    finally:
        migrated.drop_database()
        defined.drop_database()
