"""Which of the alert detectors' modules run compiled (mypyc, `ops/build_native.py`) and when not.

A compiled module is a C extension beside its source, and Python imports an extension before a
source of the same name: an edited detector would silently run its old build. So the build records
a digest of each source (`_native.stamp`), and `alerts/__init__.py` calls `use_sources_if_stale()`,
which routes every compiled module to its source when any digest differs (all or none: compiled
modules call each other natively). This module itself is never compiled.
"""

from __future__ import annotations

import hashlib
import importlib.machinery
import importlib.util
import json
import sys
import warnings
from collections.abc import Sequence
from importlib.abc import MetaPathFinder
from pathlib import Path
from types import ModuleType

PACKAGE_DIR = Path(__file__).resolve().parent
# the per-minute hot path of AlertEngine; engine.py itself gains little (measured: bench/README.md)
MODULES = ("alerts.memory", "alerts.anomaly", "alerts.baseline", "alerts.detectors")
GROUP = "alerts._native"  # the shared library of the group: alerts/_native__mypyc.*.so


def source_path(module: str) -> Path:
    return PACKAGE_DIR / (module.rsplit(".", 1)[1] + ".py")


def stamp_path() -> Path:
    return PACKAGE_DIR / "_native.stamp"


def digests() -> dict[str, str]:
    return {m: hashlib.sha256(source_path(m).read_bytes()).hexdigest() for m in MODULES}


def _abi() -> str:
    return importlib.machinery.EXTENSION_SUFFIXES[0]


def extensions() -> list[Path]:
    """The compiled files present for this interpreter (shims and the group's library)."""
    suffix = _abi()
    names = [m.rsplit(".", 1)[1] for m in MODULES] + [GROUP.rsplit(".", 1)[1] + "__mypyc"]
    return [p for p in (PACKAGE_DIR / (n + suffix) for n in names) if p.exists()]


def write_stamp(sources: dict[str, str] | None = None) -> None:
    """Record the build: `sources` are the digests of the sources compiled (taken before compiling)."""
    stamp_path().write_text(json.dumps({"abi": _abi(), "sources": sources or digests()}, indent=1) + "\n")


def built() -> bool:
    """Every module compiled for this interpreter from its current source."""
    try:
        stamp = json.loads(stamp_path().read_text())
    except (OSError, ValueError):
        return False
    return (
        isinstance(stamp, dict)
        and stamp.get("abi") == _abi()
        and stamp.get("sources") == digests()
        and len(extensions()) == len(MODULES) + 1
    )


class _Sources(MetaPathFinder):
    """Finds the listed modules' sources ahead of their (stale) extensions."""

    def __init__(self, modules: Sequence[str]) -> None:
        self.modules = frozenset(modules)

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname not in self.modules:
            return None
        return importlib.util.spec_from_file_location(fullname, source_path(fullname))


def mode() -> str:
    """'compiled', 'source' (nothing built) or 'stale' (built from other sources: run as source)."""
    if not extensions():
        return "source"
    return "compiled" if built() else "stale"


def use_sources_if_stale() -> str:
    """Route the modules to their sources unless the build matches them; returns `mode()`."""
    m = mode()
    if m == "stale" and not any(isinstance(f, _Sources) for f in sys.meta_path):
        sys.meta_path.insert(0, _Sources(MODULES))
        warnings.warn(
            "alerts: the compiled detectors are older than their sources; running the sources "
            "(same results, about half the speed): run `python -m ops.build_native`",
            RuntimeWarning,
            stacklevel=2,
        )
    return m
