"""Stream a `timestamp,value` CSV through the general anomaly detector, one score per row.

    python -m alerts.score_csv FILE.csv            # timestamp,value,anomaly_score (NAB results layout)
    python -m alerts.score_csv - --scores-only < FILE.csv

Why streaming: the score of a row must depend only on the rows before it (that is what NAB and a
live cockpit both require), so rows are read, scored and printed one at a time and the output is
flushed as it goes; a pipe shows scores while the file is still being written.
Timestamps: ISO 8601 ("2014-04-01 00:00:00", naive = UTC) or epoch seconds/milliseconds.
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import TextIO

from alerts.anomaly import AnomalyScorer


def parse_time(text: str) -> float:
    s = text.strip()
    try:
        v = float(s)
    except ValueError:
        dt = datetime.fromisoformat(s.replace("Z", "+00:00"))
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=UTC)
        return dt.timestamp()
    return v / 1000.0 if v > 1e11 else v


def score_rows(rows: Iterator[list[str]]) -> Iterator[tuple[str, str, float]]:
    """(timestamp text, value text, score) per data row; a header row is skipped, bad values score 0."""
    scorer = AnomalyScorer()
    for row in rows:
        if len(row) < 2:
            continue
        ts_text, val_text = row[0], row[1]
        try:
            t = parse_time(ts_text)
        except ValueError:
            continue  # header or garbage timestamp: no output row
        try:
            x = float(val_text)
        except ValueError:
            yield ts_text, val_text, 0.0
            continue
        yield ts_text, val_text, scorer.score(t, x)


def run(src: TextIO, out: TextIO, scores_only: bool = False) -> int:
    n = 0
    if not scores_only:
        out.write("timestamp,value,anomaly_score\n")
    for ts, val, s in score_rows(csv.reader(src)):
        out.write(f"{s:.6f}\n" if scores_only else f"{ts},{val},{s:.6f}\n")
        out.flush()
        n += 1
    return n


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m alerts.score_csv", description=__doc__.splitlines()[0])
    p.add_argument("file", help="CSV with timestamp,value columns ('-' for stdin)")
    p.add_argument("--scores-only", action="store_true", help="print only the score, one per line")
    args = p.parse_args(argv)
    try:
        if args.file == "-":
            run(sys.stdin, sys.stdout, args.scores_only)
        else:
            with open(args.file, newline="", encoding="utf-8") as fh:
                run(fh, sys.stdout, args.scores_only)
    except BrokenPipeError:  # e.g. piped into head
        return 0
    except FileNotFoundError as err:
        print(f"score_csv: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
