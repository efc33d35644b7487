"""Compile the alert detectors' hot modules with mypyc: C extensions next to their sources.

    python -m ops.build_native [--force]      (ops/install.sh runs it; quick when up to date)

Why: the engine judges about 190 series every minute in Python, and that is most of an offline
replay of a term (`edu-alerts replay`, how detector changes are judged) and of the alerting
service's catch-up. mypyc compiles the same typed source, so results are identical; the engine runs
about twice as fast (bench/README.md, "Offline replay"). `alerts/native.py` records what was built
and loads the plain sources instead when any of them changed since (an edited detector is never
shadowed by an old build). Without a C compiler the build fails loudly; the sources still run.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import warnings  # noqa: E402

with warnings.catch_warnings():  # importing the package warns when the build is stale: rebuilding is the cure
    warnings.simplefilter("ignore", RuntimeWarning)
    from alerts.native import GROUP, MODULES, built, digests, source_path, stamp_path, write_stamp


def build(force: bool = False) -> bool:
    """Build if any module changed since the last build (or `force`); True if it built."""
    if not force and built():
        return False
    from mypyc.build import mypycify
    from setuptools import setup

    warnings.filterwarnings("ignore", message=".*tool.setuptools.*beta", module="setuptools")

    compiled = digests()  # what is compiled: a source edited during the build must not pass for built
    paths = [str(source_path(m).relative_to(ROOT)) for m in MODULES]
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        with tempfile.TemporaryDirectory(prefix="edu-native-") as tmp:
            lib = Path(tmp) / "lib"
            ext = mypycify(paths, opt_level="3", target_dir=tmp, group_name=GROUP)
            setup(
                name="edu-native",
                ext_modules=ext,
                script_args=["-q", "build_ext", "--build-lib", str(lib), "--build-temp", tmp],
            )
            stamp_path().unlink(missing_ok=True)  # until every file is in place, the sources run
            for built_file in sorted(lib.rglob("*.so")):
                target = ROOT / built_file.relative_to(lib)
                # a new file renamed over the old: a running service keeps the library it mapped
                # (writing into it in place could crash it)
                staged = target.with_name(target.name + ".new")
                shutil.copy2(built_file, staged)
                os.replace(staged, target)
    finally:
        os.chdir(cwd)
    if digests() != compiled:
        raise SystemExit("ops.build_native: a source changed during the build; run it again")
    write_stamp(compiled)
    return True


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--force", action="store_true", help="build even if the sources did not change")
    args = p.parse_args(argv)
    did = build(args.force)
    print(("built " if did else "up to date: ") + ", ".join(MODULES) + f" ({stamp_path().name})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
