"""NAB-compatible scorer: run the streaming anomaly detector over a NAB corpus and score it.

    python -m bench.nab_score [--nab-dir ../shared/nab-dev | --nab-git NAB.git] [--scores-dir DIR]
                               [--per-file] [--loco]

Implements the published NAB v1.1 method (numenta/NAB `sweeper.py`, `optimizer.py`, `runner.py`):
sweep scores, probation, one corpus-wide threshold per profile, normalisation by the null detector
(see each function). `--loco` tunes the threshold on all categories but one and scores that one.
Scores come from `alerts.anomaly.AnomalyScorer` in-process or from `--scores-dir/<category>/<name>.csv`
(an `anomaly_score` column). Figures: bench/README.md. The last line holds `name=value` pairs.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

PROFILES: dict[str, dict[str, float]] = {
    "standard": {"tpWeight": 1.0, "fnWeight": 1.0, "fpWeight": 0.11},
    "reward_low_FP_rate": {"tpWeight": 1.0, "fnWeight": 1.0, "fpWeight": 0.22},
    "reward_low_FN_rate": {"tpWeight": 1.0, "fnWeight": 2.0, "fpWeight": 0.11},
}
PROBATION_PERCENT = 0.15
# next to the checkout (../shared/nab-dev), or next to the folder of worktrees
DEFAULT_NAB_DIR = next(
    (p / "shared" / "nab-dev" for p in Path(__file__).resolve().parents[2:4] if (p / "shared" / "nab-dev").is_dir()),
    Path(__file__).resolve().parents[2] / "shared" / "nab-dev",
)


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
    for i, (ts, score) in enumerate(zip(timestamps, scores, strict=False)):
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
    perfect = cost["tpWeight"] * sum(len(f.windows) for f in files)
    return ProfileResult(profile, threshold, raw, null, perfect)


def score_at(
    files: Sequence[LabelledFile], scores: dict[str, Sequence[float]], profile: str, threshold: float
) -> ProfileResult:
    """The corpus score at a given threshold (rows with score >= threshold detect), normalised."""
    cost = PROFILES[profile]
    rows: list[Row] = []
    for f in files:
        rows.extend(sweep_rows(f.timestamps, scores[f.name], f.windows, f.name, cost))
    sweep = sweep_thresholds(rows, cost)
    raw = sweep[0][1]
    for t, sc in sweep:
        if t < threshold:
            break
        raw = sc
    perfect = cost["tpWeight"] * sum(len(f.windows) for f in files)
    return ProfileResult(profile, threshold, raw, sweep[0][1], perfect)


def category(f: LabelledFile) -> str:
    return f.name.split("/", 1)[0]


def leave_one_category_out(
    files: Sequence[LabelledFile], scores: dict[str, Sequence[float]], profile: str
) -> tuple[float, float, dict[str, tuple[float, float]]]:
    """(mean held-out score, mean in-sample score, {category: (held-out, in-sample)}) over the
    categories that have windows; in-sample = at the threshold tuned on the whole corpus."""
    full = score_corpus(files, scores, profile)
    out: dict[str, tuple[float, float]] = {}
    for cat in sorted({category(f) for f in files}):
        held = [f for f in files if category(f) == cat]
        if not any(f.windows for f in held):
            continue  # no windows: no normalised score of its own (its false positives count in the rest)
        rest = [f for f in files if category(f) != cat]
        tuned = score_corpus(rest, scores, profile)
        out[cat] = (
            score_at(held, scores, profile, tuned.threshold).normalised,
            score_at(held, scores, profile, full.threshold).normalised,
        )
    held_mean = sum(v[0] for v in out.values()) / len(out)
    in_mean = sum(v[1] for v in out.values()) / len(out)
    return held_mean, in_mean, out


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


def _git_reader(git_dir: Path) -> Callable[[str], str]:
    def read(path: str) -> str:
        return subprocess.run(
            ["git", "--git-dir", str(git_dir), "show", f"HEAD:{path}"], check=True, capture_output=True, text=True
        ).stdout

    return read


def load_corpus(nab_dir: Path | None = None, git_dir: Path | None = None) -> list[LabelledFile]:
    """Read `data/**.csv`, `combined_windows.json` and `combined_labels.json` in place (never copied):
    from a nab-dev folder, or from a NAB git directory (labels/ there)."""
    if git_dir is not None:
        read = _git_reader(git_dir)
        windows = json.loads(read("labels/combined_windows.json"))
        labels = json.loads(read("labels/combined_labels.json"))
    else:
        assert nab_dir is not None
        base = nab_dir

        def read(path: str) -> str:
            return (base / path).read_text()

        windows = json.loads(read("combined_windows.json"))
        labels = json.loads(read("combined_labels.json"))
    files: list[LabelledFile] = []
    for name in sorted(windows):
        ts: list[datetime] = []
        vals: list[float] = []
        reader = csv.reader(io.StringIO(read(f"data/{name}")))
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
    return [scorer.score(t.replace(tzinfo=UTC).timestamp(), v) for t, v in zip(f.timestamps, f.values, strict=False)]


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
    parser.add_argument("--nab-git", type=Path, default=None, help="a NAB git directory: the full corpus")
    parser.add_argument("--loco", action="store_true", help="leave-one-category-out threshold transfer")
    parser.add_argument("--scores-dir", type=Path, default=None, help="precomputed scores per file")
    parser.add_argument("--per-file", action="store_true", help="print each file's standard score")
    args = parser.parse_args(argv)

    files = load_corpus(None, args.nab_git) if args.nab_git else load_corpus(args.nab_dir)
    t0 = time.perf_counter()
    scores: dict[str, Sequence[float]] = {}
    for f in files:
        scores[f.name] = read_scores(args.scores_dir / f.name) if args.scores_dir else detect(f)
    elapsed = time.perf_counter() - t0
    rows = sum(len(f.values) for f in files)
    results = {p: score_corpus(files, scores, p) for p in PROFILES}
    print(
        f"files={len(files)} rows={rows} windows={sum(len(f.windows) for f in files)} "
        f"detector_s={elapsed:.1f} ({1e6 * elapsed / rows:.1f} us/row)"
    )
    for r in results.values():
        print(
            f"{r.profile:<20} score={r.normalised:6.2f} threshold={r.threshold:.6f} "
            f"raw={r.raw:.3f} null={r.null:.1f} perfect={r.perfect:.1f}"
        )
    if args.per_file:
        std = results["standard"]
        for f in files:
            print(f"  {file_score(f, scores[f.name], 'standard', std.threshold):+7.3f}  {f.name}")
    pairs = [f"{r.profile}={r.normalised:.2f}" for r in results.values()]
    if args.loco:
        for p in PROFILES:
            held, ins, per = leave_one_category_out(files, scores, p)
            detail = " ".join(f"{c}={h:.1f}/{i:.1f}" for c, (h, i) in per.items())
            print(f"{p:<20} loco held-out mean={held:6.2f} in-sample mean={ins:6.2f}  ({detail})")
            pairs.append(f"{p}_loco={held:.2f} {p}_insample_mean={ins:.2f}")
    print(" ".join(pairs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
