"""`edu-local`: the whole pipeline on this machine, for the README's first command.

Starts (or reuses) a single-node Kafka, creates the topics, then runs the Faust worker, the alerting
service, the cockpit
(which owns the embedded chDB store and runs the sink in a thread: one chDB path, one process) and a
simulator sending live traffic. Prints the cockpit's URL; Ctrl-C stops everything it started. If
any service dies, the launcher says which, shows its log tail and stops the rest.
"""

from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys
import time
from pathlib import Path

from contracts.settings import Settings, load_settings
from ops.supervise import Child, http_ok, spawn_service, stop_children, stop_on_signals, wait_until, watch


def _load_catalogue(path: Path, logs: Path) -> None:
    """The simulator's resource catalogue into the `resources` table, as a platform loads its own."""
    with open(logs / "catalogue.log", "ab") as out:
        for args in (
            ["simulators.cli", "catalogue", "--out", str(path)],
            ["sinks.cli", "resources", "load", str(path)],
        ):
            if subprocess.run([sys.executable, "-m", *args], stdout=out, stderr=subprocess.STDOUT).returncode:
                raise RuntimeError(f"loading the resource catalogue failed; see {logs / 'catalogue.log'}")


def run(settings: Settings, rate: float, simulate: bool) -> int:
    from contracts.topics import ensure_topics
    from ops.kafka_local import LocalKafka

    logs = settings.data_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    stop = stop_on_signals()

    kafka = LocalKafka(
        settings.kafka_port,
        settings.kafka_controller_port,
        data_dir=settings.data_dir / "kafka",
        extra_config={"message.max.bytes": str(4 * 1024 * 1024)},
    )
    children: list[Child] = []
    t0 = time.monotonic()
    alertmanager = None
    try:
        print(f"==> Kafka {settings.kafka_bootstrap}", flush=True)
        kafka.fetch()
        # Its own session: a terminal's Ctrl-C reaches our process group, and a broker gone first leaves
        # every client retrying it through its shutdown (CI: 120 s to stop). It stops last, below.
        kafka.start(timeout=90, detach=True)
        ensure_topics(settings)
        alertmanager = _start_alertmanager(settings)
        print("==> worker, alerting, cockpit (+ sink, chDB)" + (", simulator" if simulate else ""), flush=True)
        if simulate:  # titles of the simulated resources, before the cockpit takes the chDB path
            _load_catalogue(settings.data_dir / "catalogue.jsonl", logs)
        children.append(spawn_service("worker", ["streams.cli"], logs))
        children.append(spawn_service("alerts", ["alerts.cli"], logs))
        children.append(spawn_service("cockpit", ["cockpit.cli", "--with-sink"], logs))
        children.append(spawn_service("collector", ["collector.cli", "serve"], logs))  # HTTP front door (issue 16)
        url = f"http://{settings.cockpit_host}:{settings.cockpit_port}/"
        wait_until(lambda: http_ok(url + "healthz"), 120, "the cockpit", children, stop)
        if simulate:
            children.append(spawn_service("simulator", ["simulators.cli", "run", "--live", "--rate", str(rate)], logs))
        if stop.is_set():
            return 130
        print(
            f"\n  Cockpit: {url}   (ready in {time.monotonic() - t0:.1f}s; logs in {logs}; Ctrl-C stops)\n", flush=True
        )
        print(
            f"  Collector: http://{settings.collector_host}:{settings.collector_port}/api/event   tracker: /t.js\n",
            flush=True,
        )
        print(
            f"  Rehearse: .venv/bin/edu-simulate rehearse march-2022 --speed 36000, then {url}rehearsal/enter "
            "(docs/rehearsals.md)\n",
            flush=True,
        )
        _print_operator_hint(settings, alertmanager)
        return watch(children, stop)
    except RuntimeError as err:
        print(f"!! {err}", file=sys.stderr)
        return 1
    finally:
        print("==> stopping", flush=True)
        _stop_rehearsal(settings)
        stop_children(children)
        if alertmanager is not None:
            alertmanager.stop()
        kafka.stop()


def _stop_rehearsal(settings: Settings) -> None:
    """An isolated rehearsal's worker and alerting (started by `edu-simulate rehearse`) stop with the
    stack; its data stays until `edu-simulate rehearse-end` (issue 15)."""
    import msgspec

    from contracts.rehearsal import Manifest, read_manifest, write_manifest
    from simulators.rehearse import stop_pids

    m = read_manifest(settings)
    if isinstance(m, Manifest) and m.pids:
        stop_pids(m.pids)
        write_manifest(
            settings, msgspec.structs.replace(m, pids=(), status="finished" if m.status == "running" else m.status)
        )


def _start_alertmanager(settings: Settings):
    """Issue 14: a local Alertmanager for the alerting service (unless one is configured or
    `alertmanager_port` is 0); its URL reaches the children through EDU_ALERTS_ALERTMANAGER_URL."""
    if settings.alerts_alertmanager_url or not settings.alertmanager_port:
        return None
    from ops.alertmanager_local import LocalAlertmanager, find_alertmanager

    try:
        find_alertmanager()
    except FileNotFoundError as err:
        print(f"!! no Alertmanager: {err}", file=sys.stderr)
        return None
    am = LocalAlertmanager(settings.data_dir / "alertmanager", settings.alertmanager_port)
    am.start(timeout=30)
    os.environ["EDU_ALERTS_ALERTMANAGER_URL"] = am.url
    print(f"==> Alertmanager {am.url}", flush=True)
    return am


def _print_operator_hint(settings: Settings, alertmanager) -> None:
    """Issue 14: say how to create an operator while none exists."""
    from cockpit.auth import load_operators, operators_path

    path = operators_path(settings)
    if not (path.exists() and load_operators(path)):
        print(
            f"  No operator can sign in yet. Create one (password prompted, stored hashed in {path}):\n"
            "      .venv/bin/edu-cockpit operators add NAME\n",
            flush=True,
        )
    if alertmanager is not None:
        print(f"  Alertmanager: {alertmanager.url}  (chat robots: EDU_ALERTS_WEBHOOK_URLS, see README)\n", flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="edu-local", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=None, help="simulated events/s (default EDU_SIMULATOR_RATE)")
    parser.add_argument("--no-simulator", action="store_true", help="start the pipeline without traffic")
    parser.add_argument(
        "--cluster",
        action="store_true",
        help="3 Kafka brokers and 2x2 ClickHouse 18.16 with ZooKeeper (ops/launch_cluster.py)",
    )
    args = parser.parse_args(argv)
    if args.rate is not None and not (math.isfinite(args.rate) and args.rate > 0):
        parser.error(f"--rate {args.rate:g}: events/s is a finite number above 0 (no traffic: --no-simulator)")
    settings = load_settings()
    if args.cluster:  # issue 17: the same services on a local cluster, ClickHouse server not chDB
        from ops.launch_cluster import run_cluster

        sys.exit(run_cluster(settings, args.rate or settings.simulator_rate, not args.no_simulator))
    if settings.clickhouse_engine != "chdb":
        raise SystemExit("edu-local runs the embedded chDB store; for a ClickHouse server use docker-compose.yml")
    sys.exit(run(settings, args.rate or settings.simulator_rate, not args.no_simulator))


if __name__ == "__main__":
    main()
