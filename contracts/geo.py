"""Provincial-level divisions (GB/T 2260 codes) and the fixed enumerations of the platform.

The numeric ids are the first two digits of the GB/T 2260 code: they are stable, small enough for
ClickHouse's Enum8 and readable in SQL. "abroad" is 0 and carries an ISO 3166-1 alpha-2 country.
"""

from __future__ import annotations

from typing import Final, NamedTuple


class Province(NamedTuple):
    code: str  # GB/T 2260, six digits
    enum_id: int  # first two digits, the Enum8 value
    zh: str
    en: str


PROVINCES: Final[tuple[Province, ...]] = (
    Province("110000", 11, "北京", "Beijing"),
    Province("120000", 12, "天津", "Tianjin"),
    Province("130000", 13, "河北", "Hebei"),
    Province("140000", 14, "山西", "Shanxi"),
    Province("150000", 15, "内蒙古", "Inner Mongolia"),
    Province("210000", 21, "辽宁", "Liaoning"),
    Province("220000", 22, "吉林", "Jilin"),
    Province("230000", 23, "黑龙江", "Heilongjiang"),
    Province("310000", 31, "上海", "Shanghai"),
    Province("320000", 32, "江苏", "Jiangsu"),
    Province("330000", 33, "浙江", "Zhejiang"),
    Province("340000", 34, "安徽", "Anhui"),
    Province("350000", 35, "福建", "Fujian"),
    Province("360000", 36, "江西", "Jiangxi"),
    Province("370000", 37, "山东", "Shandong"),
    Province("410000", 41, "河南", "Henan"),
    Province("420000", 42, "湖北", "Hubei"),
    Province("430000", 43, "湖南", "Hunan"),
    Province("440000", 44, "广东", "Guangdong"),
    Province("450000", 45, "广西", "Guangxi"),
    Province("460000", 46, "海南", "Hainan"),
    Province("500000", 50, "重庆", "Chongqing"),
    Province("510000", 51, "四川", "Sichuan"),
    Province("520000", 52, "贵州", "Guizhou"),
    Province("530000", 53, "云南", "Yunnan"),
    Province("540000", 54, "西藏", "Tibet"),
    Province("610000", 61, "陕西", "Shaanxi"),
    Province("620000", 62, "甘肃", "Gansu"),
    Province("630000", 63, "青海", "Qinghai"),
    Province("640000", 64, "宁夏", "Ningxia"),
    Province("650000", 65, "新疆", "Xinjiang"),
    Province("710000", 71, "台湾", "Taiwan"),
    Province("810000", 81, "香港", "Hong Kong"),
    Province("820000", 82, "澳门", "Macau"),
)
ABROAD: Final = "abroad"
ABROAD_ENUM_ID: Final = 0

PROVINCE_BY_CODE: Final = {p.code: p for p in PROVINCES}
PROVINCE_CODES: Final[tuple[str, ...]] = tuple(p.code for p in PROVINCES) + (ABROAD,)

PLATFORMS: Final[dict[str, tuple[str, str]]] = {
    "k12": ("中小学", "K-12"),
    "vocational": ("职业教育", "Vocational"),
    "higher": ("高等教育", "Higher education"),
    "employment": ("24365就业", "Employment"),
}

# Sections: the six K-12 sections of the seed article, then the other platforms' own.
SECTIONS: Final[dict[str, tuple[str, str]]] = {
    "topic": ("专题教育", "Topic education"),
    "lessons": ("课程教学", "Lessons"),
    "afterschool": ("课后服务", "After-school"),
    "teacher": ("教师研修", "Teacher training"),
    "family": ("家庭教育", "Family education"),
    "reform": ("教改实践经验", "Reform practice"),
    "vocational_courses": ("职教专业课程", "Vocational courses"),
    "mooc": ("慕课", "MOOC"),
    "jobs": ("就业岗位", "Job postings"),
    "other": ("其他", "Other"),
}
ACTIONS: Final[tuple[str, ...]] = ("view", "play", "download", "search")
DEVICES: Final[tuple[str, ...]] = ("web", "app", "tv", "other")
SESSION_KINDS: Final[tuple[str, ...]] = ("start", "heartbeat", "end")


def enum8(values: tuple[str, ...] | list[str], ids: list[int] | None = None) -> str:
    """ClickHouse Enum8 type text for a fixed set, ids 1..n unless given (0 stays free)."""
    ids = ids or list(range(1, len(values) + 1))
    body = ", ".join(f"'{v}' = {i}" for v, i in zip(values, ids, strict=True))
    return f"Enum8({body})"


PROVINCE_ENUM8: Final = enum8(list(PROVINCE_CODES), [p.enum_id for p in PROVINCES] + [ABROAD_ENUM_ID])
PLATFORM_ENUM8: Final = enum8(tuple(PLATFORMS))
SECTION_ENUM8: Final = enum8(tuple(SECTIONS))
ACTION_ENUM8: Final = enum8(ACTIONS)
DEVICE_ENUM8: Final = enum8(DEVICES)
