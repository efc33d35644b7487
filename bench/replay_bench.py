"""Offline replay speed: `edu-alerts replay` against the in-process replay it replaces.

    python -m bench.replay_bench [--scenario spring-term-closures] [--scale 0.01] [--days 2]
                                 [--old-rev fd45242]

"New" is `alerts.replay` as `edu-alerts replay` runs it: clicks folded on the generator's columns,
the detectors compiled if `python -m ops.build_native` built them (the last line says which).
"Old" is what judging a detector change took before issue 18: every message of the scenario
(clicks and sessions) from `Generator.messages()`, folded by `streams.aggregate.aggregate` in runs
of a minute per topic, into the alert engine of `--old-rev` (its alerts/ package unpacked from git
into a temporary folder and put first on the path of a child process, so it runs as plain Python).
Both run the same first `--days` days; the 94-day figures are per-day times x the scenario's days.
Last line: name=value pairs.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

OLD = r"""
import sys, time
from alerts.engine import AlertEngine, EngineConfig
from contracts.settings import Settings
from simulators.generator import Generator
from simulators.scenario import load_scenario
from streams.aggregate import Limits, aggregate
name, scale, days = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
sc = load_scenario(name)
s = Settings()
t0 = time.perf_counter()
gen = Generator(sc, seed=1, scale=scale, end_ms=sc.start_ms + int(days * 86_400_000))
engine = AlertEngine(EngineConfig(lateness_s=float(s.allowed_lateness_s)))
limits = Limits.from_settings(s)
runs = {"clicks": [], "sessions": []}
wm = {"clicks": 0, "sessions": 0}
run_end = None
def fold(topic, now_ms):
    agg = aggregate(topic, 0, runs[topic], wm[topic], now_ms, limits)
    wm[topic] = agg.batch.watermark_ms
    runs[topic] = []
    if topic == "clicks":
        # the old engine unpacks tuples (rate rows became named structs in issue 13)
        engine.ingest([(r.minute, r.platform, r.province, r.section, r.action, r.clicks) for r in agg.batch.clicks])
        engine.advance(wm["clicks"] / 1000.0)
for i, m in enumerate(gen.messages()):
    if run_end is None:
        run_end = m.at + 60_000
    elif m.at >= run_end:
        for topic in runs:
            fold(topic, run_end)
        run_end = m.at + 60_000
    runs[m.kind].append((i, m.value))
for topic in runs:
    fold(topic, run_end)
print(time.perf_counter() - t0)
"""


def old_seconds(rev: str, scenario: str, scale: float, days: float) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", rev, "alerts"], check=True, capture_output=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", tmp], input=archive, check=True)
        out = subprocess.run(
            [
                sys.executable,
                "-c",
                f"import sys; sys.path[:0] = [{tmp!r}, {str(ROOT)!r}]\n" + OLD,
                scenario,
                str(scale),
                str(days),
            ],
            check=True,
            capture_output=True,
            text=True,
        )
        return float(out.stdout.strip().splitlines()[-1])


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scenario", default="spring-term-closures")
    p.add_argument("--scale", type=float, default=0.01)
    p.add_argument("--days", type=float, default=2.0)
    p.add_argument("--old-rev", default="fd45242")
    args = p.parse_args()
    from alerts import NATIVE
    from alerts.replay import replay
    from simulators.scenario import load_scenario

    sc = load_scenario(args.scenario)
    t0 = time.perf_counter()
    run = replay(sc, scale=args.scale, seed=1, days=args.days)
    new = time.perf_counter() - t0
    old = old_seconds(args.old_rev, args.scenario, args.scale, args.days)
    print(
        f"{args.days:g} days of {sc.name} at 1:{1 / args.scale:.0f}: new {new:.1f} s ({run.events} click events), "
        f"old {old:.1f} s"
    )
    print(
        f"replay_new_s_per_day={new / args.days:.2f} replay_old_s_per_day={old / args.days:.2f} "
        f"replay_new_full_s={new / args.days * sc.days:.0f} replay_old_full_s={old / args.days * sc.days:.0f} "
        f"speedup={old / new:.2f} detectors={NATIVE}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
