"""The sink stores every row list a rate batch carries, each into a table with one column per row field.

Adding a per-province field to a rates row (or a new row list to `RateBatch`) fails here until the
sink's table takes it too (and sums it): nothing is dropped silently.
"""

from __future__ import annotations

import re
import typing

import msgspec

from contracts.rates import RateBatch
from sinks import batch, schema
from sinks.tables import BLOCK_TAG, TableDef, rejects_minute

COUNTED = {"rejects"}  # per-reason counts, stored by minute in rejects_minute


def row_types() -> dict[str, type[msgspec.Struct]]:
    """RateBatch's row lists (but the counted `rejects`) and the struct of their rows."""
    hints = typing.get_type_hints(RateBatch)
    return {
        f.name: typing.get_args(hints[f.name])[0]
        for f in msgspec.structs.fields(RateBatch)
        if typing.get_origin(hints[f.name]) is list and f.name not in COUNTED
    }


def definitions() -> dict[str, TableDef]:
    return {t.name: t for t in (*schema.tables(), *schema.INPUTS)}


def test_every_row_list_of_the_contract_has_a_table_and_every_field_a_column() -> None:
    rows = row_types()
    plain = {name: (table, columns) for name, table, columns in batch._PLAIN}
    assert set(rows) == set(plain), f"RateBatch row lists without a table: {sorted(set(rows) ^ set(plain))}"
    tables = definitions()
    for name, (table, columns) in plain.items():
        fields = tuple(f.name for f in msgspec.structs.fields(rows[name]))
        # The sink reads each row by these names: a field without a column would not be stored.
        assert fields == columns, f"{rows[name].__name__} fields {fields} != {table} columns {columns}"
        # ... and the table has no other column but the ledger's tag (a column nobody fills is a bug).
        own = tuple(c for c in tables[table].column_names if c != BLOCK_TAG)
        assert columns == own, f"{table}: the sink's columns are not the table's"
        assert (BLOCK_TAG in tables[table].column_names) == (table in schema.TAGGED)


def test_every_summed_table_the_sink_writes_and_its_rollups_carry_the_tag() -> None:
    """A summed table without BLOCK_TAG would let a replica drop a flush whose block equals another's."""
    tables = definitions()
    written = {table for _, table, _ in batch._PLAIN} | {rejects_minute.TABLE}
    written |= {v.table for views in batch._VIEWS.values() for v in views}
    summed = {t for t in written if tables[t].engine == "SummingMergeTree"}
    assert summed == set(schema.TAGGED)
    assert all(tables[t].column_names[-1] == BLOCK_TAG for t in summed)
    assert all(step.tagged for step in batch.day_steps(rejects_minute.TABLE, rejects_minute.COLUMNS, [(0, "json", 1)]))


def test_every_count_a_row_brings_is_summed_by_its_table() -> None:
    """In a SummingMergeTree, a column that is neither a key nor listed in the engine's arguments keeps
    one row's value when parts merge: a count added to a row must be summed, or it is lost."""
    tables = definitions()
    for _, table, columns in batch._PLAIN:
        t = tables[table]
        if t.engine != "SummingMergeTree":
            continue
        keys = set(re.findall(r"\w+", t.order_by))
        assert set(columns) - keys == set(re.findall(r"\w+", t.engine_args)), f"{table}: {t.engine_args}"


def test_rejects_are_filed_at_the_minute_the_worker_says_never_1970() -> None:
    def rb(offset: int, watermark_ms: int, rejects_at_ms: int) -> RateBatch:
        return RateBatch(
            src_topic="c",
            src_partition=0,
            first_offset=offset,
            last_offset=offset,
            watermark_ms=watermark_ms,
            events=0,
            rejects={"json": 2},
            rejects_at_ms=rejects_at_ms,
        )

    buf = batch.RateBuffer("sink", "rates")
    buf.add(0, 0, rb(0, 0, 1_647_223_230_000))  # no valid event yet: the refused record's broker time
    buf.add(0, 1, rb(1, 1_647_223_300_000, 1_647_223_300_000))
    buf.add(0, 2, rb(2, 1_647_223_400_000, 0))  # rates v1: no rejects_at_ms, the watermark
    assert dict(buf.rejects) == {
        (1_647_223_200, "json"): 2,
        (1_647_223_260, "json"): 2,
        (1_647_223_400 // 60 * 60, "json"): 2,
    }


def test_every_view_on_a_sink_table_is_witnessed_by_the_flush_log() -> None:
    """A view the ledger does not know would be left half-fed (or fed twice) by a crash mid-step."""
    from sinks import schema

    for view in schema.VIEWS:
        if view.source in batch._UNWITNESSED:
            continue
        assert view.target in {v.table for v in batch._VIEWS.get(view.source, ())}, view.name
