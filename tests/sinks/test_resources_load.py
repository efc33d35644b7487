"""The catalogue loader: CSV and JSONL in, every bad line refused with a reason, titles queryable."""

from __future__ import annotations

import io
from typing import Any

from sinks import queries
from sinks.migrate import migrate
from sinks.resources_load import load

JSONL = """{"resource": "r1", "platform": "k12", "section": "lessons", "subcolumn": "小学", "title": "语文"}
{"resource": "r2", "platform": "mars", "section": "lessons", "title": "x"}
not json
{"resource": "", "platform": "k12", "section": "lessons", "title": "x"}
[1, 2]
{"resource": "m1", "platform": "higher", "section": "mooc", "title": "Calculus"}

{"resource": "r3", "platform": "k12", "section": "nope", "title": "x"}
{"resource": "r4", "platform": "k12", "section": "topic", "title": 5}
"""
CSV = """resource,platform,section,subcolumn,title
r1,k12,lessons,小学,"语文, 第二版"
r9,k12,lessons,,
bad,k12,,,
"""


def test_jsonl_keeps_good_lines_and_names_each_refusal(engine_store: Any) -> None:
    migrate(engine_store)
    report = load(engine_store, io.StringIO(JSONL))
    assert report.loaded == 2 and report.refused_total == 6
    reasons = dict(report.refused)
    assert "platform" in reasons[2] and "JSON" in reasons[3] and "resource" in reasons[4]
    assert reasons[5] == "not an object" and "section" in reasons[8] and "title" in reasons[9]
    rows = queries.run(engine_store, "resource_titles", ids=("r1", "m1", "r2"))
    assert [tuple(r) for r in rows] == [("m1", "Calculus"), ("r1", "语文")]


def test_csv_with_header_and_untitled_rows(engine_store: Any) -> None:
    migrate(engine_store)
    report = load(engine_store, io.StringIO(CSV))
    assert report.loaded == 2 and report.refused_total == 1 and "section" in report.refused[0][1]
    rows = queries.run(engine_store, "resource_titles", ids=("r1", "r9"))
    assert [tuple(r) for r in rows] == [("r1", "语文, 第二版"), ("r9", "r9")]  # no title: the id


def test_csv_without_the_needed_columns_is_refused_whole(engine_store: Any) -> None:
    migrate(engine_store)
    report = load(engine_store, io.StringIO("id,name\nr1,x\n"))
    assert report.loaded == 0 and report.refused_total == 1 and "header" in report.refused[0][1]
