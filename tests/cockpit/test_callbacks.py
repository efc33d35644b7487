"""Callbacks as plain functions: labels, the refresh of each state, and the label tables themselves."""

from __future__ import annotations

from typing import Any

import dash
import pytest
from prometheus_client import CollectorRegistry

from cockpit import callbacks, i18n
from cockpit.header import refresh_shell
from cockpit.layout import DASH, Ids
from cockpit.metrics import CockpitMetrics
from cockpit.pages import overview
from cockpit.pages.common import ordered
from cockpit.pages.overview import DATA_OUTPUTS, KPIS, refresh
from cockpit.queries import Queries
from cockpit.timeframe import DAY
from sinks.store import ChdbStore, StoreError
from tests.cockpit import data as fx

WALL = 1_795_000_000.0  # the wall clock is only for "refreshed at"; data time comes from the store


def test_every_label_exists_in_both_languages_and_differs() -> None:
    for key, (zh, en) in i18n.TEXT.items():
        assert zh and en, key
    zh = callbacks.render_labels("zh") | overview.render_labels("zh")
    en = callbacks.render_labels("en") | overview.render_labels("en")
    assert set(zh) == set(en) == {key for key, _ in callbacks.LABEL_OUTPUTS + overview.LABEL_OUTPUTS}
    assert zh[(Ids.kpi("today", "label"), "children")] == "今日访问量"
    assert en[(Ids.kpi("today", "label"), "children")] == "Page views today"
    assert all(zh[k] != en[k] for k in zh)


def test_number_formats() -> None:
    assert i18n.fmt_int(64_330_000) == "64,330,000"
    assert i18n.fmt_approx(64_330_000, "zh") == "约 6433.0 万"
    assert i18n.fmt_approx(720_000_000, "zh") == "约 7.2 亿"
    assert i18n.fmt_approx(64_330_000, "en") == "≈ 64.3 M"
    assert i18n.fmt_approx(999, "en") == "999"
    assert i18n.fmt_per_second(30) == "0.5" and i18n.fmt_per_second(12_701) == "212"
    assert i18n.province_name("abroad", "zh") == "境外" and i18n.province_name("450000", "en") == "Guangxi"


def test_refresh_on_stored_data_shows_the_stored_numbers(morning_store: ChdbStore) -> None:
    registry = CollectorRegistry()
    metrics = CockpitMetrics(registry)
    out = refresh(Queries(morning_store, ttl_s=0), "zh", lambda: fx.NOW + 90, metrics)
    assert out[(Ids.kpi("today"), "children")] == i18n.fmt_int(
        fx.direct_total(morning_store, fx.DAY_START, fx.DAY_START + DAY)
    )
    assert out[(Ids.kpi("hour"), "children")] == i18n.fmt_int(
        fx.direct_total(morning_store, fx.NOW - 59 * 60, fx.NOW + 60)
    )
    assert out[(Ids.kpi("rate"), "children")] == i18n.fmt_int(fx.direct_total(morning_store, fx.NOW - 60, fx.NOW))
    assert out[(Ids.EVENT_NOW, "children")] == "2022-03-14 10:42"
    assert out[(Ids.STATUS, "className")] == "status status-live"
    assert out[(Ids.NOTICE, "className")] == "notice hidden"
    assert "迟到事件" in out[(Ids.kpi("today", "sub"), "children")]
    assert set(out) == set(DATA_OUTPUTS)  # a good refresh sets every output
    assert registry.get_sample_value("edu_cockpit_refreshes_total", {"outcome": "ok"}) == 1.0
    assert registry.get_sample_value("edu_cockpit_event_time_now_seconds") == fx.NOW


def test_refresh_on_an_empty_store_says_so_and_shows_no_number(empty_store: ChdbStore) -> None:
    out = refresh(Queries(empty_store, ttl_s=0), "en", lambda: WALL)
    for name in KPIS:
        assert out[(Ids.kpi(name), "children")] == DASH
    assert out[(Ids.STATUS, "children")] == "No data"
    assert out[(Ids.NOTICE, "className")] == "notice notice-no_data"
    figure = out[(Ids.chart("national"), "figure")]
    assert figure.data == () and figure.layout.annotations[0].text == "No data yet"


def test_refresh_when_the_store_fails_flags_it_and_keeps_the_last_figures() -> None:
    class Broken:
        database, engine = "edu", "server"

        def query(self, sql: str, params: Any = None) -> list[tuple[Any, ...]]:
            raise StoreError("Connection refused", code=210)

    registry = CollectorRegistry()
    out = refresh(Queries(Broken(), ttl_s=0), "zh", lambda: WALL, CockpitMetrics(registry))  # type: ignore[arg-type]
    assert out[(Ids.STATUS, "className")] == "status status-error"
    assert out[(Ids.NOTICE, "className")] == "notice notice-error"
    assert not any(key[0].startswith(("kpi-", "chart-")) for key in out)
    values = ordered(out, DATA_OUTPUTS)
    assert values[DATA_OUTPUTS.index((Ids.kpi("today"), "children"))] is dash.no_update
    assert registry.get_sample_value("edu_cockpit_refreshes_total", {"outcome": "error"}) == 1.0


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_refreshed_label_uses_the_injected_clock_in_beijing_time(empty_store: ChdbStore, lang: str) -> None:
    out = refresh(Queries(empty_store, ttl_s=0), lang, lambda: 1647225745.0)
    assert out[(Ids.REFRESHED, "children")].endswith("10:42:25")


def test_other_pages_refresh_the_header_with_the_data_time(morning_store: ChdbStore) -> None:
    """A province or report page opened directly shows the data time and status, not a dash."""
    out = refresh_shell(Queries(morning_store, ttl_s=0), "zh", lambda: WALL)
    assert out[(Ids.EVENT_NOW, "children")] == "2022-03-14 10:42"
    assert out[(Ids.STATUS, "className")] == "status status-stale"  # WALL is years after the data
    assert out[(Ids.REFRESHED, "children")].endswith("19:06:40")  # WALL in Beijing time
    assert set(out) <= set(DATA_OUTPUTS) and not {(Ids.kpi(n), "children") for n in KPIS} & set(out)


@pytest.mark.parametrize(("wall", "kind"), [(fx.NOW + 60 + 180, "live"), (fx.NOW + 60 + 181, "stale")])
def test_the_pill_compares_the_newest_minute_with_the_wall_clock(
    morning_store: ChdbStore, wall: float, kind: str
) -> None:
    """Live while the newest stored minute ended at most `cockpit_stale_after_s` (180 s) ago by
    the wall clock, Stale after, with a notice saying the figures are the last received."""
    out = refresh(Queries(morning_store, ttl_s=0), "en", lambda: wall, stale_after_s=180)
    assert out[(Ids.STATUS, "className")] == f"status status-{kind}"
    assert out[(Ids.NOTICE, "className")] == ("notice hidden" if kind == "live" else "notice notice-stale")
