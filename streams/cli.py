"""`edu-worker`: run a Faust stream worker with settings from the environment."""

from __future__ import annotations

import argparse
import atexit
import logging
import sys

from prometheus_client import CollectorRegistry, start_http_server

from contracts.settings import load_settings


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="edu-worker",
        description="Faust worker: validates click events, aggregates them per event-time minute and "
        "sends rate batches to the rates topic (dead letters to the dead-letter topic). "
        "Settings come from EDU_* environment variables; run several for scale-out.",
    )
    parser.add_argument("--loglevel", default="info", choices=["debug", "info", "warning", "error"])
    parser.add_argument("--no-create-topics", action="store_true", help="do not create missing topics")
    args = parser.parse_args(argv)
    settings = load_settings()
    logging.basicConfig(level=args.loglevel.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s")

    from contracts.topics import ensure_topics
    from streams.agents import register
    from streams.app import create_app
    from streams.metrics import WorkerMetrics
    from streams.rates_sender import RatesSender
    from streams.runtime import fix_mmap_threshold, tune_gc

    if not args.no_create_topics:
        ensure_topics(settings)
    registry = CollectorRegistry()
    metrics = WorkerMetrics.create(registry)
    if settings.worker_metrics_port:
        start_http_server(settings.worker_metrics_port, addr=settings.metrics_host, registry=registry)
    app = create_app(settings)
    sender = RatesSender(settings, client_id=f"{settings.worker_id}-rates")
    sender.start()
    atexit.register(sender.stop)
    register(app, settings, metrics, sender.send)
    tune_gc()
    fix_mmap_threshold()
    # Faust's CLI overrides web_enabled from its own flag: say it here too (our /metrics is separate).
    faust_level = {"warning": "warn"}.get(args.loglevel, args.loglevel)  # Faust's own level names
    sys.argv = [sys.argv[0], "worker", "--without-web", "--loglevel", faust_level]
    app.main()


if __name__ == "__main__":
    main()
