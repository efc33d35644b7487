"""Parts a replica shows although ZooKeeper never recorded them, and their removal (ClickHouse 18.16).

An insert into a Replicated table makes its part active, then commits it in ZooKeeper. When that
commit is lost on the way (ZooKeeper stopped at that instant), the server answers 319
(UNKNOWN_STATUS_OF_INSERT) and keeps the part active on that replica. The sink must insert the block
again (the commit may as well have landed, and then the retry is dropped as a duplicate); when it had
not landed, the retry is stored as a new part and the replica counts the block twice, its twin once,
until the server's part check detaches the orphan five minutes later
(`tests/cluster/test_unknown_status.py`).

So after a 319, once the retry is stored, the sink sweeps: on every node of the cluster it compares
each Replicated table's active parts with the parts ZooKeeper lists for that replica. A part active on
the node and absent from ZooKeeper on two reads is an orphan (a part is made active only after its
commit, so no healthy part is ever in that state for long). `SYSTEM RESTART REPLICA` re-attaches the
table, and the server's own start-up check moves parts ZooKeeper does not know to `detached/`.

That check refuses to attach a table whose unknown parts hold too large a share of its rows (18.16:
half), and a refused table stays detached until the server restarts: the sweep restarts a replica
only while its orphans hold at most `MAX_SHARE` of the table's rows, and otherwise leaves them to the
part check and says so.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sinks.store import check_identifier

log = logging.getLogger("sinks.orphans")

MAX_SHARE = 0.1  # orphan rows / table rows above which a restart is not risked (the server's limit: 0.5)
CONFIRM_S = 1.0  # a second read this much later: a merge or fetch between two reads is not an orphan


@dataclass(frozen=True)
class Orphan:
    host: str
    port: int
    table: str
    part: str
    rows: int


Connect = Callable[[str, int], Any]  # (host, port) -> a clickhouse_driver Client


def cluster_nodes(client: Any, cluster: str) -> list[tuple[str, int]]:
    """Every node (address, native port) of the cluster, as the node the sink talks to knows it."""
    rows = client.execute(
        "SELECT DISTINCT host_address, port FROM system.clusters WHERE cluster = %(c)s ORDER BY host_address, port",
        {"c": cluster},
    )
    return [(str(h), int(p)) for h, p in rows]


def node_orphans(client: Any, database: str) -> tuple[dict[str, dict[str, int]], dict[str, int]]:
    """({table: {part: rows}} of parts active on this node that ZooKeeper does not list for it,
    {table: rows in its active parts}), from one read of `system.parts` and one of ZooKeeper per table."""
    active: dict[str, dict[str, int]] = {}
    for table, name, rows in client.execute(
        "SELECT table, name, rows FROM system.parts WHERE database = %(d)s AND active", {"d": database}
    ):
        active.setdefault(str(table), {})[str(name)] = int(rows)
    found: dict[str, dict[str, int]] = {}
    replicas = client.execute(
        "SELECT table, zookeeper_path, replica_name FROM system.replicas WHERE database = %(d)s", {"d": database}
    )
    for table, zk_path, replica in replicas:
        parts = active.get(str(table))
        if not parts:
            continue
        known = {
            str(r[0])
            for r in client.execute(
                "SELECT name FROM system.zookeeper WHERE path = %(p)s", {"p": f"{zk_path}/replicas/{replica}/parts"}
            )
        }
        lost = {p: n for p, n in parts.items() if p not in known}
        if lost:
            found[str(table)] = lost
    return found, {t: sum(parts.values()) for t, parts in active.items()}


def sweep(connect: Connect, entry: Any, cluster: str, database: str, confirm_s: float = CONFIRM_S) -> list[Orphan]:
    """Find the cluster's orphan parts and restart the replicas that hold them; return what was removed.

    Raises the driver's errors (a node or ZooKeeper still away): the caller keeps the sweep pending."""
    removed: list[Orphan] = []
    for host, port in cluster_nodes(entry, cluster):
        client = connect(host, port)
        try:
            first, _ = node_orphans(client, database)
            if not first:
                continue
            time.sleep(confirm_s)  # the second read of a two-read check, not a wait for a condition
            again, table_rows = node_orphans(client, database)
            for table, parts in first.items():
                still = {p: n for p, n in parts.items() if p in again.get(table, {})}
                if not still:
                    continue
                total = table_rows.get(table, 0)
                share = sum(still.values()) / total if total else 1.0
                if share > MAX_SHARE:
                    log.error(
                        "%s:%d %s.%s: parts %s are not in ZooKeeper but hold %.0f%% of the table's rows; "
                        "not restarting the replica (the server would refuse to re-attach it): the server's "
                        "part check detaches them within 5 minutes",
                        host,
                        port,
                        database,
                        table,
                        sorted(still),
                        share * 100,
                    )
                    continue
                client.execute(f"SYSTEM RESTART REPLICA {check_identifier(database)}.{check_identifier(table)}")
                log.warning(
                    "%s:%d %s.%s: parts %s were active but never recorded in ZooKeeper (an insert answered "
                    "319 whose commit was lost); replica restarted, the server detached them",
                    host,
                    port,
                    database,
                    table,
                    sorted(still),
                )
                removed += [Orphan(host, port, table, p, n) for p, n in sorted(still.items())]
        finally:
            client.disconnect()
    return removed
