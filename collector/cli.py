"""`edu-collect`: the HTTP collector (`serve`, the default) and the access-log importer (`logs`)."""

from __future__ import annotations

import argparse
import gc
import logging
import sys
from pathlib import Path

from contracts.settings import load_settings


def serve(args: argparse.Namespace) -> int:
    import uvicorn

    from collector.app import create_app
    from collector.service import Collector
    from contracts.topics import ensure_topics

    settings = load_settings()
    if not args.no_create_topics:
        try:
            ensure_topics(settings)
        except (Exception, SystemExit) as err:  # unreachable broker: contracts.topics exits; the spool holds events
            logging.getLogger("edu-collect").warning(
                "topics not checked (%s); events are spooled until Kafka answers", err
            )
    # The sender's and kafka-python's threads share the GIL with the event loop: with the default
    # 5 ms switch interval a request waits up to 5 ms for it whenever they are busy.
    sys.setswitchinterval(args.switch_interval)
    collector = Collector(settings, sender_process=True)
    collector.start()
    # The region tables and parsers built above are long-lived: keep the cyclic collector off them,
    # and collect the young generation less often (a request allocates a few hundred objects).
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 20, 100)
    try:
        uvicorn.run(
            create_app(collector),
            host=args.host or settings.collector_host,
            port=args.port or settings.collector_port,
            log_level=args.loglevel,
            access_log=False,
            loop="uvloop",
            http="httptools",
            lifespan="off",
            timeout_graceful_shutdown=10,
            proxy_headers=False,  # the client address is decided once, by collector.address
            server_header=False,
            limit_concurrency=args.limit_concurrency,
            backlog=2048,
        )
    finally:
        collector.stop()
    return 0


def logs(args: argparse.Namespace) -> int:
    import signal

    from collector.logs import run_import

    def interrupt(*_: object) -> None:
        raise KeyboardInterrupt  # SIGTERM stops like Ctrl-C: what was read is journaled and sent first

    signal.signal(signal.SIGTERM, interrupt)

    return run_import(load_settings(), args)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="edu-collect",
        description="The collector: platform pages, apps and "
        "servers send events over HTTP; access logs are imported. Settings: EDU_COLLECTOR_*.",
    )
    parser.add_argument("--loglevel", default="warning", choices=["debug", "info", "warning", "error"])
    sub = parser.add_subparsers(dest="command")
    p = sub.add_parser("serve", help="run the HTTP collector (the default)")
    p.add_argument("--host", default=None, help="default EDU_COLLECTOR_HOST")
    p.add_argument("--port", type=int, default=None, help="default EDU_COLLECTOR_PORT")
    p.add_argument("--limit-concurrency", type=int, default=2000, help="connections+tasks before 503")
    p.add_argument("--no-create-topics", action="store_true")
    p.add_argument("--switch-interval", type=float, default=0.0005, help="GIL switch interval, s (Python's is 0.005)")
    p.set_defaults(func=serve)
    q = sub.add_parser("logs", help="import Nginx access logs (FILE or - for stdin)")
    q.add_argument("file", help="access log path, or - for standard input")
    q.add_argument(
        "--format",
        default="combined",
        help="'combined' or an Nginx log_format string using $remote_addr, $time_local, $request, "
        "$status, $http_user_agent, $http_x_forwarded_for (others are skipped)",
    )
    q.add_argument(
        "--map",
        type=Path,
        default=None,
        help="URL -> resource mapping (YAML); default "
        "EDU_COLLECTOR_RESOURCE_MAP or every successful GET is a pageview of its path",
    )
    q.add_argument("--platform", default="k12", help="platform of URLs the mapping does not name")
    q.add_argument("--follow", action="store_true", help="keep reading new lines, across rotation (like tail -F)")
    q.add_argument("--dry-run", action="store_true", help="parse and count, send nothing")
    q.add_argument("--no-ledger", action="store_true", help="import even what the ledger says was imported")
    q.set_defaults(func=logs)
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.loglevel.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s")
    if args.command is None:
        args = parser.parse_args([*(argv or sys.argv[1:]), "serve"])
    sys.exit(args.func(args))


if __name__ == "__main__":
    main()
