"""`edu-sink`: run the ClickHouse sink, or just the migrations."""
from __future__ import annotations

import argparse
import logging
import signal

from prometheus_client import CollectorRegistry, start_http_server

from contracts.settings import load_settings


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="edu-sink",
        description="Consume rate batches from Kafka and store them in ClickHouse (chDB or a server, "
        "per EDU_CLICKHOUSE_ENGINE). With chDB, only one process may own the data path: in local "
        "mode run the sink inside the cockpit (`edu-cockpit --with-sink`).")
    parser.add_argument("command", nargs="?", default="run", choices=["run", "migrate"],
                        help="run the sink (default), or apply pending migrations and exit")
    parser.add_argument("--loglevel", default="info")
    args = parser.parse_args(argv)
    settings = load_settings()
    logging.basicConfig(level=args.loglevel.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s")

    from sinks.metrics import SinkMetrics
    from sinks.migrate import migrate
    from sinks.runner import Sink
    from sinks.store import open_store

    store = open_store(settings)
    applied = migrate(store)
    logging.getLogger("edu-sink").info("migrations applied now: %s", applied or "none pending")
    if args.command == "migrate":
        return
    registry = CollectorRegistry()
    if settings.sink_metrics_port:
        start_http_server(settings.sink_metrics_port, addr=settings.metrics_host, registry=registry)
    sink = Sink(settings, store, SinkMetrics.create(registry))
    signal.signal(signal.SIGTERM, lambda *_: sink.stop())
    try:
        sink.run()
    except KeyboardInterrupt:
        sink.stop()
    finally:
        store.close()


if __name__ == "__main__":
    main()
