"""Every named query, on both engines, against `fixture_data` with answers worked out by hand.

`CASES` must name every query in `sinks.queries.NAMED`: a query added to a table module without a
case here fails `test_every_named_query_has_a_case`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from sinks import queries
from sinks.migrate import discover, migrate
from sinks.store import StoreError
from tests.conftest import unique
from tests.sinks import fixture_data as fx
from tests.sinks.conftest import ENGINES, engine

T, M, H, D = fx.T, fx.M, fx.H, fx.D
DAY = {"start": T, "end": T + D}


def as_dict(rows: list[tuple[Any, ...]]) -> dict[Any, Any]:
    """For queries without ORDER BY: compare as a mapping of the key to its total."""
    return {r[0]: r[1] for r in rows}


Case = tuple[str, dict[str, Any], Any, Callable[[list[tuple[Any, ...]]], Any] | None]
THREE_DAYS = {"start": T - D, "end": T + 2 * D}

# (name, params, expected rows or shaped rows, shape function or None)
CASES: list[Case] = [
    ("applied_migrations", {}, [(m.VERSION,) for m in discover()], None),
    # max(minute) is 15 March 00:00; count() counts stored rows (merges shrink it): non-zero only.
    ("latest_minute", {}, (T + D, True), lambda rows: (rows[0][0], rows[0][1] > 0)),
    (
        "per_minute_national",
        DAY,
        [(T + 8 * H, 25), (T + 8 * H + M, 6), (T + 9 * H + 30 * M, 6), (T + D - M, 8)],
        None,
    ),  # 10+7+3+5 at 08:00, 4+2 at 08:01
    (
        "series",
        {**DAY, "step": 60},
        [(T + 8 * H, 25), (T + 8 * H + M, 6), (T + 9 * H + 30 * M, 6), (T + D - M, 8)],
        None,
    ),
    ("series", {**DAY, "step": H}, [(T + 8 * H, 31), (T + 9 * H, 6), (T + 23 * H, 8)], None),
    ("series", {**DAY, "step": H, "platform": "k12"}, [(T + 8 * H, 26), (T + 23 * H, 8)], None),
    # the same hour lines from the hourly rollup, for the cockpit's 7-day view
    ("series_hours", {**DAY, "step": H}, [(T + 8 * H, 31), (T + 9 * H, 6), (T + 23 * H, 8)], None),
    ("series_hours", {**DAY, "step": H, "province": "110000"}, [(T + 8 * H, 3), (T + 23 * H, 8)], None),
    ("series", {**DAY, "step": H, "province": "110000"}, [(T + 8 * H, 3), (T + 23 * H, 8)], None),
    ("total_between", DAY, [(45,)], None),  # 10+7+3+5+4+2+6+8: not the 1000 before, nor 100 after
    ("total_between", {**DAY, "province": "450000"}, [(26,)], None),
    ("total_between", {**DAY, "platform": "k12", "province": "110000"}, [(8,)], None),
    (
        "by_platform_province",
        DAY,
        [
            (T + 8 * H, "higher", "110000", 3),
            (T + 8 * H, "k12", "450000", 22),
            (T + 8 * H + M, "k12", "450000", 4),
            (T + 8 * H + M, "vocational", "abroad", 2),
            (T + 9 * H + 30 * M, "employment", "370000", 6),
            (T + D - M, "k12", "110000", 8),
        ],
        None,
    ),
    ("total_by_platform", DAY, {"k12": 34, "higher": 3, "vocational": 2, "employment": 6}, as_dict),
    ("total_by_platform", {**DAY, "province": "450000"}, {"k12": 26}, as_dict),
    ("total_by_province", DAY, {"450000": 26, "110000": 11, "abroad": 2, "370000": 6}, as_dict),
    ("total_by_province", {**DAY, "platform": "k12"}, {"450000": 26, "110000": 8}, as_dict),
    (
        "total_by_section",
        DAY,
        {"lessons": 19, "topic": 7, "mooc": 3, "vocational_courses": 2, "jobs": 6, "family": 8},
        as_dict,
    ),
    ("total_by_section", {**DAY, "platform": "k12", "province": "450000"}, {"lessons": 19, "topic": 7}, as_dict),
    ("province_per_minute", {**DAY, "province": "450000"}, [(T + 8 * H, "k12", 22), (T + 8 * H + M, "k12", 4)], None),
    ("late_total_between", DAY, [(7,)], None),  # 3+4; the 50 of 15 March is outside
    ("late_total_between", {**DAY, "platform": "higher"}, [(0,)], None),
    ("late_total_between", {**THREE_DAYS, "platform": "higher", "province": "110000"}, [(50,)], None),
    ("next_offsets", {"consumer": "g", "topic": "r"}, {0: 25, 1: 7}, as_dict),
    # Report queries read the hourly rollup, filled by the materialized view from the inserts above.
    ("daily_totals", THREE_DAYS, [(20220313, 1000), (20220314, 45), (20220315, 100)], None),
    ("daily_totals", {**THREE_DAYS, "province": "110000"}, [(20220314, 11), (20220315, 100)], None),
    (
        "daily_by_province",
        THREE_DAYS,
        [
            (20220313, "450000", 1000),
            (20220314, "110000", 11),
            (20220314, "370000", 6),
            (20220314, "450000", 26),
            (20220314, "abroad", 2),
            (20220315, "110000", 100),
        ],
        None,
    ),
    (
        "daily_by_province",
        {**THREE_DAYS, "platform": "k12"},
        [(20220313, "450000", 1000), (20220314, "110000", 8), (20220314, "450000", 26), (20220315, "110000", 100)],
        None,
    ),
    (
        "hourly_by_platform",
        DAY,
        [
            (T + 8 * H, "higher", 3),
            (T + 8 * H, "k12", 26),
            (T + 8 * H, "vocational", 2),
            (T + 9 * H, "employment", 6),
            (T + 23 * H, "k12", 8),
        ],
        None,
    ),
    # Whole-hour and whole-day rollups (sinks/rollups.py): the same sums as the minute table.
    ("total_between_hours", DAY, [(45,)], None),
    ("total_between_hours", {**DAY, "platform": "k12", "province": "110000"}, [(8,)], None),
    ("total_by_province_hours", {**DAY, "platform": "k12"}, {"450000": 26, "110000": 8}, as_dict),
    ("total_by_platform_days", {**THREE_DAYS, "province": "110000"}, {"k12": 108, "higher": 3}, as_dict),
    ("total_by_section_days", {**DAY, "platform": "k12", "province": "450000"}, {"lessons": 19, "topic": 7}, as_dict),
    ("total_by_platform_hours", {**DAY, "province": "450000"}, {"k12": 26}, as_dict),
    ("total_by_province_hours", DAY, {"450000": 26, "110000": 11, "abroad": 2, "370000": 6}, as_dict),
    ("total_by_section_hours", {**DAY, "platform": "k12", "province": "450000"}, {"lessons": 19, "topic": 7}, as_dict),
    ("series_days", THREE_DAYS, [(T - D, 1000), (T, 45), (T + D, 100)], None),
    ("series_days", {**THREE_DAYS, "province": "110000"}, [(T, 11), (T + D, 100)], None),
    ("total_between_days", DAY, [(45,)], None),
    ("total_between_days", {**THREE_DAYS, "province": "110000"}, [(111,)], None),
    ("total_by_platform_days", DAY, {"k12": 34, "higher": 3, "vocational": 2, "employment": 6}, as_dict),
    ("total_by_province_days", {**DAY, "platform": "k12"}, {"450000": 26, "110000": 8}, as_dict),
    (
        "total_by_section_days",
        DAY,
        {"lessons": 19, "topic": 7, "mooc": 3, "vocational_courses": 2, "jobs": 6, "family": 8},
        as_dict,
    ),
    ("rejects_by_reason", DAY, [("json", 3), ("schema", 4)], None),
    ("tiles_recent", DAY, [(T + 8 * H, "k12", 8), (T + 8 * H + 10, "higher", 2)], None),
    ("resource_titles", {"ids": ("r1", "m1", "r2")}, [("m1", "Calculus I"), ("r1", "语文·一年级")], None),
    (
        "top_resources",
        {**DAY, "limit": 2},
        [("higher", "m1", "mooc", 9, 9, 0), ("k12", "r1", "lessons", 6, 2, 1)],
        None,
    ),
    ("uniques_between", DAY, [(2, 3)], None),
    ("sessions_between", DAY, [(3, 3, 4, 1, 1, 0, 0, 0, 1, 4030.0)], None),
    ("countries_between", {**DAY, "limit": 5}, [("SG", 5), ("US", 1)], None),
    (
        "alerts_current",
        {"end": T + D},
        [
            ("fp2", "TrafficDrop", "pending", "warning", T + 9 * H, 0.2, fx.L2, "{}"),
            ("fp1", "TrafficSurge", "firing", "warning", T + 8 * H + 5 * M, 3.1, fx.L1, "{}"),
        ],
        None,
    ),
    (
        "alerts_history",
        {**DAY, "limit": 10},
        [
            (
                T + 10 * H,
                "fp1",
                "TrafficSurge",
                "ack",
                "firing",
                "firing",
                "warning",
                3.1,
                fx.L1,
                "{}",
                "ops1",
                "on it",
            ),
            (T + 9 * H, "fp2", "TrafficDrop", "state", "inactive", "pending", "warning", 0.2, fx.L2, "{}", "", ""),
            (
                T + 8 * H + 5 * M,
                "fp1",
                "TrafficSurge",
                "state",
                "pending",
                "firing",
                "warning",
                3.1,
                fx.L1,
                "{}",
                "",
                "",
            ),
            (T + 8 * H, "fp1", "TrafficSurge", "state", "inactive", "pending", "warning", 2.7, fx.L1, "{}", "", ""),
        ],
        None,
    ),
]


def case_id(case: Case) -> str:
    name, params, _, _ = case
    filters = "-".join(
        f"{k}={v}" for k, v in params.items() if k in queries.FILTERS and k not in queries.params_of(name)
    )
    return f"{name}[{filters}]" if filters else name


def test_every_named_query_has_a_case_and_every_filter_is_exercised() -> None:
    assert {c[0] for c in CASES} == set(queries.NAMED)
    for name, params, _, _ in CASES:
        plain = {k: v for k, v in params.items() if k not in queries.FILTERS or k in queries.params_of(name)}
        assert set(plain) == set(queries.params_of(name)), name
    filtered = {c[0] for c in CASES if any(k in c[1] and k not in queries.params_of(c[0]) for k in queries.FILTERS)}
    assert filtered == queries.FILTERABLE


@pytest.fixture(scope="module", params=ENGINES)
def loaded(request: pytest.FixtureRequest) -> Iterator[Any]:
    """The fixture rows in a database of their own, once per engine for the whole module."""
    store = engine(request, request.param).with_database(unique("q"))
    migrate(store)
    fx.load(store)
    yield store
    store.drop_database()


@pytest.mark.parametrize("case", CASES, ids=[case_id(c) for c in CASES])
def test_named_query_returns_the_known_answer(loaded: Any, case: Case) -> None:
    name, params, expected, shape = case
    rows = queries.run(loaded, name, **params)
    got = shape(rows) if shape else rows
    assert got == expected, f"{name} {params} on {loaded.engine}"


def test_ranges_are_half_open_on_both_engines(loaded: Any) -> None:
    minute = {"start": T + 8 * H, "end": T + 8 * H + M}
    assert queries.run(loaded, "total_between", **minute) == [(25,)]
    assert queries.run(loaded, "total_between", start=T + 8 * H + M, end=T + 8 * H + M) == [(0,)]
    assert queries.run(loaded, "per_minute_national", **minute) == [(T + 8 * H, 25)]


def test_values_are_bound_not_pasted(loaded: Any) -> None:
    """A hostile province string stays one value: it matches nothing (or is refused as no such
    enum element), it never widens the WHERE clause."""
    evil = "450000' OR 1=1 --"
    try:
        rows = queries.run(loaded, "province_per_minute", start=T, end=T + D, province=evil)
    except StoreError as err:
        assert "1=1" in str(err) and "enum" in str(err).lower()
    else:
        assert rows == []
    with pytest.raises(ValueError, match="unknown province"):  # filters are checked before any SQL
        queries.run(loaded, "total_between", start=T, end=T + D, province=evil)
    with pytest.raises(TypeError):
        queries.run(loaded, "total_between", start=T)  # a missing parameter is refused up front
    with pytest.raises(TypeError):
        queries.run(loaded, "next_offsets", consumer="g", topic="r", platform="k12")  # takes no filters
