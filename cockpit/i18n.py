"""Labels in Chinese (the default: duty officers read Chinese) and English, and number formats.

One table keyed by label id keeps both languages side by side, so a missing translation is visible in
review and caught by a test rather than shown as an empty label.
"""
from __future__ import annotations

from typing import Final, Literal

from contracts.geo import ABROAD, PLATFORMS, PROVINCE_BY_CODE, SECTIONS

Lang = Literal["zh", "en"]
LANGS: Final[tuple[Lang, ...]] = ("zh", "en")
DEFAULT_LANG: Final[Lang] = "zh"

TEXT: Final[dict[str, tuple[str, str]]] = {
    "title": ("国家智慧教育平台 · 实时监测驾驶舱", "Smart Education of China · Live Cockpit"),
    "subtitle": ("全国访问实时监测（事件时间）", "Nationwide traffic, live (event time)"),
    "event_now": ("数据时间", "Data time"),
    "beijing": ("北京时间", "Beijing time"),
    "refreshed": ("刷新于", "Refreshed"),
    "status_live": ("实时", "Live"),
    "status_empty": ("暂无数据", "No data"),
    "status_error": ("存储不可用", "Store unavailable"),
    "kpi_today": ("今日访问量", "Page views today"),
    "kpi_rate": ("上一分钟", "Last full minute"),
    "kpi_hour": ("近一小时访问量", "Page views, last hour"),
    "kpi_peak": ("近一小时峰值", "Peak minute, last hour"),
    "per_min": ("次/分钟", "/min"),
    "per_s": ("次/秒", "/s"),
    "late_note": ("另有迟到事件 {n} 条未计入", "{n} late events not counted"),
    "chart_national": ("全国每分钟访问量 · 近一小时", "Nationwide events per minute · last hour"),
    "chart_platforms": ("今日各平台访问量", "Today by platform"),
    "chart_provinces": ("今日省份访问量排行", "Today by province (top 10)"),
    "chart_sections": ("今日各栏目访问量", "Today by section"),
    "hover_events": ("访问量", "Events"),
    "no_data_title": ("暂无数据", "No data yet"),
    "no_data_body": (
        "存储中还没有访问记录。数据流入后，本页会自动刷新显示。",
        "The store holds no traffic yet. This page refreshes itself once data arrives.",
    ),
    "error_title": ("数据库暂不可用", "The store is unavailable"),
    "error_body": (
        "无法查询存储，页面保留上次成功刷新的数据，稍后自动重试。",
        "Queries are failing; the page keeps the last good figures and retries on its own.",
    ),
    "empty_chart": ("此时间段无数据", "No data in this period"),
    "footer": (
        "数字均来自对存储的命名查询；“现在”为存储中最新的事件分钟。",
        "Every number comes from a named query of the store; \"now\" is the latest event minute stored.",
    ),
}


def t(key: str, lang: str) -> str:
    """The label `key` in `lang` (unknown languages fall back to Chinese, the default)."""
    zh, en = TEXT[key]
    return en if lang == "en" else zh


def platform_name(code: str, lang: str) -> str:
    zh, en = PLATFORMS.get(code, (code, code))
    return en if lang == "en" else zh


def section_name(code: str, lang: str) -> str:
    zh, en = SECTIONS.get(code, (code, code))
    return en if lang == "en" else zh


def province_name(code: str, lang: str) -> str:
    if code == ABROAD:
        return "Abroad" if lang == "en" else "境外"
    p = PROVINCE_BY_CODE.get(code)
    if p is None:
        return code
    return p.en if lang == "en" else p.zh


def fmt_int(n: int) -> str:
    """Exact integer with thousands separators: the wall screen shows the stored count, not a rounding."""
    return f"{n:,}"


def fmt_approx(n: int, lang: str) -> str:
    """A readable magnitude next to the exact count: 万/亿 in Chinese, K/M/B in English."""
    if lang == "en":
        for div, unit in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
            if n >= div:
                return f"≈ {n / div:.1f} {unit}"
        return f"{n:,}"
    for div, unit in ((1e8, "亿"), (1e4, "万")):
        if n >= div:
            return f"约 {n / div:.1f} {unit}"
    return f"{n:,}"


def fmt_per_second(per_minute: int) -> str:
    """Events per second from a minute's count; one decimal while small, so a trickle is not 0."""
    per_s = per_minute / 60
    return f"{per_s:,.0f}" if per_s >= 100 else f"{per_s:,.1f}"
