"""Alert summaries in the viewer's language, from the numbers the detectors annotate (the detectors'
own `summary` is English): no Latin words on a Chinese page; in English, the stored text when a
number is missing."""

from __future__ import annotations

import re

from alerts.engine import capacity_annotations, forecast_annotations
from cockpit.i18n import alert_summary


def latin(text: str) -> list[str]:
    return re.findall(r"[A-Za-z]{2,}", text)


def test_capacity_alerts_speak_chinese_with_their_numbers() -> None:
    ann = capacity_annotations("中小学", 9_120, 10_000)
    for name in ("CapacityHigh", "CapacityCritical"):
        zh = alert_summary(name, ann, "zh")
        assert zh == "已达容量的 91%（每分钟 9,120 次，上限 10,000 次）" and not latin(zh)
        assert alert_summary(name, ann, "en") == "91% of capacity (9,120 of 10,000 per minute)"
    fc = forecast_annotations("k12: forecast to reach capacity 10000/min in 42 min", 1.7e9, 10_000, 42)
    zh = alert_summary("CapacityForecast", fc, "zh")
    assert zh == "预计 42 分钟后达到容量上限（每分钟 10,000 次）" and not latin(zh)
    assert alert_summary("CapacityForecast", fc, "en").endswith("in 42 min")


def test_an_alert_stored_without_its_numbers_falls_back() -> None:
    old = {"summary": "k12: 91% of capacity (9120/10000 per minute)", "utilisation": "0.912"}
    assert alert_summary("CapacityHigh", old, "zh") == "接近平台容量上限"
    assert alert_summary("CapacityHigh", old, "en") == old["summary"]
    assert alert_summary("TrafficSurge", {"summary": "x: 3.4x its baseline"}, "en") == "x: 3.4x its baseline"
    # Chinese never falls back to the detector's English: the fullest line its numbers allow
    assert (
        alert_summary("TrafficSurge", {"ratio": "3.4", "summary": "TrafficSurge national"}, "zh") == "为基线的 3.4 倍"
    )
    assert alert_summary("TrafficSurge", {"ratio": "nan", "summary": "s"}, "zh") == "访问量高于季节基线"
    for name in ("TrafficDrop", "TrafficOutage", "TrafficAnomaly", "CapacityForecast"):
        assert not latin(alert_summary(name, {"summary": "English words"}, "zh")), name
