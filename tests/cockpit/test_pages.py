"""The map, routing, province, alerts and report pages, and the loaders behind them, as plain functions."""

from __future__ import annotations

import csv
import io
import json

import plotly.graph_objects as go
import pytest

from cockpit import routing
from cockpit.callbacks import render_options
from cockpit.figures import daily_bars, national_line
from cockpit.figures_map import china_map, map_patch, patched_values
from cockpit.filters import Filters
from cockpit.i18n import fmt_change, fmt_int, fmt_ratio
from cockpit.layout import Ids
from cockpit.mapdata import NANHAI, geojson, province_codes
from cockpit.pages import alerts, province, report
from cockpit.pages.overview import load_map_values, refresh_map
from cockpit.pages.province import load_province
from cockpit.pages.report import Period, counted, growth_by_code, load_report
from cockpit.queries import Queries, check_filters
from cockpit.surge import load_surge_basis
from cockpit.timeframe import DAY, HOUR, MINUTE, range_span
from contracts.geo import PROVINCES
from sinks.store import ChdbStore
from tests.cockpit import data as fx


def test_shipped_geojson_has_the_34_divisions_and_the_south_china_sea_inset() -> None:
    codes = [f["properties"]["code"] for f in geojson()["features"]]
    assert sorted(c for c in codes if c != NANHAI) == sorted(p.code for p in PROVINCES)
    assert NANHAI in codes and len(codes) == 35
    beijing = next(f for f in geojson()["features"] if f["properties"]["code"] == "110000")
    lon, lat = beijing["geometry"]["coordinates"][0][0]
    assert 115 < lon < 118 and 39 < lat < 42  # decoded to real degrees


def test_china_map_colours_every_division_by_its_value_and_marks_hong_kong_and_macau() -> None:
    fig = china_map({"450000": 9, "810000": 4, "abroad": 100}, "zh", "rate")
    provinces, nanhai, small, hot = fig.data
    assert list(hot.lon) == [] and hot.meta == "surging"  # no surging division given
    assert list(provinces.locations) == list(province_codes())
    assert provinces.z[province_codes().index("450000")] == 9 and sum(provinces.z) == 13  # abroad not on it
    assert list(nanhai.locations) == [NANHAI] and nanhai.hoverinfo == "skip"
    assert list(small.text) == ["香港", "澳门"] and list(small.marker.color) == [4, 0]
    assert fig.layout.coloraxis.cmax == 9 and fig.layout.coloraxis.colorbar.title.text == "当前速率（次/分钟）"
    assert json.loads(fig.to_json())  # serialises for the browser


def test_surge_measure_without_any_baseline_is_greyed_out_with_a_plain_note() -> None:
    fig = china_map({}, "en", "surge")
    assert fig.layout.coloraxis.showscale is False
    assert fig.layout.annotations[0].text.startswith("No seasonal baseline yet")


def test_map_patch_sets_values_and_labels_but_never_geometry() -> None:
    got = patched_values(map_patch({"450000": 7}, "en", "total"))
    assert got["data.0.z"][province_codes().index("450000")] == 7
    assert "Guangxi<br>7" in got["data.0.text"]
    assert got["data.2.text"] == ["Hong Kong", "Macau"]
    assert got["layout.coloraxis.colorbar.title.text"] == "Events in range"
    assert got["layout.annotations"] == [] and got["layout.coloraxis.showscale"] is True
    assert not any("geojson" in k for k in got)
    assert patched_values(map_patch({}, "zh", "surge"))["layout.annotations"][0]["text"].startswith("暂无季节基线")


def test_national_line_draws_hour_buckets_for_long_spans() -> None:
    t0 = fx.DAY_START
    fig = national_line([(t0, 5), (t0 + 2 * HOUR, 7)], "zh", t0, t0 + 7 * DAY, HOUR)
    assert list(fig.data[0].y) == [5, 0, 7]  # the empty hour between counts 0
    assert fig.layout.xaxis.tickformat == "%m-%d %H:%M"


def test_daily_bars_highlight_the_peak_day() -> None:
    fig = daily_bars([(20220301, 5), (20220302, 9), (20220303, 9)], "zh")
    assert list(fig.data[0].x) == ["03-01", "03-02", "03-03"]
    assert list(fig.data[0].marker.color).count("#fbbf24") == 1 and fig.data[0].marker.color[1] == "#fbbf24"
    assert isinstance(daily_bars([], "en"), go.Figure) and daily_bars([], "en").data == ()


def test_number_helpers() -> None:
    assert fmt_change(150, 100) == "+50.0%" and fmt_change(1, 0) is None
    assert fmt_ratio(6.5) == "6.50x" and fmt_ratio(None) == "—"


def test_range_spans_follow_event_time() -> None:
    now = fx.NOW
    assert range_span("15m", now).start == now - 14 * MINUTE
    assert range_span("1h", now).start == now - 59 * MINUTE and range_span("1h", now).end == now + MINUTE
    assert range_span("today", now).start == fx.DAY_START
    seven = range_span("7d", now)
    assert seven.start == fx.DAY_START - 6 * DAY and seven.step == HOUR
    custom = range_span("custom", now, "2022-03-01", "2022-03-03")
    assert custom.start == 1646064000 and custom.end - custom.start == 3 * DAY and custom.step == HOUR
    assert range_span("custom", now, "2022-03-14", "2022-03-14").step == MINUTE
    assert range_span("custom", now, None, "2022-03-03") == range_span("today", now)  # incomplete choice


def test_routes_pages_and_wall_mode() -> None:
    assert routing.route("/", "") == routing.Route("overview")
    assert routing.route("/province/450000", "?wall=1") == routing.Route("province", "450000", True)
    assert routing.route("/province/999999", None).province is None  # unknown code: no query
    assert routing.route("/report/", "").page == "report"
    out = routing.render_route(routing.Route("alerts", wall=True))
    assert out[(Ids.page("alerts"), "className")] == "page"
    assert out[(Ids.page("overview"), "className")] == "page hidden"
    assert out[(Ids.SHELL, "className")] == "cockpit wall" and out[(Ids.ROTATE, "disabled")] is False
    assert set(out) == set(routing.ROUTE_OUTPUTS)


def test_rotation_clicks_and_timer() -> None:
    assert routing.next_rotation("/", ["450000", "370000"]) == "/province/450000"
    assert routing.next_rotation("/province/370000", ["450000", "370000"]) == "/"
    assert routing.next_rotation("/report", []) == "/"
    assert routing.click_code({"points": [{"location": "510000", "customdata": "510000"}]}) == "510000"
    assert routing.click_code({"points": [{"customdata": "<script>"}]}) is None
    assert routing.click_code(None) is None
    assert routing.timer_settings(5000, ["paused"], 2000) == (5000, True)
    assert routing.timer_settings(None, [], 2000) == (2000, False)


def test_filters_are_checked_before_they_reach_sql() -> None:
    check_filters("k12", "450000")
    with pytest.raises(ValueError):
        check_filters("k12'; DROP TABLE x --", None)
    with pytest.raises(ValueError):
        check_filters(None, "999999")


def test_options_follow_the_language() -> None:
    zh, en = render_options("zh"), render_options("en")
    assert zh[(Ids.RANGE, "options")][0]["label"] == "近15分钟" and en[(Ids.RANGE, "options")][0]["label"] == "15 min"
    assert [o["value"] for o in zh[(Ids.PLATFORM, "options")]] == ["", "k12", "vocational", "higher", "employment"]


def test_map_values_equal_the_store_with_platform_filter(morning_store: ChdbStore) -> None:
    q = Queries(morning_store, ttl_s=0)
    k12 = load_map_values(q, Filters(platform="k12"), "rate")
    rows = morning_store.query(
        f"SELECT toString(province), sum(clicks) FROM {morning_store.database}.clicks_minute "
        "WHERE minute = toDateTime(%(m)s) AND platform = 'k12' GROUP BY province",
        {"m": fx.NOW - 60},
    )
    assert k12 == {str(p): int(n) for p, n in rows}
    ratios, basis = load_surge_basis(q, fx.NOW)  # no earlier week stored: the usual-share baseline
    assert basis == "share" and load_map_values(q, None, "surge") == ratios and ratios
    patch = refresh_map(q, "zh", Filters(platform="k12"), "rate")[(Ids.MAP, "figure")]
    z = patched_values(patch)["data.0.z"]
    assert sum(z) == sum(v for c, v in k12.items() if c != "abroad")


def test_province_page_renders_its_own_numbers(morning_store: ChdbStore) -> None:
    q = Queries(morning_store, ttl_s=0)
    pv = load_province(q, "450000", Filters(range="today"))
    assert pv is not None
    direct = morning_store.query(
        f"SELECT sum(clicks) FROM {morning_store.database}.clicks_minute WHERE province = '450000' "
        "AND minute >= toDateTime(%(s)s)",
        {"s": fx.DAY_START},
    )[0][0]
    assert pv.span_total == pv.today_total == direct
    assert sum(pv.by_platform.values()) == direct and 0 < (pv.share or 0) < 1
    out = province.render(pv, "450000", "en")
    assert out[("prov-span-total", "children")] == fmt_int(direct)
    assert out[(province.NAME, "children")] == "Province · Guangxi"
    listed = str(out[(province.ALERTS, "children")])
    assert "Traffic surge" in listed and "3.10×" in listed and "Traffic anomaly" not in listed  # its own only
    assert "not stored per province" in out[("prov-na-resources-body", "children")].lower()
    unknown = province.refresh(q, None, "zh")
    assert unknown[("prov-span-total", "children")] == "—"
    assert set(out) == set(province.OUTPUTS)


def test_alerts_page_never_shows_an_operator_name() -> None:
    out = alerts.render_labels("zh", operator=True)
    assert out[(Ids.AUTH, "children")] == "运维已登录 · 退出登录" and out[(Ids.AUTH, "href")] == "/logout"
    assert out[("alerts-hint", "children")] == ""
    anon = alerts.render_labels("en", operator=False)
    assert anon[("alerts-hint", "children")] == "Sign in as an operator to acknowledge or silence alerts"
    assert set(out) == set(alerts.LABEL_OUTPUTS)


def test_report_matches_ground_truth_and_its_csv_equals_the_table(empty_store: ChdbStore) -> None:
    # a base week at 10 a minute-row, then a week at 35: growth 3.5x, Guangxi alone
    base_start = fx.DAY_START - 13 * DAY
    for d in range(14):
        clicks = 10 if d < 7 else 35
        fx.insert_clicks(empty_store, [(base_start + d * DAY + 8 * HOUR, "k12", "450000", "lessons", "view", clicks)])
    q = Queries(empty_store, ttl_s=0)
    r = report.build(q, None, None, None, None, None)  # defaults: this week against the one before
    assert r is not None and r.days_counted == 7 and r.total == 7 * 35
    assert r.average == 35 and r.peak == 35 and r.national.ratio == pytest.approx(3.5)
    assert [g.code for g in r.growth] == ["450000"] and r.growth[0].ratio == pytest.approx(3.5)
    out = report.render(r, "zh")
    assert out[("report-total", "children")] == fmt_int(245) and out[("report-national-growth", "children")] == "3.50x"
    payload = report.export(report.GROWTH_TABLE, r, "zh")
    assert payload is not None and payload["filename"].endswith(".csv")
    rows = list(csv.reader(io.StringIO(payload["content"].lstrip("\ufeff"))))
    assert rows == [["省份", "对比时段日均", "统计时段日均", "增长倍数"], ["广西", "10.0", "35.0", "3.50x"]]
    daily = list(csv.reader(io.StringIO(report.export(report.DAILY_TABLE, r, "en")["content"].lstrip("\ufeff"))))
    assert daily[0] == ["Day", "Views"] and len(daily) == 8 and daily[-1][1] == "35"


def test_report_periods_and_future_days() -> None:
    p, b = report.periods("2022-03-01", "2022-03-25", None, None, fx.NOW)
    assert p.days == 25 and b.end == p.start and b.days == 25
    assert counted(Period(fx.DAY_START, fx.DAY_START + 5 * DAY), fx.NOW).days == 1  # not the future
    rows = growth_by_code({"a": 10, "b": 0}, {"a": 65, "c": 5}, 1, 1)
    assert [(r.code, r.ratio) for r in rows] == [("a", 6.5), ("b", None), ("c", None)]


def test_report_on_an_empty_store_says_so(empty_store: ChdbStore) -> None:
    q = Queries(empty_store, ttl_s=0)
    assert load_report(q, Period(0, DAY), Period(0, DAY)) is None
    out = report.render(None, "en")
    assert out[("report-total", "children")] == "—" and report.export(report.DAILY_TABLE, None, "en") is None
