"""`edu-sink`: run the ClickHouse sink, apply migrations, enforce retention, print cluster DDL.

edu-sink [run]                        migrate, then consume rates into ClickHouse until SIGTERM
                                      (/metrics and /healthz on EDU_SINK_METRICS_PORT)
edu-sink migrate                      apply pending migrations and exit
edu-sink retention [--dry-run] [--today YYYY-MM-DD] [--clock event|wall]
                                      drop expired partitions now (the sink also does it hourly)
edu-sink cluster-ddl --cluster NAME   print the ReplicatedMergeTree + Distributed schema
edu-sink resources load FILE|-        load the resource catalogue (CSV or JSONL) for the cockpit's titles
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from datetime import date
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry

from contracts.settings import load_settings

if TYPE_CHECKING:
    from sinks.store import Store


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="edu-sink",
        description="Consume rate batches from Kafka and store them in ClickHouse (chDB or a server, "
        "per EDU_CLICKHOUSE_ENGINE). With chDB, only one process may own the data path: in local "
        "mode run the sink inside the cockpit (`edu-cockpit --with-sink`), and run `retention` "
        "only while that process is stopped (it enforces retention itself, hourly).",
    )
    parser.add_argument(
        "command",
        nargs="?",
        default="run",
        choices=["run", "migrate", "retention", "cluster-ddl", "resources"],
        help="run the sink (default); apply pending migrations and exit; drop expired "
        "partitions and exit; print the cluster variant of the schema and exit",
    )
    parser.add_argument("args", nargs="*", help="resources: `load FILE` (FILE may be - for standard input)")
    parser.add_argument("--loglevel", default="info")
    parser.add_argument("--dry-run", action="store_true", help="retention: list what would be dropped")
    parser.add_argument(
        "--today",
        type=date.fromisoformat,
        default=None,
        help="retention: the Beijing date to expire against (default: per --clock)",
    )
    parser.add_argument(
        "--clock",
        choices=["event", "wall"],
        default=None,
        help="retention: 'event' = the latest day stored (default), 'wall' = today",
    )
    parser.add_argument("--cluster", default=None, help="cluster-ddl: the cluster name in remote_servers")
    parser.add_argument("--database", default=None, help="cluster-ddl: database (default: the setting)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = _parse(argv)
    settings = load_settings()
    logging.basicConfig(level=args.loglevel.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s")
    log = logging.getLogger("edu-sink")

    if args.command == "cluster-ddl":
        from sinks.cluster import cluster_ddl

        if not args.cluster:
            raise SystemExit("edu-sink cluster-ddl: --cluster NAME is required")
        for sql in cluster_ddl(args.database or settings.clickhouse_database, args.cluster):
            sys.stdout.write(sql.strip() + ";\n\n")
        return

    from sinks.migrate import migrate
    from sinks.runner import start_sink_thread
    from sinks.store import open_store

    store = open_store(settings)
    try:
        applied = migrate(store, settings.clickhouse_cluster)
        log.info("migrations applied now: %s", applied or "none pending")
        if args.command == "migrate":
            return
        if args.command == "resources":
            _load_resources(store, args.args)
            return
        if args.command == "retention":
            from sinks.retention import run_once

            today, dropped = run_once(store, settings, clock=args.clock, today=args.today, dry_run=args.dry_run)
            verb = "would drop" if args.dry_run else "dropped"
            for d in dropped:
                print(f"{verb} {d.table} partition {d.partition} ({d.rows} rows)")
            print(f"retention as of {today or 'an empty store'}: {verb} {len(dropped)} partition(s)")
            return
        registry = CollectorRegistry()
        sinks = start_sink_thread(settings, store, registry)  # one thread per rates topic
        if settings.sink_metrics_port:
            from sinks.health import serve

            serve(settings.metrics_host, settings.sink_metrics_port, registry, sinks.health)  # /metrics, /healthz
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        try:
            while not stop.wait(1.0):
                sinks.check()  # a dead sink thread ends the service loudly
        except KeyboardInterrupt:
            pass
        finally:
            sinks.stop()
    finally:
        store.close()


def _load_resources(store: Store, words: list[str]) -> None:
    from sinks.resources_load import load, open_text

    if len(words) != 2 or words[0] != "load":
        raise SystemExit("usage: edu-sink resources load FILE|-")
    with open_text(words[1]) as stream:
        report = load(store, stream)
    for line, reason in report.refused:
        print(f"line {line}: refused: {reason}", file=sys.stderr)
    print(f"resources loaded={report.loaded} refused={report.refused_total}")
    if report.loaded == 0 and report.refused_total:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
