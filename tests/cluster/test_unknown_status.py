"""What ClickHouse 18.16 does with an insert whose ZooKeeper commit is lost (issue 17's 27,251 for 27,000).

One shard of two replicas; replica 1 reaches ZooKeeper through a TCP proxy that, when armed, closes
the connection instead of forwarding the insert's commit (the ZooKeeper `multi` that creates the
replication log entry): what a ZooKeeper stopped at that instant does. The server answers 319
(UNKNOWN_STATUS_OF_INSERT) but keeps the new part active on replica 1, although ZooKeeper never
recorded it; the sink must insert the block again (the commit may as well have reached ZooKeeper,
and then the retry is deduplicated), and this retry is stored as a new part. Replica 1 then shows
the block twice, its twin once, until a merge covering the orphan's block number drops it (or the
part check removes it 5 minutes later, per the server source). Reads through the Distributed tables with
`load_balancing = in_order` go to replica 1: for a while they count the block twice. Why this
is the likely cause of that over-count, and what it means for the sink: docs/storage.md ("Several sinks").
The sink's remedy is shown here too: after its retry is stored it sweeps the cluster for such parts
and restarts the replica that holds one (`sinks/orphans.py`), so both replicas agree at once.
"""

from __future__ import annotations

import datetime
import socket
import struct
import threading
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from ops.clickhouse_cluster import Address, ClusterNode, cluster_config_xml
from ops.local_process import free_port
from ops.zookeeper_local import LocalZooKeeper
from tests.support import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.cluster, pytest.mark.alone]

MULTI = 14  # ZooKeeper opcode of a multi-operation transaction


class CommitDropper:
    """A ZooKeeper proxy for one ClickHouse node: armed, it drops the next commit of a part."""

    def __init__(self, upstream: int) -> None:
        self.upstream = upstream
        self.port = free_port()
        self.armed = threading.Event()
        self.dropped = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", self.port))
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            server = socket.create_connection(("127.0.0.1", self.upstream))
            threading.Thread(target=self._to_server, args=(client, server), daemon=True).start()
            threading.Thread(target=self._copy, args=(server, client), daemon=True).start()

    def _is_commit(self, frame: bytes) -> bool:
        # A part's commit is the multi that appends to the replication log (`.../log/log-`).
        (op,) = struct.unpack(">i", frame[8:12])  # after the length and the request's xid
        return op == MULTI and b"/log/log-" in frame

    def _to_server(self, client: socket.socket, server: socket.socket) -> None:
        buf, first = b"", True
        try:
            while data := client.recv(65536):
                buf += data
                out = b""
                while len(buf) >= 4:
                    (size,) = struct.unpack(">i", buf[:4])
                    if len(buf) < 4 + size:
                        break
                    frame, buf = buf[: 4 + size], buf[4 + size :]
                    if not first and size >= 8 and self.armed.is_set() and self._is_commit(frame):
                        self.armed.clear()
                        self.dropped.set()
                        raise ConnectionAbortedError  # the request never reaches ZooKeeper
                    first = False  # the session's connect request has no opcode
                    out += frame
                if out:
                    server.sendall(out)
        except OSError:
            pass
        finally:
            client.close()
            server.close()

    @staticmethod
    def _copy(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            src.close()
            dst.close()

    def close(self) -> None:
        self._listener.close()


@pytest.fixture
def one_shard(tmp_path: Path) -> Iterator[tuple[Any, Any, CommitDropper]]:
    zk = LocalZooKeeper(tmp_path / "zookeeper", free_port())
    zk.start(90)
    dropper = CommitDropper(zk.client_port)
    ports = [(free_port(), free_port(), free_port()) for _ in range(2)]
    layout = [[Address("127.0.0.1", tcp) for tcp, _, _ in ports]]
    nodes = []
    for r, (tcp, http, inter) in enumerate(ports, start=1):
        keeper = [Address("127.0.0.1", dropper.port if r == 1 else zk.client_port)]
        xml = cluster_config_xml("one_shard", layout, keeper, 1, f"r{r}")
        nodes.append(ClusterNode(tmp_path / f"r{r}", tcp, http, inter, 1, r, xml))
    try:
        for n in nodes:
            n.start(90)
        clients = [n.client() for n in nodes]
        for c in clients:
            wait_for(partial(_sees_zookeeper, c), 60, "a ZooKeeper session")
            c.execute(
                "CREATE TABLE t (d Date, k UInt32, n UInt64) ENGINE = ReplicatedSummingMergeTree("
                "'/clickhouse/tables/01/t', '{replica}') PARTITION BY toYYYYMMDD(d) ORDER BY k"
            )
        yield clients[0], clients[1], dropper
    finally:
        for n in nodes:
            n.stop()
        dropper.close()
        zk.stop()


def _sees_zookeeper(client: Any) -> bool:
    try:
        client.execute("SELECT count() FROM system.zookeeper WHERE path = '/'")
        return True
    except Exception:
        client.disconnect()
        return False


def _total(client: Any) -> int:
    return int(client.execute("SELECT sum(n) FROM t")[0][0] or 0)


def test_a_lost_commit_leaves_the_block_visible_twice_on_its_replica_until_a_merge(
    one_shard: tuple[Any, Any, CommitDropper],
) -> None:
    from clickhouse_driver.errors import ServerException

    first, twin, dropper = one_shard
    day = datetime.date(2022, 3, 14)
    first.execute("INSERT INTO t (d, k, n) VALUES", [(day, 1, 100)])
    block = [(day, 2, 251)]

    dropper.armed.set()
    with pytest.raises(ServerException) as lost:
        first.execute("INSERT INTO t (d, k, n) VALUES", block)
    assert dropper.dropped.is_set()
    assert lost.value.code == 319, lost.value.message  # UNKNOWN_STATUS_OF_INSERT: "client must retry"
    first.disconnect()

    def retried() -> bool:  # the sink's retry, once the session is back
        try:
            first.execute("INSERT INTO t (d, k, n) VALUES", block)
            return True
        except ServerException:
            first.disconnect()
            return False

    wait_for(retried, 60, "the retry stored")
    wait_for(lambda: _total(twin) == 351, 60, "the twin holding the block once")
    time.sleep(2)  # a moment for anything that would drop the orphan early (nothing does)
    assert _total(first) == 100 + 2 * 251  # the orphan (not in ZooKeeper) and the retried part
    assert _total(twin) == 100 + 251

    def merged() -> bool:  # a merge over the partition covers the orphan's block number
        leader = next((c for c in (first, twin) if c.execute("SELECT is_leader FROM system.replicas")[0][0]), None)
        if leader is None:  # an election under way (replica 1's session was just renewed)
            return False
        try:
            leader.execute("OPTIMIZE TABLE t FINAL")  # assigned by the leader replica
            return True
        except ServerException:
            leader.disconnect()
            return False

    wait_for(merged, 60, "a merge assigned")
    wait_for(lambda: _total(first) == 351 and _total(twin) == 351, 60, "both replicas at 351 after a merge")


def test_the_sinks_retry_after_a_lost_commit_sweeps_the_orphan_away(
    one_shard: tuple[Any, Any, CommitDropper], caplog: pytest.LogCaptureFixture
) -> None:
    """The sink's path (`ServerStore` on a cluster): the 319 marks the store, the retried insert that
    is stored sweeps the cluster (`sinks/orphans.py`), and both replicas count the block once at once,
    not five minutes later; inserts from another client during the replica restart are counted."""
    from sinks.store import ServerStore, StoreUnavailable

    first, twin, dropper = one_shard
    host, port = first.connection.hosts[0]
    store = ServerStore(host, port, "default", "default", "", True)
    store.cluster = "one_shard"
    day = datetime.date(2022, 3, 14)
    store.insert("t", ("d", "k", "n"), [(day, k, 2) for k in range(1, 51)])  # 50 rows, 100 clicks
    block = [(day, 51, 251)]

    dropper.armed.set()
    with pytest.raises(StoreUnavailable) as lost:
        store.insert("t", ("d", "k", "n"), block)
    assert lost.value.code == 319 and dropper.dropped.is_set()
    assert store.orphans_suspected

    def retried() -> bool:  # the ledger's retry of the same step, once the session is back
        try:
            store.insert("t", ("d", "k", "n"), block)
            return True
        except StoreUnavailable:
            return False

    other = ServerStore(host, port, "default", "default", "", True)  # another sink, inserting throughout
    other.cluster = "one_shard"
    stop, stored, refused, finished = threading.Event(), [0], [], threading.Event()

    def insert_on() -> None:
        k = 1000
        while not stop.is_set():
            try:
                other.insert("t", ("d", "k", "n"), [(day, k, 1)])
                stored[0] += 1
                k += 1
            except StoreUnavailable as err:  # retried by the loop, as the ledger would
                refused.append(err)
            stop.wait(0.005)
        finished.set()  # not reached if a permanent error escaped

    inserter = threading.Thread(target=insert_on, daemon=True)
    inserter.start()
    with caplog.at_level("WARNING", logger="sinks.orphans"):
        wait_for(retried, 60, "the retry stored")
    stop.set()
    inserter.join(30)
    assert finished.is_set() and stored[0] > 0
    assert not store.orphans_suspected, "the sweep ran after the stored retry"
    assert store.orphans_removed == 1, caplog.text
    assert "never recorded in ZooKeeper" in caplog.text
    assert all(e.code in (60, 242) for e in refused), refused  # the table restarting: retried, not fatal
    expected = 351 + stored[0]
    wait_for(lambda: _total(twin) == expected, 60, "the twin holding the block once")
    assert _total(first) == expected  # no merge, no 5-minute part check: the orphan is gone already
    store.close()
    other.close()


def test_a_sweep_leaves_an_orphan_holding_much_of_a_table_to_the_part_check(
    one_shard: tuple[Any, Any, CommitDropper], caplog: pytest.LogCaptureFixture
) -> None:
    """The server refuses to re-attach a table whose unknown parts hold half its rows (and it would
    stay detached): such an orphan is reported and left alone."""
    from clickhouse_driver import Client
    from clickhouse_driver.errors import ServerException

    from sinks.orphans import sweep

    first, twin, dropper = one_shard
    day = datetime.date(2022, 3, 14)
    dropper.armed.set()
    with pytest.raises(ServerException) as lost:
        first.execute("INSERT INTO t (d, k, n) VALUES", [(day, 2, 251)])  # the table's first part
    assert lost.value.code == 319
    first.disconnect()
    wait_for(partial(_sees_zookeeper, first), 60, "the session back")
    with caplog.at_level("ERROR", logger="sinks.orphans"):
        removed = sweep(lambda h, p: Client(host=h, port=p), first, "one_shard", "default", confirm_s=0.2)
    assert removed == []
    assert "not restarting the replica" in caplog.text and "100% of the table's rows" in caplog.text
    assert _total(first) == 251 and _total(twin) == 0  # left to the server's part check
