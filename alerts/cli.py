"""`edu-alerts`: the alerting service (surge, drop, outage, anomaly, capacity) over the rates topic;
`edu-alerts replay SCENARIO`: a scenario through the worker's aggregation and the engine, no Kafka."""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import math
import signal

from prometheus_client import CollectorRegistry, start_http_server

from alerts import NATIVE
from contracts.beijing import BEIJING
from contracts.settings import Settings, load_settings


def positive(text: str) -> float:
    """An argparse type: a finite number above 0 (nan and inf failed deep in the replay, with a traceback)."""
    try:
        x = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(x) or x <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number above 0")
    return x


def seed(text: str) -> int:
    """An argparse type: a seed the generator takes (a non-negative integer)."""
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if n < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is negative")
    return n


def replay_main(args: argparse.Namespace) -> int:
    from alerts.episodes import judge
    from alerts.replay import describe, replay
    from simulators.scenario import load_scenario

    sc = load_scenario(args.scenario)
    provinces = args.provinces.split(",") if args.provinces else None
    shown = (lambda ch: True) if args.all else (lambda ch: ch.kind == "state")
    run = replay(
        sc,
        scale=args.scale,
        seed=args.seed,
        days=args.days,
        settings=load_settings(),
        provinces=provinces,
        through_worker=args.through_worker,
        announced=not args.unannounced_holidays,
        on_change=None if args.quiet else lambda ch: print(describe(ch), flush=True) if shown(ch) else None,
    )
    v = judge(sc, run.changes, scenario_end=min(sc.end_ms, sc.start_ms + int((args.days or 1e9) * 86_400_000)) / 1000)
    print(f"closures missed={len(v.missed)} late={len(v.late)} split={len(v.split)} false_alerts={len(v.false)}")
    print(
        f"events={run.events} changes={len(run.changes)} late_rows={run.late_rows} seconds={run.seconds:.1f} "
        f"fold={'worker' if args.through_worker else 'columns'} detectors={NATIVE}"
    )
    return 0


def warn_calendar_end(settings: Settings, today: dt.date | None = None) -> str | None:
    """Warn (and return the warning) when the official calendar is on but knows no days for this
    year: the package is updated once the State Council announces a year, and until then the
    year's holidays must be named in EDU_CALENDAR_REST_DAYS / EDU_CALENDAR_SCHOOL_DAYS."""
    if not settings.calendar_official:
        return None
    from contracts.calendar import official_calendar

    year = (today or dt.datetime.now(BEIJING).date()).year
    last = official_calendar()[1]
    if year <= last:
        return None
    msg = (
        f"EDU_CALENDAR_OFFICIAL: the official calendar knows holidays up to {last}, not {year}; name this "
        "year's holidays and make-up days in EDU_CALENDAR_REST_DAYS and EDU_CALENDAR_SCHOOL_DAYS"
    )
    logging.getLogger("alerts.calendar").warning(msg)
    return msg


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="edu-alerts",
        description="Evaluate alert rules minute by minute in event time over the rates topic; publish state "
        "changes to the alerts topic (stored by edu-sink) and deliver to Alertmanager/webhooks "
        "(EDU_ALERTS_ALERTMANAGER_URL, EDU_ALERTS_WEBHOOK_URLS).",
    )
    parser.add_argument("--loglevel", default="info")
    sub = parser.add_subparsers(dest="command")
    rp = sub.add_parser(
        "replay", help="run a scenario through aggregation and the alert engine, no Kafka; print every state change"
    )
    rp.add_argument("scenario", help="a scenario name (simulators/scenarios) or a YAML path")
    rp.add_argument("--scale", type=positive, default=None, help="fraction of the real traffic (default: the file's)")
    rp.add_argument("--seed", type=seed, default=1)
    rp.add_argument("--days", type=positive, default=None, help="only the first N days")
    rp.add_argument(
        "--provinces",
        default="",
        help="comma-separated codes judged (default: all; a subset learns the shared burstiness from fewer series)",
    )
    rp.add_argument("--quiet", action="store_true", help="print only the summary")
    rp.add_argument("--all", action="store_true", help="also acks and silences (none in a replay)")
    rp.add_argument(
        "--through-worker",
        action="store_true",
        help="render every click message and fold it with the worker's own aggregate (same results, slower)",
    )
    rp.add_argument(
        "--unannounced-holidays",
        action="store_true",
        help="judge the scenario's holidays as days nobody told the engine of (default: they are in its calendar)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.loglevel.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s")
    if args.command == "replay":
        return replay_main(args)
    settings = load_settings()
    warn_calendar_end(settings)

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
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
