"""NAB-compatible scorer: run the streaming anomaly detector over a NAB corpus and score it.

    python -m bench.nab_score [--nab-dir ../shared/nab-dev] [--scores-dir DIR] [--per-file]

Implements the published NAB v1.1 method (numenta/NAB `sweeper.py`, `optimizer.py`, `runner.py`):

- every row gets a *sweep score*: inside a window, the scaled sigmoid of its relative position
  (x tp weight / the score at the window's left edge); outside, the scaled sigmoid of its distance past
  the preceding window (x fp weight), -fp weight if no window precedes it;
- the first 15 % of each file (at most 750 rows) is probationary and not scored;
- threshold optimisation as NAB does: the rows of the whole corpus are sorted by anomaly score and
  swept from the top; at each distinct score the corpus score is (sum of FP sweep scores) + per window
  (best TP sweep score, i.e. the earliest detection, or -fn weight if none); the best threshold wins;
- normalisation: 100 * (score - null) / (perfect - null), where the null detector never fires
  (-fn weight per scored window) and perfect = tp weight x number of labels.

The detector's scores are either computed in-process with `alerts.anomaly.AnomalyScorer` (the same
code `python -m alerts.score_csv` runs) or read from `--scores-dir/<category>/<name>.csv` files with an
`anomaly_score` column (or a single score per line). The last line holds `name=value` pairs.
"""
from __future__ import annotations

import argparse
import csv
import json
import math
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path


PROFILES: dict[str, dict[str, float]] = {
    "standard": {"tpWeight": 1.0, "fnWeight": 1.0, "fpWeight": 0.11},
    "reward_low_FP_rate": {"tpWeight": 1.0, "fnWeight": 1.0, "fpWeight": 0.22},
    "reward_low_FN_rate": {"tpWeight": 1.0, "fnWeight": 2.0, "fpWeight": 0.11},
}
PROBATION_PERCENT = 0.15
DEFAULT_NAB_DIR = Path(__file__).resolve().parents[2] / "shared" / "nab-dev"


def scaled_sigmoid(position: float) -> float:
    """NAB's reward curve: ~+1 at a window's left edge, 0 at its right edge, -1 well after it."""
    if position >= 3.0:
        return -1.0
    return 2.0 / (1.0 + math.exp(5.0 * position)) - 1.0


def probation_length(rows: int) -> float:
    return min(math.floor(PROBATION_PERCENT * rows), PROBATION_PERCENT * 5000)


@dataclass(frozen=True, slots=True)
class Row:
    score: float  # detector output
    sweep: float  # weighted reward if this row were a detection
    window: str | None  # window name, None outside windows


def sweep_rows(
    timestamps: Sequence[datetime],
    scores: Sequence[float],
    windows: Sequence[tuple[datetime, datetime]],
    name: str,
    cost: dict[str, float],
) -> list[Row]:
    """Per-row sweep scores of one file, probationary rows left out (NAB `calcSweepScore`)."""
    if len(timestamps) != len(scores):
        raise ValueError(f"{name}: {len(timestamps)} rows but {len(scores)} scores")
    index = {t: i for i, t in enumerate(timestamps)}
    pending = list(windows)
    max_tp = scaled_sigmoid(-1.0)
    probation = probation_length(len(timestamps))
    cur: tuple[datetime, datetime] | None = None
    cur_name: str | None = None
    cur_right = cur_width = 0.0
    prev_right: float | None = None
    prev_width = 0.0
    rows: list[Row] = []
    for i, (ts, score) in enumerate(zip(timestamps, scores)):
        if pending and ts == pending[0][0]:
            cur = pending.pop(0)
            cur_name = f"{name}|{cur[0]}"
            cur_right = float(index[cur[1]])
            cur_width = cur_right - index[cur[0]] + 1
        if cur is not None:
            weighted = scaled_sigmoid(-(cur_right - i + 1) / cur_width) * cost["tpWeight"] / max_tp
        else:
            past = 3.0 if prev_right is None else abs(prev_right - i) / (prev_width - 1)
            weighted = scaled_sigmoid(past) * cost["fpWeight"]
        if i >= probation:
            rows.append(Row(float(score), weighted, cur_name))
        if cur is not None and ts == cur[1]:
            prev_right, prev_width = float(i), cur_width
            cur, cur_name = None, None
    return rows


def sweep_thresholds(rows: Iterable[Row], cost: dict[str, float]) -> list[tuple[float, float]]:
    """(threshold, corpus score) for every distinct score, highest threshold first (NAB
    `calcScoreByThreshold`): rows with score >= threshold are detections."""
    ranked = sorted(rows, key=lambda r: r.score, reverse=True)
    parts: dict[str, float] = {r.window: -cost["fnWeight"] for r in ranked if r.window is not None}
    fp = 0.0
    window_total = sum(parts.values())
    out: list[tuple[float, float]] = []
    threshold = 1.1
    for r in ranked:
        if r.score != threshold:
            out.append((threshold, fp + window_total))
            threshold = r.score
        if r.window is None:
            fp += r.sweep
        elif r.sweep > parts[r.window]:
            window_total += r.sweep - parts[r.window]
            parts[r.window] = r.sweep
    out.append((threshold, fp + window_total))
    return out


@dataclass(frozen=True, slots=True)
class ProfileResult:
    profile: str
    threshold: float
    raw: float
    null: float
    perfect: float

    @property
    def normalised(self) -> float:
        return 100.0 * (self.raw - self.null) / (self.perfect - self.null)


@dataclass(frozen=True, slots=True)
class LabelledFile:
    name: str
    timestamps: list[datetime]
    values: list[float]
    windows: list[tuple[datetime, datetime]]
    labels: int


def score_corpus(files: Sequence[LabelledFile], scores: dict[str, Sequence[float]], profile: str) -> ProfileResult:
    """Optimise the threshold over the whole corpus and normalise, as NAB's optimise+score+normalise."""
    cost = PROFILES[profile]
    rows: list[Row] = []
    for f in files:
        rows.extend(sweep_rows(f.timestamps, scores[f.name], f.windows, f.name, cost))
    sweep = sweep_thresholds(rows, cost)
    threshold, raw = max(sweep, key=lambda ts: ts[1])  # first of equal scores = highest threshold
    null = sweep[0][1]  # threshold 1.1: nothing detected
    perfect = cost["tpWeight"] * sum(f.labels for f in files)
    return ProfileResult(profile, threshold, raw, null, perfect)


def file_score(f: LabelledFile, scores: Sequence[float], profile: str, threshold: float) -> float:
    """One file's raw score at a given threshold (NAB `scoreDataSet`), for the per-file report."""
    cost = PROFILES[profile]
    sweep = sweep_thresholds(sweep_rows(f.timestamps, scores, f.windows, f.name, cost), cost)
    chosen = sweep[0][1]
    for t, s in sweep:
        if t < threshold:
            break
        chosen = s
    return chosen


def _parse_ts(text: str) -> datetime:
    return datetime.fromisoformat(text.strip())


def load_corpus(nab_dir: Path) -> list[LabelledFile]:
    """Read `data/**.csv`, `combined_windows.json` and `combined_labels.json` in place (never copied)."""
    windows = json.loads((nab_dir / "combined_windows.json").read_text())
    labels = json.loads((nab_dir / "combined_labels.json").read_text())
    files: list[LabelledFile] = []
    for name in sorted(windows):
        ts: list[datetime] = []
        vals: list[float] = []
        with (nab_dir / "data" / name).open(newline="") as fh:
            reader = csv.reader(fh)
            next(reader)
            for row in reader:
                ts.append(_parse_ts(row[0]))
                vals.append(float(row[1]))
        wins = [(_parse_ts(a), _parse_ts(b)) for a, b in windows[name]]
        files.append(LabelledFile(name, ts, vals, wins, len(labels.get(name, []))))
    return files


def detect(f: LabelledFile) -> list[float]:
    """Stream one file through the project's detector, one score per row."""
    from alerts.anomaly import AnomalyScorer

    scorer = AnomalyScorer()
    # NAB timestamps are naive; read them as UTC, as `python -m alerts.score_csv` does
    return [scorer.score(t.replace(tzinfo=timezone.utc).timestamp(), v) for t, v in zip(f.timestamps, f.values)]


def read_scores(path: Path) -> list[float]:
    with path.open(newline="") as fh:
        rows = list(csv.reader(fh))
    if rows and "anomaly_score" in rows[0]:
        col = rows[0].index("anomaly_score")
        return [float(r[col]) for r in rows[1:]]
    return [float(r[-1]) for r in rows if r and r[-1] not in ("score", "anomaly_score")]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nab-dir", type=Path, default=DEFAULT_NAB_DIR)
    parser.add_argument("--scores-dir", type=Path, default=None, help="precomputed scores per file")
    parser.add_argument("--per-file", action="store_true", help="print each file's standard score")
    args = parser.parse_args(argv)

    files = load_corpus(args.nab_dir)
    t0 = time.perf_counter()
    scores: dict[str, Sequence[float]] = {}
    for f in files:
        scores[f.name] = read_scores(args.scores_dir / f.name) if args.scores_dir else detect(f)
    elapsed = time.perf_counter() - t0
    rows = sum(len(f.values) for f in files)
    results = {p: score_corpus(files, scores, p) for p in PROFILES}
    print(f"files={len(files)} rows={rows} windows={sum(len(f.windows) for f in files)} "
          f"detector_s={elapsed:.1f} ({1e6 * elapsed / rows:.1f} us/row)")
    for r in results.values():
        print(f"{r.profile:<20} score={r.normalised:6.2f} threshold={r.threshold:.6f} "
              f"raw={r.raw:.3f} null={r.null:.1f} perfect={r.perfect:.1f}")
    if args.per_file:
        std = results["standard"]
        for f in files:
            print(f"  {file_score(f, scores[f.name], 'standard', std.threshold):+7.3f}  {f.name}")
    print(" ".join(f"{r.profile}={r.normalised:.2f}" for r in results.values()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
