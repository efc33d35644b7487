"""The compiled detectors (ops/build_native.py) are used only while they match their sources.

Each case copies the alerts package to a temporary folder and imports it there in a child process,
so editing a source never touches the tree the other tests import.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from alerts import native

PROBE = (
    "import warnings; warnings.simplefilter('always')\n"
    "import alerts, alerts.detectors as d, alerts.baseline as b\n"
    "det = d.SeriesDetector()\n"
    "r = [det.observe(1_700_000_000.0 + 60 * i, float(i % 7)) for i in range(300)][-1]\n"
    "print(alerts.NATIVE, Path(d.__file__).suffix, Path(b.__file__).suffix, r.value)\n"
)


def probe(tmp_path: Path, edit: bool = False, drop_builds: bool = False) -> subprocess.CompletedProcess[str]:
    pkg = tmp_path / "alerts"
    shutil.copytree(native.PACKAGE_DIR, pkg, ignore=shutil.ignore_patterns("__pycache__"))
    if drop_builds:
        for p in native.extensions():
            (pkg / p.name).unlink()
    if edit:
        with (pkg / "detectors.py").open("a") as f:
            f.write("\n# edited after the build\n")
    code = f"import sys; sys.path.insert(0, {str(tmp_path)!r}); from pathlib import Path\n" + PROBE
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)


def test_without_a_build_the_sources_run(tmp_path: Path) -> None:
    out = probe(tmp_path, drop_builds=True)
    assert out.stdout.split() == ["source", ".py", ".py", "5.0"]
    assert "RuntimeWarning" not in out.stderr


@pytest.mark.skipif(not native.built(), reason="no current build (python -m ops.build_native)")
def test_a_current_build_runs_compiled(tmp_path: Path) -> None:
    out = probe(tmp_path)
    assert out.stdout.split() == ["compiled", ".so", ".so", "5.0"]


@pytest.mark.skipif(not native.extensions(), reason="nothing built (python -m ops.build_native)")
def test_an_edited_source_is_never_shadowed_by_its_old_build(tmp_path: Path) -> None:
    out = probe(tmp_path, edit=True)
    assert out.stdout.split() == ["stale", ".py", ".py", "5.0"]  # all modules, not only the edited one
    assert "older than their sources" in out.stderr
