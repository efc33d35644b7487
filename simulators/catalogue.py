"""The resource catalogue: what users click on, with stable ids, readable titles and popularity.

K-12 follows the seed article: 28,052 resources in 6 sections and 36 sub-columns, 19,508 of them
lesson resources over 19 textbook editions and 452 books. The other platforms get catalogues of their
own (vocational courses, 20,000 MOOCs, job postings). Popularity within a (platform, section) is
Zipf-like over a rank order that is fixed by the catalogue, not by the run seed, so "the most popular
lesson" is the same resource in every run and test.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

CATALOGUE_SEED = 2022_03_01
K12_TOTAL = 28_052
K12_LESSONS = 19_508
K12_BOOKS = 452

EDITIONS: tuple[str, ...] = (
    "人教版",
    "统编版",
    "北师大版",
    "苏教版",
    "沪教版",
    "外研版",
    "湘教版",
    "粤教版",
    "鲁教版",
    "冀教版",
    "浙教版",
    "教科版",
    "译林版",
    "青岛版",
    "华师大版",
    "沪科版",
    "川教版",
    "鄂教版",
    "科粤版",
)
SUBJECTS: tuple[tuple[str, tuple[int, int]], ...] = (  # subject, grade range
    ("语文", (1, 12)),
    ("数学", (1, 12)),
    ("英语", (3, 12)),
    ("道德与法治", (1, 9)),
    ("科学", (1, 6)),
    ("物理", (8, 12)),
    ("化学", (9, 12)),
    ("生物学", (7, 12)),
    ("历史", (7, 12)),
    ("地理", (7, 12)),
    ("思想政治", (10, 12)),
    ("音乐", (1, 9)),
    ("美术", (1, 9)),
    ("体育与健康", (1, 12)),
    ("信息技术", (3, 12)),
)
GRADES = (
    "一年级",
    "二年级",
    "三年级",
    "四年级",
    "五年级",
    "六年级",
    "七年级",
    "八年级",
    "九年级",
    "高一",
    "高二",
    "高三",
)

# The 36 sub-columns (二级栏目) of the six K-12 sections; names from the seed article where it gives them.
SUBCOLUMNS: dict[str, tuple[str, ...]] = {
    "topic": (
        "党史学习",
        "爱国主义",
        "品德教育",
        "科普教育",
        "生态文明",
        "体育锻炼",
        "文化艺术",
        "劳动教育",
        "防疫知识",
        "生命与安全",
        "心理健康",
    ),
    "lessons": ("小学", "初中", "高中", "电子教材"),
    "afterschool": ("研学实践", "影视教育", "经典阅读", "体育活动", "艺术欣赏", "科学实验", "劳动实践"),
    "teacher": ("作业命题", "学科研修", "师德师风", "教学能力", "信息技术应用", "班主任工作"),
    "family": ("家长课堂", "亲子阅读", "家校沟通", "心理援助"),
    "reform": ("“双减”经验", "课程改革", "教学改革", "评价改革"),
}
K12_OTHER_COUNTS = {"topic": 3000, "afterschool": 2200, "teacher": 1800, "family": 900, "reform": 644}
FORMATS = ("微课", "专题片", "讲座", "活动案例", "阅读材料", "动画", "直播回放")

# Other platforms: (section, size, title stems).
OTHER_PLATFORMS: dict[str, tuple[str, int, tuple[str, ...]]] = {
    "vocational": (
        "vocational_courses",
        5_000,
        (
            "数控技术",
            "护理",
            "电子商务",
            "汽车运用与维修",
            "会计事务",
            "计算机网络技术",
            "学前教育",
            "建筑工程施工",
            "酒店服务与管理",
            "现代物流",
        ),
    ),
    "higher": (
        "mooc",
        20_000,
        (
            "高等数学",
            "大学物理",
            "线性代数",
            "大学英语",
            "中国近现代史纲要",
            "数据结构",
            "有机化学",
            "宏观经济学",
            "人工智能导论",
            "临床医学概论",
        ),
    ),
    "employment": (
        "jobs",
        10_000,
        (
            "软件工程师",
            "教师",
            "护士",
            "会计",
            "销售代表",
            "机械工程师",
            "行政助理",
            "数据分析师",
            "社会工作者",
            "乡村振兴专员",
        ),
    ),
}


@dataclass(frozen=True)
class Resource:
    id: str
    platform: str
    section: str
    subcolumn: str
    title: str


def _lesson_books() -> list[tuple[str, str, str, str]]:
    """452 books as (edition, subject, grade, volume), spread over editions and grades."""
    books: list[tuple[str, str, str, str]] = []
    e = 0
    while len(books) < K12_BOOKS:
        for subject, (lo, hi) in SUBJECTS:
            for g in range(lo, hi + 1):
                for vol in ("上册", "下册"):
                    if len(books) < K12_BOOKS:
                        books.append((EDITIONS[e % len(EDITIONS)], subject, GRADES[g - 1], vol))
                        e += 1
    return books


def _stage(grade: str) -> str:
    if grade.startswith("高"):
        return "高中"
    return "初中" if grade in ("七年级", "八年级", "九年级") else "小学"


def _k12() -> list[Resource]:
    out: list[Resource] = []
    books = _lesson_books()
    base, extra = divmod(K12_LESSONS, K12_BOOKS)
    n = 0
    for b, (edition, subject, grade, vol) in enumerate(books):
        for lesson in range(1, base + (1 if b < extra else 0) + 1):
            n += 1
            if lesson == 1:  # each book's first resource is its electronic textbook
                out.append(
                    Resource(
                        f"k12-les-{n:05d}", "k12", "lessons", "电子教材", f"{edition}·{subject}·{grade}{vol}·电子教材"
                    )
                )
                continue
            unit, hour = divmod(lesson - 2, 6)
            out.append(
                Resource(
                    f"k12-les-{n:05d}",
                    "k12",
                    "lessons",
                    _stage(grade),
                    f"{edition}·{subject}·{grade}{vol}·第{unit + 1}单元 第{hour + 1}课时",
                )
            )
    for section, count in K12_OTHER_COUNTS.items():
        cols = SUBCOLUMNS[section]
        for i in range(count):
            col = cols[i % len(cols)]
            fmt = FORMATS[(i // len(cols)) % len(FORMATS)]
            out.append(
                Resource(f"k12-{section[:3]}-{i + 1:05d}", "k12", section, col, f"{col}·{fmt}·第{i // len(cols) + 1}期")
            )
    return out


def _other(platform: str) -> list[Resource]:
    section, size, stems = OTHER_PLATFORMS[platform]
    return [
        Resource(
            f"{platform[:3]}-{i + 1:05d}",
            platform,
            section,
            stems[i % len(stems)],
            f"{stems[i % len(stems)]}·{'课程' if platform != 'employment' else '岗位'}{i // len(stems) + 1}",
        )
        for i in range(size)
    ]


@dataclass(frozen=True)
class SectionCatalogue:
    """Resources of one (platform, section), in popularity rank order (rank 1 first)."""

    platform: str
    section: str
    resources: tuple[Resource, ...]

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(r.id for r in self.resources)

    def zipf_cdf(self, exponent: float) -> np.ndarray:
        ranks = np.arange(1, len(self.resources) + 1, dtype=np.float64)
        w = ranks**-exponent
        cdf = np.cumsum(w)
        return cdf / cdf[-1]


@lru_cache(maxsize=1)
def catalogue() -> dict[tuple[str, str], SectionCatalogue]:
    """All resources grouped by (platform, section), each in a fixed, shuffled popularity order."""
    rng = np.random.default_rng(CATALOGUE_SEED)
    groups: dict[tuple[str, str], list[Resource]] = {}
    for r in _k12() + [r for p in OTHER_PLATFORMS for r in _other(p)]:
        groups.setdefault((r.platform, r.section), []).append(r)
    out = {}
    for key, items in groups.items():
        order = rng.permutation(len(items))
        out[key] = SectionCatalogue(key[0], key[1], tuple(items[i] for i in order))
    return out


@lru_cache(maxsize=1)
def by_id() -> dict[str, Resource]:
    """Every resource by id (for the cockpit's titles and the tests)."""
    return {r.id: r for sc in catalogue().values() for r in sc.resources}
