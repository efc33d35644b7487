"""`edu-cockpit`: load settings, open the store, migrate, serve the cockpit; `edu-cockpit operators
add NAME` creates an operator who can sign in.

With `--with-sink` the sink runs in a thread of this process: with embedded chDB only one process may
open the data path, so the process that serves the cockpit must also do the sink's inserts.
"""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from collections.abc import Sequence
from typing import Any

from contracts.settings import load_settings

log = logging.getLogger("cockpit")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="edu-cockpit",
        description="Serve the traffic cockpit (Dash) over the ClickHouse store named by the EDU_* "
        "settings. Options override the matching settings.",
    )
    p.add_argument("--host", help="listen address (EDU_COCKPIT_HOST)")
    p.add_argument("--port", type=int, help="listen port (EDU_COCKPIT_PORT)")
    p.add_argument("--refresh-ms", type=int, help="page refresh interval in ms (EDU_COCKPIT_REFRESH_MS)")
    p.add_argument("--engine", choices=("chdb", "server"), help="store engine (EDU_CLICKHOUSE_ENGINE)")
    p.add_argument("--chdb-path", help="embedded store directory (EDU_CHDB_PATH)")
    p.add_argument(
        "--with-sink",
        action="store_true",
        help="also run the sink in a thread of this process (required for a local chDB store that the sink writes to)",
    )
    p.add_argument("--no-migrate", action="store_true", help="do not create missing tables at start")
    p.add_argument("--debug", action="store_true", help="Dash debug mode (dev tools, reloader off)")
    p.add_argument("--log-level", default="INFO", choices=("DEBUG", "INFO", "WARNING", "ERROR"))
    return p.parse_args(argv)


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    pairs = {
        "cockpit_host": args.host,
        "cockpit_port": args.port,
        "cockpit_refresh_ms": args.refresh_ms,
        "clickhouse_engine": args.engine,
        "chdb_path": args.chdb_path,
    }
    return {k: v for k, v in pairs.items() if v is not None}


def _stop_on_sigterm() -> object:
    """Treat SIGTERM (docker stop, the local launcher) like Ctrl-C, so the sink flushes and the store
    closes; returns the previous handler to restore."""
    if threading.current_thread() is not threading.main_thread():
        return None

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    return signal.signal(signal.SIGTERM, interrupt)


def operators_main(argv: Sequence[str]) -> int:
    """`edu-cockpit operators add NAME [--password-stdin]` / `operators list`: the first-run path to
    an operator who can sign in (the password is prompted twice, or read from stdin for scripts)."""
    import getpass
    import sys

    from cockpit.auth import add_operator, load_operators, operators_path

    p = argparse.ArgumentParser(
        prog="edu-cockpit operators",
        description="Manage the operators who may sign in (EDU_COCKPIT_OPERATORS_FILE, default <data dir>/operators).",
    )
    sub = p.add_subparsers(dest="action", required=True)
    add = sub.add_parser("add", help="add an operator or set a new password (scrypt hash)")
    add.add_argument("name")
    add.add_argument("--password-stdin", action="store_true", help="read the password from stdin (one line)")
    sub.add_parser("list", help="list operator names")
    args = p.parse_args(argv)
    path = operators_path(load_settings())
    if args.action == "list":
        for name in sorted(load_operators(path) if path.exists() else {}):
            print(name)
        return 0
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass(f"password for {args.name}: ")
        if getpass.getpass("again: ") != password:
            print("the passwords differ; nothing written", file=sys.stderr)
            return 2
    try:
        new = add_operator(path, args.name, password)
    except ValueError as err:
        print(f"refused: {err}", file=sys.stderr)
        return 2
    print(f"{'added' if new else 'updated'} operator {args.name} in {path}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    import sys

    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["operators"]:
        return operators_main(argv[1:])
    args = parse_args(argv)
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = load_settings(**_overrides(args))

    from prometheus_client import CollectorRegistry

    from cockpit.app import create_app
    from sinks.migrate import migrate
    from sinks.store import open_store

    store = open_store(settings)
    sink = supervisor = None
    previous = _stop_on_sigterm()
    try:
        if not args.no_migrate:
            migrate(store, settings.clickhouse_cluster)
        # One registry for the process: in local mode the sink's metrics (edu_sink_*) are served on
        # the cockpit's /metrics, since the sink has no HTTP server of its own here.
        registry = CollectorRegistry()
        if args.with_sink:
            from sinks.runner import start_sink_thread, stop_process  # lazy: only this mode needs the sink

            # A sink that stops for good ends this process: no frozen numbers under a "Live" pill.
            sink = start_sink_thread(settings, store, registry, on_fatal=stop_process)
            from cockpit.rehearsal import Supervisor  # an isolated rehearsal's sink, in this process too

            supervisor = Supervisor(settings, store).start()
        app = create_app(settings, store, registry=registry)
        if sink is not None:
            from sinks.health import add_to_healthz

            add_to_healthz(app.server, sink.health)  # /healthz reports the sink too
        log.info("cockpit on http://%s:%d/ (store: %s)", settings.cockpit_host, settings.cockpit_port, store.engine)
        app.run(
            host=settings.cockpit_host, port=settings.cockpit_port, debug=args.debug, use_reloader=False, threaded=True
        )
    except KeyboardInterrupt:
        pass
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)  # type: ignore[arg-type]
        if supervisor is not None:
            supervisor.stop()
        if sink is not None:
            sink.stop()
        store.close()
        log.info("cockpit stopped")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
