"""Issue 14's pure pieces: the partial bucket, chart annotations, the usual-share surge baseline,
rotation order, kiosk parameters, freshness, i18n of alerts and countries, the report's average."""

from __future__ import annotations

import pytest

from cockpit import figures, routing
from cockpit.alert_log import AlertChange, chart_episodes
from cockpit.header import freshness
from cockpit.i18n import alert_name, alert_summary, country_name
from cockpit.layout import Ids
from cockpit.pages.report import Period, load_report
from cockpit.params import BadParameter
from cockpit.queries import Queries
from cockpit.surge import share_ratios, surging
from cockpit.timeframe import DAY, HOUR, MINUTE
from sinks.store import ChdbStore
from tests.cockpit import data as fx

T = 1_647_225_600  # 10:40 Beijing


def test_the_partial_bucket_is_never_the_line_s_last_point() -> None:
    series = [(T + k * MINUTE, 100) for k in range(5)] + [(T + 5 * MINUTE, 12)]  # 10:45 still filling
    partial = figures.partial_bucket(T, MINUTE, T + 5 * MINUTE, T + 6 * MINUTE)
    assert partial == T + 5 * MINUTE
    fig = figures.national_line(series, "en", T, T + 5 * MINUTE, partial=partial)
    main = next(d for d in fig.data if d.name == "events")
    stub = next(d for d in fig.data if d.meta == "partial")
    assert list(main.y) == [100] * 5 and main.x[-1].minute == 44  # the drop is not on the line
    assert list(stub.y) == [100, 12] and stub.line.dash == "dot"
    # hour buckets: the hour holding "now" is partial; a span in the past has none
    start = T - T % HOUR - 3 * HOUR
    assert figures.partial_bucket(start, HOUR, T + 5 * MINUTE, T + HOUR) == T - T % HOUR
    assert figures.partial_bucket(T - DAY, HOUR, T + 5 * MINUTE, T - HOUR) is None


def change(at: int, kind: str, new: str, fp: str = "a") -> AlertChange:
    return AlertChange(
        at,
        fp,
        "TrafficSurge",
        kind,
        "x",
        new,
        "warning",
        1.0,
        {"province": "450000"},
        {},
        "duty",
        "c" if kind != "state" else "",
    )


def test_episodes_and_actions_become_annotations() -> None:
    history = [
        change(T, "state", "firing"),
        change(T + 120, "ack", "firing"),
        change(T + 180, "silence", "firing"),
        change(T + 300, "state", "resolved"),
        change(T + 360, "state", "firing", "b"),
    ]
    episodes, actions = chart_episodes(history, T + 600)
    assert episodes == [(T, T + 300, "TrafficSurge · 450000"), (T + 360, None, "TrafficSurge · 450000")]
    assert [(at, kind) for at, kind, _ in actions] == [(T + 120, "ack"), (T + 180, "silence")]
    series = [(T + k * MINUTE, 10) for k in range(8)]
    fig = figures.national_line(series, "zh", T, T + 7 * MINUTE, notes=figures.ChartNotes(episodes, actions))
    assert len(fig.layout.shapes) == 2 and {d.meta for d in fig.data} >= {"note-ack", "note-silence"}


def test_usual_share_baseline_singles_out_a_surging_province() -> None:
    usual = {"450000": 1000, "110000": 1000, "220000": 500}
    now = {"450000": 100, "110000": 100, "220000": 200}  # Jilin at 4x its usual share
    ratios = share_ratios(now, usual)
    assert ratios["220000"] == pytest.approx((200 / 400) / (500 / 2500))
    assert surging(ratios, 2.0) == ["220000"]
    assert share_ratios({}, usual) == {} and share_ratios(now, {}) == {}
    # Xinjiang: too few events either way to judge; Beijing: a usual share and nothing now is 0x
    assert share_ratios({"650000": 3}, {"650000": 2, "110000": 5000}) == {"110000": 0.0}


def test_freshness_and_rotation_order() -> None:
    assert freshness(None, 0, 180) == "empty"
    assert freshness(T, T + 60 + 180, 180) == "live" and freshness(T, T + 60 + 181, 180) == "stale"
    assert routing.next_rotation("/", ["220000", "440000"]) == "/province/220000"
    assert routing.next_rotation("/province/220000", ["220000", "440000"]) == "/province/440000"


def test_kiosk_url_sets_the_controls_and_refuses_bad_values() -> None:
    out = routing.kiosk("?wall=1&lang=en&platform=k12&range=today&rotate=30")
    assert out == {
        (Ids.LANG, "value"): "en",
        (Ids.PLATFORM, "value"): "k12",
        (Ids.RANGE, "value"): "today",
        (Ids.ROTATE, "interval"): 30000,
    }
    assert routing.kiosk("?wall=1") == {}
    with pytest.raises(BadParameter):
        routing.kiosk("?rotate=0.1")


def test_alert_names_summaries_and_every_country_in_chinese() -> None:
    assert alert_name("TrafficSurge", "zh") == "访问激增" and alert_name("Unknown", "zh") == "Unknown"
    ann = {
        "ratio": "3.40",
        "window_clicks": "3400",
        "window_expected": "1000",
        "window_minutes": "10",
        "summary": "Jilin: 3.4x its baseline",
    }
    assert alert_summary("TrafficSurge", ann, "zh") == "为基线的 3.4 倍（10 分钟内 3,400 次，预期 1,000 次）"
    assert alert_summary("TrafficSurge", ann, "en").startswith("3.4x its baseline")
    assert country_name("US", "zh") == "美国" and country_name("BR", "zh") == "巴西"
    assert country_name("MN", "zh") == "蒙古" and country_name("MN", "en") == "Mongolia"
    assert country_name("Q9", "zh") == "未知地区"


def test_report_average_counts_only_days_with_data(morning_store: ChdbStore) -> None:
    """The fixture stores yesterday evening and this morning: a 7-day period averages over those
    two days, not seven (five of which the store holds nothing for)."""
    q = Queries(morning_store, ttl_s=0)
    today = fx.DAY_START
    r = load_report(q, Period(today - 6 * DAY, today + DAY), Period(today - 13 * DAY, today - 6 * DAY))
    assert r is not None and r.days_counted == 7 and r.days_with_data == 2
    assert r.average == pytest.approx(r.total / 2)
