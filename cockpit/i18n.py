"""Labels in Chinese (the default: duty officers read Chinese) and English, and number formats.

One table keyed by label id keeps both languages side by side, so a missing translation is visible in
review and caught by a test rather than shown as an empty label.
"""

from __future__ import annotations

from functools import lru_cache
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
    "kpi_peak": ("近一小时峰值", "Peak minute (1 h)"),
    "per_min": ("次/分钟", "/min"),
    "per_s": ("次/秒", "/s"),
    "late_note": ("另有迟到事件 {n} 条未计入", "{n} late events not counted"),
    "chart_national": ("全国访问量趋势 · 所选时段", "Nationwide events · selected range"),
    "chart_platforms": ("各平台访问量 · 所选时段", "By platform · selected range"),
    "chart_provinces": ("省份访问量排行 · 所选时段", "Top provinces · range"),
    "chart_sections": ("各栏目访问量 · 所选时段", "By section · selected range"),
    "chart_map": ("全国访问热力地图", "China map"),
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
    "vs_yesterday": ("较昨日同期", "vs yesterday"),
    "vs_last_week": ("较上周同期", "vs last week"),
    "no_comparison": ("无同期数据", "no earlier data"),
    "kpi_sessions": ("在线会话", "Active sessions"),
    "kpi_uniques": ("今日独立用户", "Unique users today"),
    "panel_surge": ("激增省份排行（相对季节基线）", "Surges vs baseline"),
    "panel_alerts": ("实时告警", "Firing alerts"),
    "pending_note": ("另有 {n} 条待定", "{n} more pending"),
    "panel_abroad": ("境外访问 · 按国家", "Abroad by country"),
    "panel_resources": ("热门资源 · 所选时段", "Top resources · selected range"),
    "chart_sessions": ("会话与时长分布 · 所选时段", "Session lengths · range"),
    "chart_abroad": ("境外访问 · 按国家 · 所选时段", "Abroad by country · range"),
    "kpi_eps": ("当前每秒事件数", "Events/s now"),
    "eps_sub": ("上一完整分钟 {time} 的平均", "average of the last full minute, {time}"),
    "no_tiles": ("暂无 10 秒数据", "No 10 s tiles stored"),
    "sessions_sub": ("{time} 有事件的会话", "sessions with events at {time}"),
    "uniques_sub": ("去重用户", "distinct users"),
    "all_platforms_note": ("全部平台", "all platforms"),
    "sessions_started": ("开始", "Started"),
    "sessions_ended": ("结束", "Ended"),
    "sessions_avg": ("平均时长", "Average length"),
    "duration_lt_1m": ("<1分钟", "<1 min"),
    "duration_1_5m": ("1–5分钟", "1–5 min"),
    "duration_5_15m": ("5–15分钟", "5–15 min"),
    "duration_15_30m": ("15–30分钟", "15–30 min"),
    "duration_30_60m": ("30–60分钟", "30–60 min"),
    "duration_ge_60m": ("≥60分钟", "≥60 min"),
    "hover_sessions": ("已结束会话", "Ended sessions"),
    "col_resource": ("资源", "Resource"),
    "col_section": ("栏目", "Section"),
    "col_platform": ("平台", "Platform"),
    "col_plays": ("播放", "Plays"),
    "col_downloads": ("下载", "Downloads"),
    "col_rank": ("排名", "Rank"),
    "col_ratio_baseline": ("对基线倍数", "× baseline"),
    "col_state": ("状态", "State"),
    "col_severity": ("级别", "Severity"),
    "col_alert": ("告警", "Alert"),
    "col_scope": ("范围", "Scope"),
    "col_summary": ("说明", "Summary"),
    "col_since": ("变更时间", "Since"),
    "col_value": ("数值", "Value"),
    "col_change": ("变更", "Change"),
    "col_time": ("时间", "Time"),
    "col_comment": ("备注", "Comment"),
    "col_action": ("操作", "Action"),
    "no_alerts": ("暂无告警", "No alerts"),
    "no_surge": ("暂无激增省份", "No province is surging"),
    "no_history": ("所选时段内无告警变更", "No alert changes in the selected range"),
    "state_firing": ("告警中", "Firing"),
    "state_pending": ("待定", "Pending"),
    "state_resolved": ("已恢复", "Resolved"),
    "state_inactive": ("未激活", "Inactive"),
    "severity_critical": ("严重", "Critical"),
    "severity_warning": ("警告", "Warning"),
    "severity_info": ("提示", "Info"),
    "kind_ack": ("已确认", "Acknowledged"),
    "kind_silence": ("已静默", "Silenced"),
    "acked": ("已确认", "Acknowledged"),
    "ack_button": ("确认", "Acknowledge"),
    "ack_comment": ("备注（可选）", "Comment (optional)"),
    "silence_button": ("静默", "Silence"),
    "silence_comment": ("静默原因（可选）", "Reason (optional)"),
    "silence_duration": ("静默时长", "Silence for"),
    "silenced_until": ("静默至 {time}", "Silenced until {time}"),
    "dur_900": ("15分钟", "15 min"),
    "dur_3600": ("1小时", "1 hour"),
    "dur_14400": ("4小时", "4 hours"),
    "dur_86400": ("24小时", "24 hours"),
    "alerts_login_hint": ("登录运维账号后可确认或静默告警", "Sign in as an operator to acknowledge or silence alerts"),
    "alerts_counts": ("告警中 {f} · 待定 {p} · 已恢复 {r}", "Firing {f} · Pending {p} · Resolved {r}"),
    "alerts_current": ("当前告警", "Current alerts"),
    "alerts_history": ("告警状态变更记录 · 所选时段", "History of state changes · selected range"),
    "filter_state": ("状态", "State"),
    "filter_severity": ("级别", "Severity"),
    "scope_national": ("全国", "National"),
    "alert_marker": ("告警触发", "Alert fired"),
    "baseline_expected": ("季节基线（前几周同时段中位数）", "Seasonal baseline (median of earlier weeks)"),
    "baseline_band": ("基线范围（最小–最大）", "Baseline range (min–max)"),
    "baseline_weeks": ("周", "weeks"),
    "no_baseline_yet": (
        "暂无季节基线：需要至少两周前同一时段的存储数据",
        "No seasonal baseline yet: needs this time slot stored at least two weeks back",
    ),
    "measure_rate": ("当前速率（次/分钟）", "Current rate (/min)"),
    "measure_total": ("所选时段访问量", "Events in range"),
    "measure_surge": ("激增比（对季节基线）", "Surge ratio (vs seasonal baseline)"),
    "surge_no_baselines": (
        "暂无季节基线：需要至少两周前同一时段的存储数据，不显示激增比",
        "No seasonal baseline yet: needs the same time slot stored at least two weeks back",
    ),
    "no_baseline": ("无基线", "no baseline"),
    "spark_title": ("近30分钟每分钟访问量", "Events per minute, last 30 min"),
    "prov_resources_na": (
        "资源访问量未按省份存储，此处不显示任何数字。",
        "Resource counts are not stored per province, so this panel shows no number.",
    ),
    "prov_no_alerts": ("本省暂无告警", "No alerts for this province"),
    "nav_overview": ("全国总览", "Overview"),
    "nav_alerts": ("告警", "Alerts"),
    "nav_report": ("日报", "Daily report"),
    "ctl_range": ("时段", "Range"),
    "range_15m": ("近15分钟", "15 min"),
    "range_1h": ("近1小时", "1 hour"),
    "range_today": ("今日", "Today"),
    "range_7d": ("近7天", "7 days"),
    "range_custom": ("自定义", "Custom"),
    "ctl_refresh": ("刷新", "Refresh"),
    "ctl_pause": ("暂停", "Pause"),
    "ctl_platform": ("平台", "Platform"),
    "platform_all": ("全部平台", "All platforms"),
    "ctl_measure": ("地图指标", "Map measure"),
    "wall_mode": ("大屏模式", "Wall screen"),
    "fullscreen": ("全屏", "Full screen"),
    "login": ("运维登录", "Operator login"),
    "logout": ("退出登录", "Sign out"),
    "signed_in": ("运维已登录", "Operator signed in"),
    "province_title": ("省级监测", "Province"),
    "back": ("返回总览", "Back to overview"),
    "prov_span_total": ("所选时段访问量", "Events in range"),
    "prov_rate": ("上一分钟", "Last full minute"),
    "prov_share": ("占全国比例", "Share of national"),
    "prov_today": ("今日访问量", "Page views today"),
    "chart_prov_line": ("访问量趋势 · 所选时段", "Events · selected range"),
    "chart_prov_platforms": ("各平台访问量", "By platform"),
    "chart_prov_sections": ("各栏目访问量", "By section"),
    "unknown_province": ("未知省份代码", "Unknown province code"),
    "alerts_title": ("告警", "Alerts"),
    "alerts_not_wired": ("告警尚未接入", "Alerts are not wired yet"),
    "alerts_body": (
        "告警服务（激增、异常、容量）尚未写入存储，本页暂不显示告警。确认与静默操作需要运维登录，接口已按 CSRF 保护就绪。",
        "The alert service (surge, anomaly, capacity) does not write to the store yet, so this page shows "
        "no alerts. Acknowledge and silence will need an operator login; the CSRF-protected endpoint is ready.",
    ),
    "report_title": ("访问日报", "Daily report"),
    "report_period": ("统计时段", "Period"),
    "report_base": ("对比时段", "Compared with"),
    "report_total": ("总访问量", "Total views"),
    "report_avg": ("日均访问量", "Average per day"),
    "report_peak": ("峰值日", "Peak day"),
    "report_days": ("{n} 天", "{n} days"),
    "report_national_growth": ("全国日均增长", "National daily average growth"),
    "table_daily": ("每日访问量", "Views per day"),
    "table_growth": ("各省日均访问量增长", "Growth of daily average by province"),
    "col_day": ("日期", "Day"),
    "col_views": ("访问量", "Views"),
    "col_province": ("省份", "Province"),
    "col_base_avg": ("对比时段日均", "Daily avg, earlier"),
    "col_avg": ("统计时段日均", "Daily avg, period"),
    "col_ratio": ("增长倍数", "Ratio"),
    "export_csv": ("导出 CSV", "Export CSV"),
    "report_pick": ("请选择完整的统计时段与对比时段", "Choose both periods in full"),
    "empty_chart": ("此时间段无数据", "No data in this period"),
    # issue 14
    "status_stale": ("数据停滞", "Stale"),
    "stale_title": ("数据已停止更新", "Data has stopped arriving"),
    "stale_body": (
        "存储中最新的数据已超过设定时限未更新；下列数字为最后一次收到的数据。",
        "The newest stored data is older than the stale threshold; the figures below are the last received.",
    ),
    "partial_bucket": ("进行中（未满）", "In progress (partial)"),
    "note_ack": ("已确认", "Acknowledged"),
    "note_silence": ("已静默", "Silenced"),
    "unknown_country": ("未知地区", "Unknown"),
    "capacity_summary": ("接近平台容量上限", "Close to the platform's capacity"),
    "date_start": ("开始日期", "Start date"),
    "date_end": ("结束日期", "End date"),
    "loading": ("加载中…", "Loading…"),
    "silences_title": ("生效中的静默", "Active silences"),
    "no_silences": ("当前没有生效的静默", "No active silences"),
    "col_until": ("到期时间", "Expires"),
    "col_left": ("剩余", "Left"),
    "col_author": ("设置人", "Set by"),
    "minutes_left": ("{n} 分钟", "{n} min"),
    "surging_now": ("激增", "Surging"),
    "report_days_with_data": ("按有数据的 {n} 天平均", "averaged over {n} days with data"),
    "report_too_long": ("时段过长：最长 {n} 天", "Period too long: at most {n} days"),
    "footer": (
        "数字均来自对存储的命名查询；“现在”为存储中最新的事件分钟。",
        'Every number comes from a named query of the store; "now" is the latest event minute stored.',
    ),
}


# Names of the countries users abroad come from most (simulators/data/countries.yaml, most frequent
# first); any other ISO 3166-1 code is shown as the code itself.
COUNTRY_NAMES: Final[dict[str, tuple[str, str]]] = {
    "US": ("美国", "United States"),
    "JP": ("日本", "Japan"),
    "SG": ("新加坡", "Singapore"),
    "MY": ("马来西亚", "Malaysia"),
    "KR": ("韩国", "South Korea"),
    "AU": ("澳大利亚", "Australia"),
    "CA": ("加拿大", "Canada"),
    "GB": ("英国", "United Kingdom"),
    "DE": ("德国", "Germany"),
    "FR": ("法国", "France"),
    "NZ": ("新西兰", "New Zealand"),
    "TH": ("泰国", "Thailand"),
    "ID": ("印度尼西亚", "Indonesia"),
    "PH": ("菲律宾", "Philippines"),
    "VN": ("越南", "Vietnam"),
    "IT": ("意大利", "Italy"),
    "ES": ("西班牙", "Spain"),
    "NL": ("荷兰", "Netherlands"),
    "RU": ("俄罗斯", "Russia"),
    "AE": ("阿联酋", "United Arab Emirates"),
    "ZZ": ("未知地区", "Unknown"),  # the workers' code for an abroad event without a country
}


def country_name(code: str, lang: str) -> str:
    """Every ISO 3166-1 code by name: the table above first, then CLDR's names (babel)."""
    if code in COUNTRY_NAMES:
        zh, en = COUNTRY_NAMES[code]
        return en if lang == "en" else zh
    return _cldr_territories("en" if lang == "en" else "zh").get(code.upper(), t("unknown_country", lang))


@lru_cache(maxsize=2)
def _cldr_territories(lang: str) -> dict[str, str]:
    from babel import Locale

    return dict(Locale.parse(lang).territories)


# Alert names as the detectors label them (`alertname`), and their summaries rebuilt from the
# annotations in the viewer's language (the detectors' own `summary` is English).
ALERT_NAMES: Final[dict[str, tuple[str, str]]] = {
    "TrafficSurge": ("访问激增", "Traffic surge"),
    "TrafficDrop": ("访问骤降", "Traffic drop"),
    "TrafficOutage": ("访问中断", "Traffic outage"),
    "TrafficAnomaly": ("访问异常", "Traffic anomaly"),
    "CapacityHigh": ("容量告急", "Capacity high"),
    "CapacityCritical": ("容量严重不足", "Capacity critical"),
    "CapacityForecast": ("容量预测告警", "Capacity forecast"),
}
SUMMARIES: Final[dict[str, tuple[tuple[str, str], ...]]] = {  # fullest first; the first that fills wins
    "TrafficSurge": (
        (
            "为基线的 {ratio:.1f} 倍（{minutes} 分钟内 {obs:,.0f} 次，预期 {exp:,.0f} 次）",
            "{ratio:.1f}x its baseline ({obs:,.0f} clicks in {minutes} min, {exp:,.0f} expected)",
        ),
        ("为基线的 {ratio:.1f} 倍", "{ratio:.1f}x its baseline"),
        ("访问量高于季节基线", "above its seasonal baseline"),
    ),
    "TrafficDrop": (
        ("仅为基线的 {ratio:.0%}", "{ratio:.0%} of its baseline"),
        ("访问量低于季节基线", "below its baseline"),
    ),
    "TrafficOutage": (
        ("无访问，预期 {exp:,.0f} 次", "no clicks while {exp:,.0f} were expected"),
        ("无访问", "no clicks"),
    ),
    "TrafficAnomaly": (("异常分数 {score:.2f}", "anomaly score {score:.2f}"), ("访问模式异常", "unusual traffic")),
    "CapacityHigh": (
        (
            "已达容量的 {util:.0%}（每分钟 {value:,.0f} 次，上限 {cap:,.0f} 次）",
            "{util:.0%} of capacity ({value:,.0f} of {cap:,.0f} per minute)",
        ),
        ("接近平台容量上限", "close to the platform's capacity"),
    ),
    "CapacityForecast": (
        (
            "预计 {mins:,.0f} 分钟后达到容量上限（每分钟 {cap:,.0f} 次）",
            "forecast to reach its capacity of {cap:,.0f} per minute in {mins:,.0f} min",
        ),
        ("预计将达到容量上限", "forecast to reach its capacity"),
    ),
}
SUMMARIES["CapacityCritical"] = SUMMARIES["CapacityHigh"]
# The annotation behind each placeholder; an alert stored without one gets the stored text instead.
_SUMMARY_FIELDS: Final[dict[str, str]] = {
    "ratio": "ratio",
    "obs": "window_clicks",
    "exp": "window_expected",
    "minutes": "window_minutes",
    "score": "anomaly_score",
    "util": "utilisation",
    "value": "per_minute",
    "cap": "capacity",
    "mins": "minutes_left",
}


def alert_name(name: str, lang: str) -> str:
    zh, en = ALERT_NAMES.get(name, (name, name))
    return en if lang == "en" else zh


def alert_summary(name: str, annotations: dict[str, str], lang: str) -> str:
    """The alert's summary in `lang` from its annotations; the stored text when they do not fit."""
    templates = SUMMARIES.get(name, ())
    for zh, en in templates:
        text = en if lang == "en" else zh
        if lang == "en" and "{" not in text and annotations.get("summary"):
            break  # English: the detector's own words before a generic line
        try:
            values: dict[str, float] = {}
            for key, field in _SUMMARY_FIELDS.items():
                if "{" + key in text:
                    values[key] = float(annotations[field])
            if "minutes" in values:
                values["minutes"] = int(values["minutes"])
            if all(v == v for v in values.values()):  # no NaN
                return text.format(**values)
        except (KeyError, TypeError, ValueError):
            continue
    if lang != "en" and "capacity" in name.lower():
        return t("capacity_summary", lang)
    return annotations.get("summary", "")


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


def fmt_change(current: int, earlier: int) -> str | None:
    """Signed percentage change against an earlier count; None when there is nothing to compare to."""
    if earlier <= 0:
        return None
    return f"{(current - earlier) / earlier:+.1%}"


def fmt_ratio(ratio: float | None) -> str:
    """A growth multiple as the seed writes it ("6.5x"); "—" when the earlier period stored nothing."""
    return "—" if ratio is None else f"{ratio:.2f}x"
