"""`edu-alerts`: the alerting service (surge, drop, outage, anomaly, capacity) over the rates topic."""
from __future__ import annotations

import argparse
import logging
import signal

from prometheus_client import CollectorRegistry, start_http_server

from contracts.settings import load_settings


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="edu-alerts",
        description="Evaluate alert rules minute by minute in event time over the rates topic; publish state "
        "changes to the alerts topic (stored by edu-sink) and deliver to Alertmanager/webhooks "
        "(EDU_ALERTS_ALERTMANAGER_URL, EDU_ALERTS_WEBHOOK_URLS).")
    parser.add_argument("--loglevel", default="info")
    args = parser.parse_args(argv)
    settings = load_settings()
    logging.basicConfig(level=args.loglevel.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s")

    from alerts.service import AlertService
    from contracts.topics import ensure_topics

    ensure_topics(settings)
    registry = CollectorRegistry()
    if settings.alerts_metrics_port:
        start_http_server(settings.alerts_metrics_port, addr=settings.metrics_host, registry=registry)
    service = AlertService(settings, registry)
    signal.signal(signal.SIGTERM, lambda *_: service.stop())
    try:
        service.run()
    except KeyboardInterrupt:
        service.stop()


if __name__ == "__main__":
    main()
