"""The storage layer: one small interface over two ClickHouse engines.

- `ChdbStore`: embedded chDB, the local default. chDB lets one OS process open one data path, so the
  process that owns it (in local mode the cockpit process, which also runs the sink in a thread) must
  serve both inserts and queries; a lock serialises calls into the engine.
- `ServerStore`: a ClickHouse server over the native protocol (clickhouse-driver), compression on.

SQL handed to `query`/`command` uses clickhouse-driver's `%(name)s` placeholders on both engines;
values are escaped by clickhouse-driver's own escaper, never pasted in by hand. Named queries select
plain types (epoch seconds via `toUInt32`, enum names as strings) so both engines return equal rows.
"""

from __future__ import annotations

import copy
import logging
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

import orjson
import pyarrow as pa

from contracts.settings import Settings
from sinks.errors import Classified, classify

Row = tuple[Any, ...]
_log = logging.getLogger("sinks.store")

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def check_identifier(name: str) -> str:
    """Database and table names are pasted into SQL (they cannot be bound): letters, digits, _ only."""
    if not _IDENT.match(name):
        raise ValueError(f"not a plain identifier: {name!r}")
    return name


class StoreError(RuntimeError):
    """A storage call failed; carries the engine's message, its code and its class (`sinks/errors.py`).

    Raised as is for a permanent error (retrying cannot help); transient ones are `StoreUnavailable`.
    """

    def __init__(self, message: str, code: int | None = None, classified: Classified | None = None) -> None:
        super().__init__(f"[{code}] {message}" if code is not None else message)
        self.code = code
        self.classified = classified or classify(message, code)


class StoreUnavailable(StoreError):
    """The engine cannot be reached or is short of a resource right now: worth retrying."""

    def __init__(self, message: str, code: int | None = None, classified: Classified | None = None) -> None:
        super().__init__(message, code, classified or Classified("transient", code, "UNAVAILABLE"))


def engine_error(message: str, code: int | None = None, network: bool = False) -> StoreError:
    """The StoreError subclass this failure calls for: transient ones are retried by the sink."""
    c = classify(message, code, network=network)
    cls = StoreUnavailable if c.kind == "transient" else StoreError
    return cls(f"{message} [{c}]", code=c.code, classified=c)


# Server errors that pass when ZooKeeper or a replica comes back (issue 17, the cluster): a
# Replicated table is read-only without its ZooKeeper session (242), ZooKeeper calls fail (225, 999),
# a Distributed insert cannot reach any replica of a shard (279, 210, 209), or an insert's outcome is
# unknown (319). Retrying the same block is safe: the replicas drop a block they already hold.
TRANSIENT_CODES: frozenset[int] = frozenset({209, 210, 225, 242, 279, 319, 999})
TABLE_RESTART_GRACE_S = 30.0


class Store(Protocol):
    database: str
    engine: str

    def command(self, sql: str, params: Mapping[str, Any] | None = None) -> None: ...

    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> list[Row]: ...

    def insert(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> int: ...

    def close(self) -> None: ...


class _Views:
    """`with_database`: the same engine connection seen through another database.

    A view shares the session (chDB) or the per-thread connections (server) with the store it came
    from; closing a view is a no-op, the original's `close()` closes the engine.
    """

    database: str
    _is_view = False

    if TYPE_CHECKING:
        # Each engine's class defines it; declared here so the shared methods below type-check.
        def command(self, sql: str, params: Mapping[str, Any] | None = None) -> None: ...

    def with_database(self, database: str):
        view = copy.copy(self)
        view.database = check_identifier(database)
        view._is_view = True
        view.command(f"CREATE DATABASE IF NOT EXISTS {database}")
        return view

    def drop_database(self) -> None:
        """Drop this store's database and everything in it (tests and benchmarks clean up with it)."""
        self.command(f"DROP DATABASE IF EXISTS {self.database}")


def _bind(sql: str, params: Mapping[str, Any] | None) -> str:
    """Bind parameters client-side with clickhouse-driver's escaper (what it does for the server)."""
    if not params:
        return sql
    from clickhouse_driver.util.escape import escape_params

    for key, value in params.items():
        if hasattr(value, "tzinfo") or hasattr(value, "isoformat"):
            raise TypeError(f"parameter {key!r}: pass times as epoch seconds, not {type(value).__name__}")
    return sql % escape_params(params, None)


class ChdbStore(_Views):
    """Embedded chDB at one data path, owned by this process."""

    engine = "chdb"

    def __init__(self, path: str, database: str) -> None:
        from chdb import session

        self.database = check_identifier(database)
        self._lock = threading.Lock()
        try:
            self._session = session.Session(str(path))
        except Exception as err:  # chdb raises plain RuntimeError/Exception on lock conflicts
            raise StoreError(f"cannot open chDB at {path}: {err}") from err
        self.command(f"CREATE DATABASE IF NOT EXISTS {database}")

    def _run(self, sql: str, fmt: str) -> Any:
        with self._lock:
            try:
                return self._session.query(sql, fmt)
            except Exception as err:
                raise engine_error(f"chDB: {err}\n  in: {sql[:500]}") from err

    def command(self, sql: str, params: Mapping[str, Any] | None = None) -> None:
        self._run(_bind(sql, params), "CSV")

    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> list[Row]:
        bound = _bind(sql, params) + " SETTINGS output_format_json_quote_64bit_integers = 0"
        res = self._run(bound, "JSONCompactEachRow")
        data = res.bytes()
        if not data:
            return []
        return [tuple(r) for r in map(orjson.loads, data.splitlines())]

    def insert(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> int:
        if not rows:
            return 0
        arrow = pa.Table.from_arrays([pa.array(list(col)) for col in zip(*rows, strict=True)], names=list(columns))
        return self.insert_arrow(table, arrow)

    def insert_arrow(self, table: str, arrow: pa.Table) -> int:
        """Fast path: chDB reads the Arrow table in place through the Python() table function."""
        cols = ", ".join(arrow.column_names)
        sql = f"INSERT INTO {self.database}.{table} ({cols}) SELECT {cols} FROM Python(arrow)"
        with self._lock:
            try:
                self._session.query(sql, "CSV")
            except Exception as err:
                raise engine_error(f"chDB insert into {table}: {err}") from err
        return arrow.num_rows

    def close(self) -> None:
        if self._is_view:
            return
        with self._lock:
            self._session.close()


class ServerStore(_Views):
    """A ClickHouse server over the native protocol; one connection per calling thread."""

    engine = "server"
    # Inserts into these tables go to another name: on a cluster, `clicks_minute` -> `clicks_minute_in`
    # (sinks/cluster.py, INSERT_TARGETS; set by open_store). Reads keep the plain names.
    insert_targets: Mapping[str, str] = {}
    # On a cluster (set by open_store): after an insert answered 319, the next stored insert sweeps the
    # cluster for parts ZooKeeper never recorded (sinks/orphans.py).
    cluster = ""

    def __init__(self, host: str, port: int, database: str, user: str, password: str, compression: bool) -> None:
        self.database = check_identifier(database)
        self.orphans_suspected = False
        self.orphans_removed = 0
        self.on_orphans_removed: Callable[[list[Any]], None] | None = None  # the sink's metrics (sinks_for)
        self._table_missing_since: float | None = None
        self._kw = dict(
            host=host,
            port=port,
            user=user,
            password=password,
            compression=compression,
            connect_timeout=5,
            send_receive_timeout=60,
            settings={"use_numpy": False},
        )
        self._local = threading.local()
        self._clients: list[Any] = []
        self._clients_lock = threading.Lock()
        self.command(f"CREATE DATABASE IF NOT EXISTS {database}")

    def node_stores(self, cluster: str) -> list[ServerStore]:
        """A store on each node of `cluster` (this database, these credentials), for the statements
        that have no ON CLUSTER form (sinks/cluster.py, EVERY_NODE). The caller closes them."""
        from sinks.orphans import cluster_nodes

        rows = cluster_nodes(self._client(), cluster)
        if not rows:
            raise StoreError(f"cluster {cluster!r} is not in system.clusters of the node this store talks to")
        kw = self._kw
        return [
            ServerStore(str(h), int(p), self.database, str(kw["user"]), str(kw["password"]), bool(kw["compression"]))
            for h, p in rows
        ]

    def _client(self) -> Any:
        client = getattr(self._local, "client", None)
        if client is None:
            from clickhouse_driver import Client

            client = Client(**self._kw)
            self._local.client = client
            with self._clients_lock:
                self._clients.append(client)
        return client

    def _execute(self, sql: str, params: Any = None, **kw: Any) -> Any:
        from clickhouse_driver import errors

        client = self._client()
        try:
            out = client.execute(sql, params, **kw)
            self._table_missing_since = None
            return out
        except (errors.NetworkError, errors.SocketTimeoutError, ConnectionError, EOFError, OSError) as err:
            client.disconnect()
            raise engine_error(f"ClickHouse at {self._kw['host']}:{self._kw['port']}: {err!r}", network=True) from err
        except errors.ServerException as err:
            client.disconnect()  # the connection may be mid-stream after a failed insert
            if err.code == 319:
                self.orphans_suspected = True
            if err.code == 60 and self.cluster and self._replica_restarting():
                # a sweep (this sink's or another's) restarts a replica's table: gone for a moment
                raise StoreUnavailable(
                    f"ClickHouse: {err.message.splitlines()[0][:300]} (a replica restarting? retried for up "
                    f"to {TABLE_RESTART_GRACE_S:.0f} s)",
                    code=err.code,
                ) from err
            if err.code in TRANSIENT_CODES or (err.code == 32 and "while receiving packet from" in err.message):
                # the cluster's ZooKeeper or a shard is away (32: a replica died mid-insert): retry
                raise StoreUnavailable(f"ClickHouse: {err.message.splitlines()[0][:500]}", code=err.code) from err
            raise engine_error(
                f"ClickHouse: {err.message.splitlines()[0][:500]}\n  in: {sql[:300]}", code=err.code
            ) from err

    def command(self, sql: str, params: Mapping[str, Any] | None = None) -> None:
        self._execute(_bind(sql, params))

    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> list[Row]:
        return [tuple(r) for r in self._execute(_bind(sql, params))]

    def insert(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> int:
        if not rows:
            return 0
        cols = ", ".join(columns)
        table = self.insert_targets.get(table, table)
        self._execute(f"INSERT INTO {self.database}.{table} ({cols}) VALUES", list(rows), types_check=False)
        self._sweep_if_suspected()
        return len(rows)

    def insert_arrow(self, table: str, arrow: pa.Table) -> int:
        """Columnar insert: one Python list per column, no per-row tuples (the driver's fast path)."""
        if not arrow.num_rows:
            return 0
        cols = ", ".join(arrow.column_names)
        table = self.insert_targets.get(table, table)
        data = [arrow.column(c).to_pylist() for c in arrow.column_names]
        self._execute(f"INSERT INTO {self.database}.{table} ({cols}) VALUES", data, columnar=True, types_check=False)
        self._sweep_if_suspected()
        return arrow.num_rows

    def _replica_restarting(self) -> bool:
        """A table of ours missing on a cluster node is a replica restarting (`SYSTEM RESTART REPLICA`),
        for up to TABLE_RESTART_GRACE_S of consecutive failures; past that it is what it says (permanent)."""
        now = time.monotonic()
        if self._table_missing_since is None:
            self._table_missing_since = now
        return now - self._table_missing_since <= TABLE_RESTART_GRACE_S

    def _sweep_if_suspected(self) -> None:
        """After a 319 and a stored insert (ZooKeeper answers again), remove the parts it left behind.
        A sweep that fails (a node still away) stays pending for the next insert; it is logged, and the
        server's part check would detach the orphans within 5 minutes anyway."""
        if not (self.orphans_suspected and self.cluster):
            return
        from clickhouse_driver import Client, errors

        from sinks.orphans import sweep

        kw = {k: v for k, v in self._kw.items() if k not in ("host", "port")}
        try:
            removed = sweep(lambda h, p: Client(host=h, port=p, **kw), self._client(), self.cluster, self.database)
        except (errors.Error, OSError, EOFError) as err:  # logged, and retried after the next insert
            _log.warning("orphan-part sweep after an unknown insert status deferred: %r", err)
            self._client().disconnect()
            return
        self.orphans_suspected = False
        self.orphans_removed += len(removed)
        if removed and self.on_orphans_removed is not None:
            self.on_orphans_removed(removed)

    def close(self) -> None:
        if self._is_view:
            return
        with self._clients_lock:
            for client in self._clients:
                client.disconnect()
            self._clients.clear()


def open_store(settings: Settings) -> ChdbStore | ServerStore:
    """The store the settings name; fails loudly if it cannot be opened or reached."""
    if settings.clickhouse_engine == "chdb":
        assert settings.chdb_path is not None
        settings.chdb_path.mkdir(parents=True, exist_ok=True)
        return ChdbStore(str(settings.chdb_path), settings.clickhouse_database)
    store = ServerStore(
        settings.clickhouse_host,
        settings.clickhouse_port,
        settings.clickhouse_database,
        settings.clickhouse_user,
        settings.clickhouse_password,
        settings.clickhouse_compression,
    )
    if settings.clickhouse_cluster:  # issue 17: the sink writes the views' Null inputs
        from sinks.cluster import INSERT_TARGETS

        store.insert_targets = INSERT_TARGETS
        store.cluster = settings.clickhouse_cluster
    return store
