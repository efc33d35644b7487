"""`create_app`: the Dash app over a store the caller owns, plus /metrics and /healthz.

The store is passed in, never opened here: with embedded chDB one process owns the data path, and in
local mode that process also runs the sink, so whoever starts the process opens the store once.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import dash
from flask import Flask, Response, jsonify
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from cockpit import auth, hardening, rehearsal
from cockpit.acks import AckRecorder, Producer, kafka_producer_factory
from cockpit.callbacks import register_callbacks
from cockpit.i18n import DEFAULT_LANG, t
from cockpit.metrics import CockpitMetrics
from cockpit.queries import Queries
from cockpit.shell import build_layout
from contracts.settings import Settings
from sinks.store import Store

ASSETS = Path(__file__).parent / "assets"

_INDEX = """<!DOCTYPE html>
<html lang="zh-CN">
    <head>
        {%metas%}
        <title>{%title%}</title>
        {%favicon%}
        {%css%}
    </head>
    <body>
        {%app_entry%}
        <footer>
            {%config%}
            {%scripts%}
            {%renderer%}
        </footer>
    </body>
</html>"""


def create_app(
    settings: Settings,
    store: Store,
    clock: Callable[[], float] | None = None,
    registry: CollectorRegistry | None = None,
    producer_factory: Callable[[], Producer] | None = None,
) -> dash.Dash:
    """Build the cockpit over `store`.

    `clock` (epoch seconds; default `time.time`) drives the query cache's expiry and the "refreshed
    at" label, never the data: the data's "now" is the latest stored minute. `registry` receives the
    cockpit's metrics (a fresh one if omitted, never the global default). `producer_factory` makes
    the Kafka producer acknowledgements go through, on first use (default: kafka-python's
    `KafkaProducer` on `settings.kafka_bootstrap`); tests pass a fake.
    """
    clock = clock or time.time
    registry = registry if registry is not None else CollectorRegistry()
    metrics = CockpitMetrics(registry)
    queries = Queries(store, settings.cockpit_cache_s, clock=clock, metrics=metrics, calendar=settings.school_calendar)

    app = dash.Dash(
        __name__,
        title=t("title", DEFAULT_LANG),
        update_title=None,  # type: ignore[arg-type]  # None: the tab title must not flicker each refresh
        assets_folder=str(ASSETS),
        index_string=_INDEX,
        meta_tags=[{"name": "viewport", "content": "width=device-width, initial-scale=1"}],
    )
    app.layout = build_layout(settings)
    queries = rehearsal.install(app, queries, settings)  # type: ignore[assignment]  # per-viewer namespace
    register_callbacks(app, queries, clock, metrics, settings.cockpit_refresh_ms, settings)
    acks = AckRecorder(
        queries,
        settings.topic_alerts,
        producer_factory or kafka_producer_factory(settings),
        settings.cockpit_silence_durations_s,
    )
    hardening.install(app.server, settings, list(app.csp_hashes()))
    auth.install(app.server, settings, acks)
    app.cockpit_acks = acks  # type: ignore[attr-defined]
    _add_ops_routes(app.server, queries, registry)
    _cache_layout(app)
    app.cockpit_queries = queries  # type: ignore[attr-defined]  # for tests and the benchmark
    return app


def _cache_layout(app: dash.Dash) -> None:
    """Serve the layout's JSON encoded once: it is static (the map geometry, the placeholders), and
    encoding it took ~0.7 s per page load, most of the wait before the first paint of data."""
    from dash._utils import to_json

    body: list[str] = []

    def serve() -> Response:
        if not body:
            body.append(to_json(app.get_layout()))
        return Response(body[0], mimetype="application/json")

    for rule in app.server.url_map.iter_rules():
        if rule.rule.endswith("/_dash-layout"):
            app.server.view_functions[rule.endpoint] = serve


def _add_ops_routes(server: Flask, queries: Queries, registry: CollectorRegistry) -> None:
    """/metrics for Prometheus; /healthz answers 503 when the store cannot be queried."""

    def metrics() -> Response:
        return Response(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)

    def healthz() -> tuple[Response, int]:
        try:
            ok = queries.ping()
        except Exception as err:  # the engine's own error class varies; any failure is unhealthy
            return jsonify(status="unavailable", engine=queries.store.engine, error=str(err)[:200]), 503
        status = "ok" if ok else "unavailable"
        return jsonify(status=status, engine=queries.store.engine), 200 if ok else 503

    server.add_url_rule("/metrics", "metrics", metrics)
    server.add_url_rule("/healthz", "healthz", healthz)
