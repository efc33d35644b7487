"""Explanations: contributors and shares of a deviation, as one readable line."""

from __future__ import annotations

from alerts.explain import explain, explain_all, format_count


def test_shares_of_the_same_direction_deviation() -> None:
    parts = {
        "Liaoning": (21.8e6, 10e6),  # +11.8 M
        "Jilin": (12.4e6, 4e6),  # +8.4 M
        "Fujian": (9e6, 5e6),  # +4 M
        "Beijing": (3e6, 4e6),  # -1 M: not a reason for a surge
        "Shandong": (20e6, 6.2e6),  # +13.8 M
    }
    e = explain(38e6, parts, top=3)
    assert [c.name for c in e.contributors] == ["Shandong", "Liaoning", "Jilin"]
    assert abs(sum(c.share for c in e.contributors) + e.other_share - 1.0) < 1e-9
    assert round(e.contributors[0].share, 3) == round(13.8 / 38.0, 3)
    assert e.text() == "+38 M above baseline: Shandong 36%, Liaoning 31%, Jilin 22%, other 11%"


def test_drop_is_explained_by_falling_parts() -> None:
    e = explain(-5000, {"k12": (1000, 5500), "mooc": (900, 1000), "jobs": (600, 500)}, dimension="platform")
    assert [c.name for c in e.contributors] == ["k12", "mooc"]
    assert e.text(" clicks").startswith("-5.0 k clicks below baseline: k12 98%")


def test_nothing_to_explain() -> None:
    e = explain(10.0, {"a": (1.0, 2.0)})
    assert e.contributors == () and e.text() == "+10 above baseline"


def test_several_dimensions_in_one_line() -> None:
    line = explain_all(
        1200,
        {
            "province": {"Jilin": (1500, 400), "Hebei": (600, 500)},
            "platform": {"K-12": (2400, 1250), "MOOC": (100, 90)},
        },
    )
    assert line == "+1.2 k above baseline: Jilin 92%, Hebei 8%; K-12 99%"  # MOOC's 1% is under min_share


def test_format_count() -> None:
    assert format_count(38_000_000, signed=True) == "+38 M"
    assert format_count(1_234_567) == "1.2 M"
    assert format_count(-950) == "-950"
