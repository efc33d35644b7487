"""One module per table: its DDL and the queries that justify its ORDER BY and partitioning.

A table module declares its shape once, as a `TableDef` (`DEFINITION`), and keeps the plain
`TABLE`, `COLUMNS`, `create_sql(database)` and query constants the rest of the project imports.
From the same definition come the single-node DDL the migrations run (`TableDef.create_sql`) and the
cluster variant (`sinks/cluster.py`: ReplicatedMergeTree tables plus Distributed tables over them).

Each module's `QUERIES` maps a query name to its SQL (`{db}` is formatted, `%(name)s` are values
bound by the store); `sinks/queries.py` gathers them, and each has a test on both engines with known
answers (`tests/sinks/test_queries.py`). A module with `RETENTION` is cleaned by `sinks/retention.py`
by dropping whole partitions, so its PARTITION BY must be `toYYYYMMDD(col)` or `toYYYYMM(col)`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

# The last column of every summed table the sink writes (and of the rollups its views fill): a value
# per flush step (`sinks/ledger.py`), never read. Replicated tables drop an inserted block equal to
# one of their last 100; 18.16 compares whole blocks, so without it two *different* flushes that form
# the same block (one reject of one reason in one minute, twice) would be stored once. A retried step
# carries the same value and is still dropped. Not summed: a merge keeps one row's value.
BLOCK_TAG: Final = "block_tag"
BLOCK_TAG_COLUMN: Final = (BLOCK_TAG, "UInt64")


@dataclass(frozen=True)
class Retention:
    """How long a table keeps data: `days` by default, overridable by the setting named `setting`.

    `granularity` is what one partition holds (a Beijing day or month); 0 days means keep forever.
    """

    setting: str
    default_days: int
    granularity: Literal["day", "month"] = "day"


@dataclass(frozen=True)
class TableDef:
    """A MergeTree-family table in the SQL subset of ClickHouse 18.16 and chDB.

    `engine_args` are the engine's own parameters (for `SummingMergeTree((clicks))`: `"(clicks)"`);
    the replicated variant puts the ZooKeeper path and replica name in front of them.
    `shard_by` is the Distributed sharding key of the cluster variant: deterministic, so a retried
    block lands on the same shard as the first try and replicated deduplication can drop it.
    """

    name: str
    columns: tuple[tuple[str, str], ...]
    engine: str
    order_by: str
    engine_args: str = ""
    partition_by: str | None = None
    shard_by: str = "rand()"

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c for c, _ in self.columns)

    def columns_sql(self) -> str:
        return ",\n".join(f"    {c} {t}" for c, t in self.columns)

    def tail_sql(self) -> str:
        part = f"PARTITION BY {self.partition_by}\n" if self.partition_by else ""
        return f"{part}ORDER BY {self.order_by}"

    def create_sql(self, database: str) -> str:
        return (
            f"\nCREATE TABLE IF NOT EXISTS {database}.{self.name} (\n{self.columns_sql()}\n)"
            f" ENGINE = {self.engine}({self.engine_args})\n{self.tail_sql()}\n"
        )


@dataclass(frozen=True)
class ViewDef:
    """A materialized view that writes what is inserted into `source` to `target`, transformed."""

    name: str
    source: str
    target: str
    select: str  # with `{source}` where the FROM table goes

    def create_sql(
        self, database: str, source: str | None = None, target: str | None = None, on_cluster: str = ""
    ) -> str:
        src = f"{database}.{source or self.source}"
        dst = f"{database}.{target or self.target}"
        return (
            f"\nCREATE MATERIALIZED VIEW IF NOT EXISTS {database}.{self.name}{on_cluster} TO {dst} AS\n"
            f"{self.select.format(source=src).strip()}\n"
        )
