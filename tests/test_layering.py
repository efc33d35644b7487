"""The layering rule (README, Layout): who may import whom among the top-level packages.

contracts is the floor; each service package imports contracts and only the packages listed for it,
so the cockpit can be deployed without the alerting engine, the simulators or the stream workers.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("contracts", "streams", "sinks", "cockpit", "alerts", "simulators", "collector", "ops")
ALLOWED: dict[str, set[str]] = {
    "contracts": set(),
    "streams": {"contracts"},
    "sinks": {"contracts"},
    "alerts": {"contracts"},
    "cockpit": {"contracts", "sinks"},
    "collector": {"contracts"},
    "simulators": {"contracts"},
    "ops": set(PACKAGES),  # the launchers start everything
}
# Tools that compose services, named here so each exception stays visible: the offline alert replay
# (a scenario through the worker's aggregation and the engine, judged against the scenario's closures)
# and the rehearsal controller (drops its own rehearsal database when it ends).
EXCEPTIONS: dict[str, set[str]] = {
    "alerts/replay.py": {"streams", "simulators"},
    "alerts/episodes.py": {"simulators"},
    "alerts/cli.py": {"simulators"},  # `edu-alerts replay SCENARIO` only, imported lazily
    "simulators/rehearse.py": {"sinks"},
    "simulators/http_out.py": {"collector"},  # addresses the collector's own data places in each province
}


def imported_packages(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names & set(PACKAGES)


def test_every_package_imports_only_what_the_layering_allows() -> None:
    broken = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")) if (ROOT / package).is_dir() else []:
            rel = path.relative_to(ROOT).as_posix()
            allowed = ALLOWED[package] | {package} | EXCEPTIONS.get(rel, set())
            bad = imported_packages(path) - allowed
            if bad:
                broken.append(f"{rel} imports {sorted(bad)}")
    assert not broken, "\n".join(broken)
