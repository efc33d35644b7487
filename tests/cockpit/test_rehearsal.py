"""The cockpit's side of a rehearsal, without a browser: the banner each viewer gets, the per-viewer
switch between the live and the rehearsal's database, the events / late / refused strip."""

from __future__ import annotations

import msgspec
from dash import html
from prometheus_client import CollectorRegistry

from cockpit import rehearsal
from cockpit.app import create_app
from cockpit.timeframe import MINUTE
from contracts.rehearsal import Manifest, namespace, write_manifest
from contracts.settings import Settings
from sinks.store import ChdbStore
from tests.cockpit import data as fx
from tests.conftest import private_database

WEEK_MS = 7 * 86_400_000
SHIFT = 245 * WEEK_MS


def manifest(**kw: object) -> Manifest:
    base: dict[str, object] = dict(
        id="rhc0ffee",
        scenario="march-2022",
        target="isolated",
        speed=36000.0,
        scale=0.001,
        shift_ms=SHIFT,
        started_ms=0,
        paced_from_ms=0,
        end_ms=1,
    )
    return Manifest(**{**base, **kw})  # type: ignore[arg-type]


def text(children: list[object]) -> str:
    return "".join(c.children if isinstance(c, (html.Span, html.Strong, html.A)) else str(c) for c in children)  # type: ignore[misc]


def test_the_banner_says_rehearsal_with_the_scenario_clock_only_to_viewers_inside() -> None:
    m = manifest()
    latest = 1646064000 + SHIFT // 1000 + 20 * 86400 + 10 * 3600  # 21 March 2022 10:00 +08, shifted
    inside, cls = rehearsal.banner_children(m, True, latest)
    assert cls == "rehearsal-banner active"
    assert "演练 / Rehearsal" in text(inside) and "2022-03-21 10:00" in text(inside)
    assert "返回实况 / back to live" in text(inside)
    outside, cls = rehearsal.banner_children(m, False, None)
    assert cls == "rehearsal-banner notice" and "演练进行中" in text(outside)
    live, cls = rehearsal.banner_children(manifest(target="live"), False, latest)
    assert cls == "rehearsal-banner active" and "实况系统 / live stack" in text(live)
    assert rehearsal.banner_children(manifest(status="ended"), True, latest) == ([], "rehearsal-banner hidden")
    assert rehearsal.banner_children(None, False, None) == ([], "rehearsal-banner hidden")


def test_each_viewer_reads_the_namespace_of_its_cookie(store: ChdbStore, tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings = Settings(data_dir=tmp_path, cockpit_cache_s=0.0)
    m = manifest(rest_days="2023-05-01")  # a holiday of the (shifted) scenario
    fx.truncate(store)
    fx.insert_clicks(store, fx.clicks_rows(fx.NOW - 10 * MINUTE, fx.NOW))
    live_store = store.with_database(store.database)
    settings = settings.model_copy(update={"clickhouse_database": store.database})
    reh = private_database(store, namespace(settings, m.id).clickhouse_database)
    try:
        fx.insert_clicks(reh, fx.clicks_rows(fx.NOW + 3600 - 5 * MINUTE, fx.NOW + 3600))
        reh.insert("rejects_minute", ("minute", "reason", "events"), [(fx.NOW + 3600, "schema", 10)])
        app = create_app(settings, live_store, registry=CollectorRegistry())
        q = app.cockpit_queries  # type: ignore[attr-defined]
        server = app.server
        live_now = fx.NOW // 60 * 60
        with server.test_request_context("/"):
            assert q.latest_minute() == live_now  # no rehearsal announced
        write_manifest(settings, m)
        q._manifests._at = -1e18  # re-read now, not after its second
        with server.test_request_context("/", headers={"Cookie": f"{rehearsal.COOKIE}={m.id}"}):
            assert q.latest_minute() == live_now + 3600
            assert "拒收 2/分" in rehearsal.rate_strip(q.pick(), "zh")  # 10 refused over the last five minutes
            assert "refused 2/min" in rehearsal.rate_strip(q.pick(), "en")
            assert q.calendar.rest_days() == {19_478}  # its baselines judge the scenario's holiday as one
        with server.test_request_context("/", headers={"Cookie": f"{rehearsal.COOKIE}=rhother"}):
            assert q.latest_minute() == live_now
            assert q.calendar.rest_days() == frozenset()
        write_manifest(settings, msgspec.structs.replace(m, status="ended"))
        q._manifests._at = -1e18
        with server.test_request_context("/", headers={"Cookie": f"{rehearsal.COOKIE}={m.id}"}):
            assert q.latest_minute() == live_now  # an ended rehearsal sends everyone back to live
        client = server.test_client()
        write_manifest(settings, m)
        q._manifests._at = -1e18
        resp = client.get("/rehearsal/enter")
        assert resp.status_code == 302 and f"{rehearsal.COOKIE}={m.id}" in resp.headers["Set-Cookie"]
        resp = client.get("/rehearsal/leave")
        assert f"{rehearsal.COOKIE}=;" in resp.headers["Set-Cookie"]
    finally:
        reh.drop_database()
