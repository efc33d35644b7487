"""The sink stores every row list a rate batch carries, each into a table with one column per row field.

Adding a per-province field to a rates row (or a new row list to `RateBatch`) fails here until the
sink's table takes it too: nothing is dropped silently.
"""

from __future__ import annotations

import typing

import msgspec

from contracts.rates import RateBatch
from sinks import batch

COUNTED = {"rejects"}  # per-reason counts, stored by minute in rejects_minute


def test_every_row_list_of_the_contract_has_a_table_and_every_field_a_column() -> None:
    hints = typing.get_type_hints(RateBatch)
    row_lists = {f.name for f in msgspec.structs.fields(RateBatch)
                 if typing.get_origin(hints[f.name]) is list} - COUNTED
    plain = {name: columns for name, _, columns in batch._PLAIN}
    assert row_lists == set(plain), f"RateBatch row lists without a table: {sorted(row_lists ^ set(plain))}"
    for name, columns in plain.items():
        (row_type,) = typing.get_args(hints[name])
        assert len(typing.get_args(row_type)) == len(columns), f"{name}: row fields != {columns}"
