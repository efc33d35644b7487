"""The stream-aggregate panels and the alerts: named-query loaders against fixture rows in the test
database, and the snapshot, figure, panel and page functions as plain functions."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from dash import html

from cockpit import figures, panels
from cockpit.alert_log import AlertNow, filter_alerts, parse_current
from cockpit.filters import Filters
from cockpit.i18n import fmt_int
from cockpit.layout import DASH, Ids
from cockpit.pages import alerts
from cockpit.pages.alerts import AlertsView, load_alerts
from cockpit.pages.overview import DATA_OUTPUTS, LISTS, SESSIONS_SUB, load_overview, refresh, sessions_line, surge_board
from cockpit.queries import Queries
from cockpit.timeframe import DAY, MINUTE
from sinks.store import ChdbStore
from sinks.tables import sessions_minute
from tests.cockpit import data as fx

WALL = 1_795_000_000.0


def texts(component: Any) -> list[str]:
    """Every string inside a Dash component tree, in order."""
    if component is None:
        return []
    if isinstance(component, str | int | float):
        return [str(component)]
    if isinstance(component, list | tuple):
        return [s for c in component for s in texts(c)]
    return texts(getattr(component, "children", None))


def alert(
    fp: str,
    state: str,
    name: str = "TrafficSurge",
    severity: str = "warning",
    at: int = 0,
    province: str | None = "450000",
    ratio: str = "",
) -> AlertNow:
    labels = {"alertname": name, **({"province": province} if province else {})}
    return AlertNow(fp, name, state, severity, at, 1.0, labels, {"ratio": ratio, "summary": "s"})


# -- loaders against the store ------------------------------------------------------------------


def test_stream_loaders_equal_the_ground_truth_of_the_rows_stored(empty_store: ChdbStore) -> None:
    fx.load_streams(empty_store)
    q = Queries(empty_store, ttl_s=0)
    today = fx.DAY_START + 8 * 3600
    visitors = fx.visitor_rows(today, fx.NOW)
    assert q.uniques_between(fx.DAY_START, fx.DAY_START + DAY) == (
        len({r[3] for r in visitors}),
        len({r[4] for r in visitors}),
    )
    last = [r for r in visitors if r[0] == fx.NOW - MINUTE]
    assert q.uniques_between(fx.NOW - MINUTE, fx.NOW)[1] == len({r[4] for r in last})
    assert q.uniques_between(0, 1) == (0, 0)

    rows = [r for r in fx.session_rows(fx.NOW - 90 * MINUTE, fx.NOW) if fx.NOW - 15 * MINUTE <= r[0] < fx.NOW]
    s = q.sessions_between(fx.NOW - 15 * MINUTE, fx.NOW)
    for i, col in enumerate(sessions_minute.COUNTS):
        assert s[col] == sum(r[3 + i] for r in rows), col
    assert s["duration_s"] == pytest.approx(sum(r[-1] for r in rows))

    top = q.top_resources(fx.NOW - 15 * MINUTE, fx.NOW + MINUTE, 3)
    known = fx.known_resources()
    assert [r[1] for r in top] == [rid for rid, _, _ in known[:3]]
    assert top[0][3:] == (50 * 16, 20 * 16, 0, catalogue_title(known[0][0]))  # 16 minutes of 50 views, 20 plays
    assert q.countries_between(fx.NOW - 15 * MINUTE, fx.NOW + MINUTE, 2) == [("US", 9 * 16), ("JP", 6 * 16)]

    tiles = q.tiles_recent(fx.NOW - 60, fx.NOW + 60)
    truth = Counter(
        {(ts, p): n for ts, p, n in fx.tile_rows(fx.NOW - 3 * MINUTE, fx.NOW + 30) if fx.NOW - 60 <= ts < fx.NOW + 60}
    )
    assert Counter({(ts, p): n for ts, p, n in tiles}) == truth

    current = {a.fingerprint: a for a in parse_current(q.alerts_current(fx.NOW + MINUTE))}
    assert {fp: a.state for fp, a in current.items()} == {
        fx.FP_GX: "firing",
        fx.FP_SD: "pending",
        fx.FP_BJ: "resolved",
        fx.FP_NAT: "firing",
    }
    assert current[fx.FP_GX].labels == fx.SURGE_GX and current[fx.FP_GX].ratio == 3.1
    # before the surge fired, it was pending: "current" is as of the end given
    early = {a.fingerprint: a.state for a in parse_current(q.alerts_current(fx.DAY_START + 10 * 3600 + 22 * 60))}
    assert early[fx.FP_GX] == "pending" and fx.FP_SD not in early


def test_overview_kpis_and_panels_equal_direct_queries(morning_store: ChdbStore) -> None:
    q = Queries(morning_store, ttl_s=0)
    ov = load_overview(q)
    assert ov is not None
    users, _ = fx.direct_uniques(morning_store, fx.DAY_START, fx.DAY_START + DAY)
    _, active = fx.direct_uniques(morning_store, fx.NOW - MINUTE, fx.NOW)
    assert (ov.uniques_today, ov.active_sessions) == (users, active) and users > 0 and active > 0
    assert ov.uniques_yesterday == 0  # yesterday stored visitors only in the evening, after 10:43
    assert ov.eps == (fx.NOW - MINUTE, ov.rate / 60) and ov.rate_minute == fx.NOW - MINUTE  # one "per second now"
    assert [c.fingerprint for c in ov.alert_marks] == [fx.FP_NAT, fx.FP_GX, fx.FP_BJ]  # newest first

    out = refresh(q, "zh", lambda: WALL)
    assert set(out) == set(DATA_OUTPUTS)
    assert out[(Ids.kpi("uniques"), "children")] == fmt_int(users)
    assert out[(Ids.kpi("sessions"), "children")] == fmt_int(active)
    assert (
        out[(Ids.kpi("eps"), "children")] == f"{ov.eps[1]:,.0f}"
        and out[(Ids.kpi("eps", "unit"), "children")] == "次/秒"
    )
    surge = texts(out[(Ids.listing("surge"), "children")])
    assert surge[:4] == ["1", "广西", "3.10×", "告警中"] and surge[4:8] == ["2", "山东", "2.40×", "待定"]
    firing = texts(out[(Ids.listing("alerts"), "children")])
    assert "访问异常 · 全国" in firing and "访问激增 · 广西" in firing and "另有 1 条待定" in firing
    table = texts(out[(Ids.listing("resources"), "children")])
    assert catalogue_title(fx.known_resources()[0][0]) in table and fx.UNKNOWN_RESOURCE in table
    national = out[(Ids.chart("national"), "figure")]
    assert [tr.name for tr in national.data] == ["events", "latest", "partial", "alerts"]  # 10:42 still filling
    assert "started" not in out[(SESSIONS_SUB, "children")] and "开始" in out[(SESSIONS_SUB, "children")]

    k12 = refresh(q, "en", lambda: WALL, filters=Filters(platform="k12"))
    assert k12[(Ids.kpi("uniques"), "children")] == fmt_int(users)  # no platform breakdown: said so
    assert k12[(Ids.kpi("uniques", "sub"), "children")].endswith("all platforms")


def test_empty_store_shows_no_number_in_the_new_panels(empty_store: ChdbStore) -> None:
    out = refresh(Queries(empty_store, ttl_s=0), "en", lambda: WALL)
    for k in ("eps", "sessions", "uniques"):
        assert out[(Ids.kpi(k), "children")] == DASH
    for n in LISTS:
        assert texts(out[(Ids.listing(n), "children")]) == ["No data yet"]


# -- pure functions -----------------------------------------------------------------------------


def test_surge_board_ranks_provinces_by_ratio_one_row_each() -> None:
    board = surge_board(
        [
            alert("a", "firing", ratio="2.0"),
            alert("b", "pending", province="370000", ratio="4.5"),
            alert("c", "resolved", province="110000", ratio="9.0"),  # resolved: off the board
            alert("d", "firing", name="TrafficDrop", province="120000", ratio="0.1"),  # not a surge
            alert("e", "firing", province="450000", ratio="3.0"),  # Guangxi again: its highest kept
            alert("f", "firing", province="510000"),  # no ratio: ranked last
            alert("g", "firing", province=None, ratio="8.0"),  # no province label: not a province
        ]
    )
    assert [(a.province, a.ratio) for a in board] == [("370000", 4.5), ("450000", 3.0), ("510000", None)]
    assert texts(panels.surge_list([], "en")) == ["No province is surging"]
    assert texts(panels.surge_list(board, "en"))[:4] == ["1", "Shandong", "4.50×", "Pending"]


def test_firing_alerts_list_says_plainly_when_there_are_none() -> None:
    assert texts(panels.alerts_list([], "zh")) == ["暂无告警"]
    assert texts(panels.alerts_list([alert("p", "pending")], "en")) == ["No alerts", "1 more pending"]
    got = texts(panels.alerts_list([alert("a", "firing", severity="critical", at=fx.NOW)], "en"))
    assert got[:2] == ["Critical", "Traffic surge · Guangxi"]


def test_filter_alerts_by_state_and_severity_in_order() -> None:
    xs = [
        alert("r", "resolved", at=5),
        alert("p", "pending", at=9),
        alert("w", "firing", at=1),
        alert("c", "firing", severity="critical", at=0),
    ]
    assert [a.fingerprint for a in filter_alerts(xs)] == ["c", "w", "p", "r"]
    assert [a.fingerprint for a in filter_alerts(xs, ["firing"], ["warning"])] == ["w"]
    assert filter_alerts(xs, [], None) == []


def catalogue_title(rid: str) -> str:
    from simulators.catalogue import by_id

    return by_id()[rid].title


def test_resource_titles_come_from_the_catalogue_or_the_id_with_its_section() -> None:
    rid, plat, section = fx.known_resources(1)[0]
    rows = panels.resource_rows(
        [(plat, rid, section, 5, 2, 1, catalogue_title(rid)), ("k12", "nope", "topic", 1, 0, 0, "nope")], "zh"
    )
    assert rows[0][1] == catalogue_title(rid) and rows[0][1] != rid
    assert rows[1][1:4] == ["nope", "专题教育", "中小学"] and rows[1][4:] == ["1", "0", "0"]
    assert texts(panels.resources_table([], "en")) == ["No data in this period"]


def test_new_figures_are_pure_and_say_when_empty() -> None:
    fig = figures.country_bars([("US", 9), ("SG", 5), ("ZZ", 1)], "zh")
    assert list(fig.data[0].y) == ["未知地区", "新加坡", "美国"] and list(fig.data[0].x) == [1, 5, 9]
    hist = figures.duration_histogram({"d_lt_1m": 3, "d_ge_60m": 1}, "en")
    assert list(hist.data[0].x)[0] == "<1 min" and list(hist.data[0].y) == [3, 0, 0, 0, 0, 1]
    for empty in (figures.country_bars([], "en"), figures.duration_histogram({}, "en")):
        assert empty.data == () and empty.layout.annotations[0].text == "No data in this period"
    line = figures.national_line(
        [(fx.NOW - 60, 5), (fx.NOW, 7)],
        "en",
        fx.NOW - 600,
        fx.NOW,
        marks=[(fx.NOW + 17, "TrafficSurge · Guangxi"), (fx.NOW - 3600, "outside")],
    )
    marks = line.data[2]
    assert list(marks.y) == [7] and list(marks.text) == ["TrafficSurge · Guangxi"]  # only drawn buckets
    assert len(figures.national_line([(fx.NOW, 1)], "en", fx.NOW, fx.NOW).data) == 2  # no marks, no trace
    assert (
        sessions_line({"started": 3, "ended": 2, "duration_s": 240.0}, "en")
        == "Started 3 · Ended 2 · Average length 2.0 min"
    )


def test_alerts_page_lists_filters_and_history(morning_store: ChdbStore) -> None:
    view = load_alerts(Queries(morning_store, ttl_s=0), Filters(range="today"))
    assert {a.fingerprint for a in view.current} == {fx.FP_GX, fx.FP_SD, fx.FP_BJ, fx.FP_NAT}
    assert len(view.history) == len(fx.alert_rows())
    out = alerts.render(view, "en")
    assert out[("alerts-counts", "children")] == "Firing 2 · Pending 1 · Resolved 1"
    current = texts(out[(alerts.CURRENT, "children")])
    assert current.count("Firing") == 2 and "Resolved" in current and "Acknowledge" not in current
    history = texts(out[(alerts.HISTORY, "children")])
    assert "Pending → Firing" in history and "Firing → Resolved" in history
    only = texts(alerts.render(view, "en", ["resolved"], None)[(alerts.CURRENT, "children")])
    assert "Traffic drop" in only and "Traffic surge" not in only
    crit = texts(alerts.render(view, "en", None, ["critical"])[(alerts.CURRENT, "children")])
    assert "Traffic anomaly" in crit and "Traffic surge" not in crit
    assert texts(alerts.render(view, "zh", [], None)[(alerts.CURRENT, "children")]) == ["暂无告警"]

    # an operator gets a form on each firing or pending alert, carrying the CSRF token
    op = alerts.render(view, "en", token="tok")[(alerts.CURRENT, "children")]
    forms = [c for c in _walk(op) if isinstance(c, html.Form)]
    assert sorted(f.action for f in forms) == sorted(
        f"/api/alerts/{fp}/{action}" for fp in (fx.FP_GX, fx.FP_SD, fx.FP_NAT) for action in ("ack", "silence")
    )
    assert all(f.method == "POST" and f.children[0].value == "tok" for f in forms)


def test_an_acknowledged_alert_is_marked_and_offers_no_second_form() -> None:
    cur = [alert("a", "firing", at=100)]
    ack = fx.change(
        150,
        {"alertname": "TrafficSurge"},
        "firing",
        "firing",
        "warning",
        1.0,
        kind="ack",
        author="duty",
        comment="on it",
    )
    from cockpit.alert_log import parse_history

    hist = parse_history([(ack[0], "a", *ack[2:10], ack[11], ack[12])])
    view = AlertsView(200, cur, hist)
    assert view.acknowledged() == {"a"}
    out = alerts.render(view, "en", token="tok")
    assert "Acknowledged" in texts(out[(alerts.CURRENT, "children")])
    forms = [c.action for c in _walk(out[(alerts.CURRENT, "children")]) if isinstance(c, html.Form)]
    assert forms == ["/api/alerts/a/silence"]  # no second acknowledgement; a silence is still offered
    assert "duty" not in texts(out[(alerts.HISTORY, "children")])  # never an operator's name
    # an ack older than the latest state change does not count
    assert AlertsView(200, [alert("a", "firing", at=160)], hist).acknowledged() == set()


def _walk(component: Any) -> list[Any]:
    if isinstance(component, list | tuple):
        return [c for x in component for c in _walk(x)]
    if not hasattr(component, "children"):
        return []
    return [component, *_walk(component.children)]
