"""Java servers run from jars that Maven resolves into a cache: the cache, the fetch, the command line.

Kafka (``ops/kafka/pom.xml``) and ZooKeeper (``ops/zookeeper/pom.xml``) are fetched and started the
same way; the cache lives outside the repository so it survives fresh clones.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path

__all__ = ["cache_root", "fetch_jars", "find_java", "java_command", "pom_property"]

log = logging.getLogger(__name__)

_MARKER = ".fetched"
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def cache_root() -> Path:
    """``$XDG_CACHE_HOME/edu-cockpit`` (``~/.cache/edu-cockpit`` by default)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "edu-cockpit"


def pom_property(pom: Path, name: str, error: type[Exception]) -> str:
    """The ``<properties><name>`` value of a pom (a pinned version); raises ``error`` if absent."""
    ns = {"m": "http://maven.apache.org/POM/4.0.0"}
    node = ET.parse(pom).getroot().find(f"m:properties/m:{name}", ns)
    text = (node.text or "").strip() if node is not None else ""
    if not text:
        raise error(f"no <{name}> property in {pom}")
    return text


def find_java(error: type[Exception]) -> str:
    """``$JAVA_HOME/bin/java`` if it exists, else ``java`` on PATH; raises ``error`` if neither."""
    java_home = os.environ.get("JAVA_HOME")
    if java_home and (Path(java_home) / "bin" / "java").is_file():
        return str(Path(java_home) / "bin" / "java")
    java = shutil.which("java")
    if not java:
        raise error("java not found (need Java 17+ on PATH or JAVA_HOME)")
    return java


def java_command(libs: Path, main_class: str, *args: str, jvm_opts: Sequence[str], error: type[Exception]) -> list[str]:
    """argv running ``main_class`` with every jar in ``libs`` on the class path."""
    return [find_java(error), *jvm_opts, "-cp", f"{libs}/*", main_class, *args]


def fetch_jars(pom: Path, cache_dir: Path, jar_glob: str, what: str, error: type[Exception]) -> Path:
    """Resolve the runtime jars of ``pom`` with Maven into ``cache_dir/libs``; returns that dir.

    Idempotent and fast when cached: a marker holding the pom's hash is checked first, so editing
    the pom refetches. A file lock serialises concurrent fetches (parallel test workers) and the
    copy lands via an atomic rename, so a killed fetch never leaves a half-filled classpath behind.
    ``jar_glob`` names a jar the fetch must have produced; ``what`` names the server in messages.
    """
    if not pom.is_file():
        raise error(f"{pom} is missing; it lists the {what} jars to fetch")
    libs = cache_dir / "libs"
    digest = hashlib.sha256(pom.read_bytes()).hexdigest()
    marker = cache_dir / _MARKER

    def fetched() -> bool:
        try:
            return marker.read_text().strip() == digest and libs.is_dir()
        except OSError:
            return False

    if fetched():
        return libs
    cache_dir.mkdir(parents=True, exist_ok=True)
    with (cache_dir / ".fetch.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if fetched():
            return libs
        mvn = shutil.which("mvn")
        if not mvn:
            raise error(f"mvn not found on PATH (install Maven to fetch the {what} jars)")
        tmp = cache_dir / f"libs.tmp-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        cmd = [
            mvn,
            "-q",
            "-B",
            "-Dstyle.color=never",
            "-f",
            str(pom),
            "dependency:copy-dependencies",
            "-DincludeScope=runtime",
            f"-DoutputDirectory={tmp}",
        ]
        log.info("fetching the %s jars into %s", what, libs)
        res = subprocess.run(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=cache_dir, check=False
        )
        if res.returncode != 0 or not any(tmp.glob(jar_glob)):
            shutil.rmtree(tmp, ignore_errors=True)
            out = _ANSI.sub("", res.stdout.decode("utf-8", "replace")).strip()
            raise error(
                f"maven could not fetch {what} (exit {res.returncode}):\n"
                f"$ {' '.join(cmd)}\n{out[-6000:] or '<no output>'}"
            )
        shutil.rmtree(libs, ignore_errors=True)
        tmp.rename(libs)
        marker.write_text(digest + "\n")
    return libs
