"""Integration tests for ops.clickhouse_server against a real ClickHouse binary.

Why: the rest of the cockpit relies on these helpers to get a private server in
tests and CI, and on the SQL findings documented in the module docstring; both
are checked here for real (no mocks).  Ports are free loopback ports, data
lives in pytest's tmp_path.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ops.clickhouse_server import LocalClickHouseServer, find_clickhouse_server
from ops.local_process import ServerStartError, free_port, port_accepts

pytestmark = pytest.mark.integration

REPO_ROOT = Path(__file__).resolve().parents[2]

try:
    find_clickhouse_server()
    HAVE_CLICKHOUSE = True
except FileNotFoundError:
    HAVE_CLICKHOUSE = False

needs_clickhouse = pytest.mark.skipif(
    not HAVE_CLICKHOUSE, reason="clickhouse-server binary not installed (apt-get install clickhouse-server)"
)
pytest.importorskip("clickhouse_driver")


def _new_server(tmp_path: Path, name: str = "ch") -> LocalClickHouseServer:
    return LocalClickHouseServer(tmp_path / name, tcp_port=free_port(), http_port=free_port())


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalClickHouseServer]:
    """One server for the SQL-level tests of this module (start-up ~0.3 s)."""
    if not HAVE_CLICKHOUSE:
        pytest.skip("clickhouse-server binary not installed")
    srv = _new_server(tmp_path_factory.mktemp("chmod"))
    srv.start(timeout=60)
    try:
        yield srv
    finally:
        srv.stop(timeout=30)


@needs_clickhouse
def test_start_insert_count_drop_partition_stop(tmp_path: Path) -> None:
    srv = _new_server(tmp_path)
    t0 = time.monotonic()
    with srv:
        startup = time.monotonic() - t0
        assert srv.owned and srv.is_up()
        assert srv.pidfile.read_text().strip() == str(srv.pid)
        print(f"clickhouse start-up {startup:.2f}s")
        client = srv.client()
        client.execute(
            "CREATE TABLE IF NOT EXISTS default.events ("
            " d Date, ts DateTime, host String, value Float64,"
            " level Enum8('info' = 1, 'warn' = 2, 'error' = 3)"
            ") ENGINE = MergeTree PARTITION BY toYYYYMMDD(d) ORDER BY (host, ts)"
        )
        base = dt.datetime(2024, 5, 1, 0, 0, 0)
        rows = [
            (
                (base + dt.timedelta(days=i % 4)).date(),
                base + dt.timedelta(days=i % 4, seconds=i),
                f"host{i % 7}",
                float(i),
                1 + i % 3,  # Enum8 as int code: strings break types_check (driver bug #328)
            )
            for i in range(10_000)
        ]
        inserted = client.execute(
            "INSERT INTO default.events (d, ts, host, value, level) VALUES", rows, types_check=True
        )
        assert inserted == 10_000
        assert client.execute("SELECT count() FROM default.events") == [(10_000,)]
        parts = client.execute(
            "SELECT partition, sum(rows) FROM system.parts"
            " WHERE database = 'default' AND table = 'events' AND active"
            " GROUP BY partition ORDER BY partition"
        )
        assert parts == [("20240501", 2500), ("20240502", 2500), ("20240503", 2500), ("20240504", 2500)]
        client.execute("ALTER TABLE default.events DROP PARTITION 20240502")
        assert client.execute("SELECT count() FROM default.events") == [(7_500,)]
        assert client.execute("SELECT count() FROM default.events WHERE d = %(d)s", {"d": dt.date(2024, 5, 2)}) == [
            (0,)
        ]
        client.disconnect()
        # everything stays inside data_dir
        assert (srv.db_path / "data" / "default" / "events").is_dir()
        assert srv.server_log_path.exists()
        tcp_port = srv.tcp_port
    assert not srv.owned
    assert not port_accepts("127.0.0.1", tcp_port)
    assert not srv.pidfile.exists()


@needs_clickhouse
def test_reuses_running_server_without_owning_it(tmp_path: Path) -> None:
    with _new_server(tmp_path, "a") as first:
        second = LocalClickHouseServer(tmp_path / "b", first.tcp_port, first.http_port)
        second.start(timeout=10)
        assert not second.owned
        assert second.stop() is None  # must not touch the first server
        assert second.kill() is None
        assert first.is_up()


@needs_clickhouse
def test_start_failure_raises_with_error_log_tail(tmp_path: Path) -> None:
    srv = _new_server(tmp_path)
    # Squat on the HTTP port *after* the pre-check would look, by binding it
    # without listening: the server then dies with "Address already in use".
    squatter = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    squatter.bind(("127.0.0.1", srv.http_port))
    try:
        with pytest.raises(ServerStartError) as info:
            srv.start(timeout=30)
    finally:
        squatter.close()
    message = str(info.value)
    assert "exited with code" in message
    assert "clickhouse-server.err.log" in message or "stdout.log" in message
    assert not srv.owned


@needs_clickhouse
def test_port_in_use_by_other_service_is_reported(tmp_path: Path) -> None:
    srv = _new_server(tmp_path)
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", srv.tcp_port))
        listener.listen(1)
        with pytest.raises(ServerStartError, match="already in use"):
            srv.start(timeout=5)


@needs_clickhouse
def test_kill_and_restart_keeps_data(tmp_path: Path) -> None:
    srv = _new_server(tmp_path)
    srv.start()
    try:
        srv.client().execute("CREATE TABLE default.k (a UInt8) ENGINE = MergeTree ORDER BY a")
        srv.client().execute("INSERT INTO default.k VALUES", [(1,), (2,)])
        srv.kill()
        assert not srv.is_up()
        srv.start()
        assert srv.client().execute("SELECT sum(a) FROM default.k") == [(3,)]
    finally:
        srv.stop()


def test_rejects_non_loopback_host(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        LocalClickHouseServer(tmp_path, 19000, 18123, host="0.0.0.0")
    assert LocalClickHouseServer(tmp_path, 19000, 18123, host="localhost").host == "127.0.0.1"


def test_generated_config_confines_paths(tmp_path: Path) -> None:
    srv = LocalClickHouseServer(tmp_path / "x&y", 19000, 18123)
    cfg = srv.render_config()
    assert "<listen_host>127.0.0.1</listen_host>" in cfg
    assert "interserver_http_port>" not in cfg.replace("<!-- no interserver_http_port", "")
    assert "x&amp;y" in cfg  # XML-escaped path
    for tag in ("path", "tmp_path", "user_files_path", "format_schema_path"):
        assert f"<{tag}>{tmp_path}/x&amp;y/" in cfg
    body = re.sub(r"<!--.*?-->", "", cfg, flags=re.DOTALL)
    abs_paths = re.findall(r">(/[^<]*)<", body)
    assert len(abs_paths) >= 7
    assert all(path.startswith(f"{tmp_path}/x&amp;y/") for path in abs_paths), abs_paths
    with_is = LocalClickHouseServer(tmp_path, 19000, 18123, interserver_port=19009).render_config()
    assert "<interserver_http_port>19009</interserver_http_port>" in with_is


@needs_clickhouse
def test_cli_detach_status_stop(tmp_path: Path) -> None:
    data_dir = tmp_path / "cli"
    tcp, http = free_port(), free_port()
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "ops.clickhouse_server", *args, "--data-dir", str(data_dir)],
            cwd=REPO_ROOT,
            env=env,
            check=False,
            capture_output=True,
            text=True,
            timeout=120,
        )

    assert cli("status").returncode == 3
    started = cli("start", "--tcp-port", str(tcp), "--http-port", str(http), "--detach")
    assert started.returncode == 0, started.stderr + started.stdout
    assert "ready" in started.stdout
    try:
        status = cli("status")  # ports read back from the generated config
        assert status.returncode == 0 and " up " in status.stdout, status.stdout
    finally:
        stopped = cli("stop")
    assert stopped.returncode == 0 and "stopped" in stopped.stdout, stopped.stdout + stopped.stderr
    assert cli("status").returncode == 3
    assert not port_accepts("127.0.0.1", tcp)


def test_cli_help() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "ops.clickhouse_server", "start", "--help"],
        cwd=REPO_ROOT,
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
    )
    assert out.returncode == 0
    assert "--tcp-port" in out.stdout and "--detach" in out.stdout


# --- SQL findings documented in the module docstring (18.16 side) ----------

ACCEPTED_ON_18_16 = [
    (
        "CREATE TABLE IF NOT EXISTS f.s (d Date, k String, n UInt64) ENGINE = SummingMergeTree"
        " PARTITION BY toYYYYMMDD(d) ORDER BY (d, k)"
    ),
    (
        "CREATE TABLE IF NOT EXISTS f.r (d Date, id UInt64, ver UInt64, st Enum8('ok' = 1, 'crit' = 2))"
        " ENGINE = ReplacingMergeTree(ver) PARTITION BY toYYYYMMDD(d) ORDER BY id"
    ),
    (
        "CREATE TABLE IF NOT EXISTS f.a (d Date, m DateTime, k String, u AggregateFunction(uniq, UInt64))"
        " ENGINE = AggregatingMergeTree PARTITION BY toYYYYMMDD(d) ORDER BY (k, m)"
    ),
    (
        "CREATE MATERIALIZED VIEW IF NOT EXISTS f.a_mv TO f.a AS SELECT d, toStartOfMinute(ts) AS m, k,"
        " uniqState(u) AS u FROM f.m GROUP BY d, m, k"
    ),
    "SELECT toStartOfMinute(now()), toStartOfFiveMinute(now()), toStartOfHour(now()), toDate(now()), now()",
    "SELECT k, ts FROM f.m ORDER BY k, ts DESC LIMIT 1 BY k",
    "SELECT k, argMax(u, ts), groupArray(u), quantile(0.95)(u) FROM f.m GROUP BY k",
    "SELECT id, st FROM f.r FINAL",
    "SELECT partition, rows FROM system.parts WHERE database = 'f' AND active",
    "ALTER TABLE f.m DROP PARTITION 20240101",
    "ALTER TABLE f.m DROP PARTITION toYYYYMMDD(toDate('2024-01-02'))",
    "ALTER TABLE f.m DROP PARTITION tuple(toYYYYMMDD(toDate('2024-01-03')))",
    "ALTER TABLE f.m DROP PARTITION ID '20240104'",
    "ALTER TABLE f.m ADD COLUMN extra String DEFAULT ''",
]

REJECTED_ON_18_16 = [
    "ALTER TABLE f.m ADD COLUMN IF NOT EXISTS extra2 String",
    "ALTER TABLE f.m DROP COLUMN IF EXISTS extra",
    "ALTER TABLE f.m DROP PARTITION '20240105'",
    "SELECT toStartOfInterval(now(), INTERVAL 10 second)",
    "SELECT toStartOfFiveMinutes(now())",
    "WITH t AS (SELECT 1 AS a) SELECT * FROM t",
    "SELECT number, row_number() OVER (ORDER BY number) FROM system.numbers LIMIT 1",
    "SELECT {x:UInt8}",
    "CREATE TABLE f.dt64 (d DateTime64(3)) ENGINE = MergeTree ORDER BY d",
    "CREATE TABLE f.lc (k LowCardinality(String)) ENGINE = MergeTree ORDER BY k",
]


@pytest.fixture(scope="module")
def feature_db(server: LocalClickHouseServer) -> LocalClickHouseServer:
    c = server.client()
    c.execute("CREATE DATABASE IF NOT EXISTS f")
    c.execute(
        "CREATE TABLE IF NOT EXISTS f.m (d Date, ts DateTime, k String, u UInt64)"
        " ENGINE = MergeTree PARTITION BY toYYYYMMDD(d) ORDER BY (k, ts)"
    )
    c.disconnect()
    return server


@pytest.mark.parametrize("sql", ACCEPTED_ON_18_16)
def test_sql_accepted(feature_db: LocalClickHouseServer, sql: str) -> None:
    feature_db.client().execute(sql)


@pytest.mark.parametrize("sql", REJECTED_ON_18_16)
def test_sql_rejected(feature_db: LocalClickHouseServer, sql: str) -> None:
    from clickhouse_driver.errors import ServerException

    version = feature_db.client().execute("SELECT version()")[0][0]
    if not version.startswith("18."):
        pytest.skip(f"findings are for 18.16, server is {version}")
    with pytest.raises(ServerException):
        feature_db.client().execute(sql)


def test_uniq_state_merge_via_materialized_view(feature_db: LocalClickHouseServer) -> None:
    c = feature_db.client()
    for sql in ACCEPTED_ON_18_16[:4]:
        c.execute(sql)
    c.execute(
        "INSERT INTO f.m (d, ts, k, u) VALUES",
        [(dt.date(2024, 2, 1), dt.datetime(2024, 2, 1, 0, 0, i % 60), "x", i % 10) for i in range(100)],
        types_check=True,
    )
    assert c.execute("SELECT uniqMerge(u) FROM f.a WHERE k = 'x'") == [(10,)]


def test_enum_string_with_types_check_is_driver_bug(feature_db: LocalClickHouseServer) -> None:
    """Documents clickhouse-driver#328: use int codes when types_check=True."""
    c = feature_db.client()
    c.execute("CREATE TABLE IF NOT EXISTS f.e (s Enum8('ok' = 1, 'crit' = 2)) ENGINE = Memory")
    with pytest.raises(TypeError):
        c.execute("INSERT INTO f.e VALUES", [("crit",)], types_check=True)
    c.execute("INSERT INTO f.e VALUES", [(2,)], types_check=True)
    c.execute("INSERT INTO f.e VALUES", [("crit",)])
    assert c.execute("SELECT s, count() FROM f.e GROUP BY s") == [("crit", 2)]


def test_compression_needs_extras(feature_db: LocalClickHouseServer) -> None:
    try:
        import clickhouse_cityhash  # noqa: F401
        import lz4  # noqa: F401
    except ImportError:
        from clickhouse_driver.errors import UnknownCompressionMethod

        with pytest.raises((UnknownCompressionMethod, RuntimeError)):
            feature_db.client(compression=True).execute("SELECT 1")
    else:
        assert feature_db.client(compression="lz4").execute("SELECT count() FROM numbers(100000)") == [(100000,)]


# --- chDB (embedded engine) differences documented in the module docstring --

CHDB_SCRIPT = r"""
import sys
from chdb import session
sess = session.Session(sys.argv[1])
q = sess.query
def fails(sql, **kw):
    try:
        q(sql, "CSV", **kw)
    except Exception:
        return True
    return False
try:
    q("CREATE DATABASE IF NOT EXISTS f")
    q("CREATE TABLE f.m (d Date, k String, st Enum8('ok' = 1, 'crit' = 2))"
      " ENGINE = MergeTree PARTITION BY toYYYYMMDD(d) ORDER BY k")
    q("INSERT INTO f.m VALUES ('2024-01-01', 'a', 'ok'), ('2024-01-02', 'b', 2), ('2024-01-03', 'c', 'crit')")
    assert q("SELECT count() FROM f.m WHERE k = {k:String}", "CSV", params={"k": "a"}).data().strip() == "1"
    q("ALTER TABLE f.m ADD COLUMN IF NOT EXISTS extra String")           # not on 18.16
    q("ALTER TABLE f.m ADD COLUMN IF NOT EXISTS extra String")
    q("ALTER TABLE f.m DROP PARTITION '20240101'")                       # string literal: not on 18.16
    q("ALTER TABLE f.m DROP PARTITION tuple(toYYYYMMDD(toDate('2024-01-02')))")
    assert fails("ALTER TABLE f.m DROP PARTITION toYYYYMMDD(toDate('2024-01-03'))")  # bare expr
    assert fails("SELECT %(a)s", params={"a": 1})                         # no client-side %(x)s
    assert q("SELECT k, st FROM f.m", "CSV").data().strip() == '"c","crit"'
    merged = q("SELECT uniqMerge(s) FROM (SELECT uniqState(toUInt64(number)) AS s FROM numbers(10))")
    assert merged.data().strip() == "10"
finally:
    sess.close()
print("chdb-ok")
"""


def test_chdb_differences(tmp_path: Path) -> None:
    """Runs in a subprocess: chDB allows one embedded data path per process and
    reads ./config.xml from the cwd, so it is isolated from everything else."""
    import importlib.util

    if importlib.util.find_spec("chdb") is None:
        pytest.skip("chdb not installed")
    out = subprocess.run(
        [sys.executable, "-c", CHDB_SCRIPT, str(tmp_path / "chdb")],
        cwd=tmp_path,
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0 and "chdb-ok" in out.stdout, out.stderr[-3000:]
