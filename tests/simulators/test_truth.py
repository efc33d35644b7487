from pathlib import Path

from contracts.events import Click, Session
from simulators.truth import GroundTruth


def _click(ts: int, prov: str = "210000", res: str = "r1", plat: str = "k12") -> Click:
    return Click(
        id=f"c{ts}", ts=ts, platform=plat, province=prov, user="u", session="s", resource=res, section="lessons"
    )


def _sess(ts: int, kind: str = "start") -> Session:
    return Session(id=f"s{ts}", ts=ts, platform="k12", province="210000", user="u", session="s", kind=kind)


def test_counts_by_minute_platform_province_and_resource() -> None:
    gt = GroundTruth()
    gt.add(_click(1_646_064_000_000))  # 2022-02-28T16:00:00Z
    gt.add_batch(
        [_click(1_646_064_059_999, res="r2"), _click(1_646_064_060_000, prov="220000"), _sess(1_646_064_000_500)]
    )
    m = gt.clicks_by_minute_platform_province()
    assert m == {(1_646_064_000, "k12", "210000"): 2, (1_646_064_060, "k12", "220000"): 1}
    assert gt.by_resource() == {"r1": 2, "r2": 1}
    assert (gt.total_clicks, gt.total_sessions, gt.total_events) == (3, 1, 4)
    assert gt.clicks_by_day() == {"2022-03-01": {"210000": 2, "220000": 1}}


def test_json_roundtrip_merge_subtract(tmp_path: Path) -> None:
    a, b = GroundTruth(), GroundTruth()
    a.add_batch([_click(1_700_000_000_000), _sess(1_700_000_000_001, "end")])
    b.add_batch([_click(1_700_000_000_000), _click(1_700_000_600_000, res="r9")])
    path = a.to_json(tmp_path / "a.json")
    assert GroundTruth.from_json(path) == a
    merged = GroundTruth().merge(a).merge(b)
    assert merged.total_clicks == 3 and merged.by_resource() == {"r1": 2, "r9": 1}
    merged.subtract(b)
    assert merged == a
