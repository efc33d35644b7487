"""Access-log import: parsing, mapping, bots, event time; into a real broker twice (counted once);
--follow across a rotation."""

from __future__ import annotations

import argparse
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from collector.logs import (
    COMBINED,
    LineConverter,
    ResourceMap,
    TimeParser,
    format_regex,
    run_import,
)
from collector.service import Enricher
from contracts.settings import Settings, settings_env
from simulators.kafka_out import ensure_topics
from tests.collector.support import CHROME, read_topics
from tests.conftest import make_settings
from tests.support import ROOT, env_without_proxy

BAIDU = "Mozilla/5.0 (compatible; Baiduspider/2.0; +http://www.baidu.com/search/spider.html)"
T = "14/Mar/2022:08:00:05 +0800"
T_MS = 1_647_216_005_000


def line(addr: str, path: str, ua: str = CHROME, status: int = 200, t: str = T, method: str = "GET") -> str:
    return f'{addr} - - [{t}] "{method} {path} HTTP/1.1" {status} 512 "-" "{ua}"\n'


def converter(tmp_path: Path, mapping: ResourceMap | None = None, fmt: str = COMBINED, **over: object) -> LineConverter:
    s = Settings(data_dir=tmp_path, **over)  # type: ignore[arg-type]
    return LineConverter(s, Enricher(s, b"s" * 32), fmt, mapping or ResourceMap())


def test_combined_lines_become_events_in_event_time(tmp_path: Path) -> None:
    conv = converter(tmp_path)
    ev = conv.convert(line("114.114.114.114", "/syncClassroom/lesson/7?x=1").encode(), "id1")
    assert ev is not None
    assert (ev.ts, ev.province, ev.resource, ev.action, ev.platform, ev.device) == (
        T_MS,
        "320000",
        "/syncClassroom/lesson/7",
        "view",
        "k12",
        "web",
    )
    assert "114.114" not in ev.user
    for bad in (
        line("114.114.114.114", "/a", ua=BAIDU),
        line("114.114.114.114", "/app.js"),
        line("114.114.114.114", "/a", status=404),
        line("114.114.114.114", "/a", method="POST"),
        line("10.0.0.1", "/a"),
        "garbage\n",
        line("114.114.114.114", "/a", t="99/Foo/2022:00:00:00 +0800"),
    ):
        assert conv.convert(bad.encode(), "x") is None
    assert conv.stats.as_dict() == {"lines": 8, "events": 1, "bots": 1, "skipped": 3, "unparsed": 2, "no_region": 1}


def test_configurable_format_with_trusted_forwarded_for(tmp_path: Path) -> None:
    fmt = '$remote_addr [$time_local] "$request" $status "$http_user_agent" "$http_x_forwarded_for" $request_time'
    assert format_regex(fmt).groupindex.keys() >= {"remote_addr", "http_x_forwarded_for", "request_time"}
    conv = converter(tmp_path, fmt=fmt, collector_trusted_proxies=["10.0.0.0/8"])
    text = f'10.1.1.1 [{T}] "GET /a HTTP/1.1" 200 "{CHROME}" "202.96.134.133" 0.003\n'
    ev = conv.convert(text.encode(), "x")
    assert ev is not None and ev.province == "440000"
    spoof = f'8.8.8.8 [{T}] "GET /a HTTP/1.1" 200 "{CHROME}" "202.96.134.133" 0.003\n'
    ev2 = conv.convert(spoof.encode(), "y")
    assert ev2 is not None and (ev2.province, ev2.country) == ("abroad", "US")  # untrusted peer's header ignored


def test_resource_mapping(tmp_path: Path) -> None:
    mp = tmp_path / "map.yaml"
    mp.write_text(r"""
rules:
  - match: '^/api/'
    skip: true
  - match: '^/syncClassroom/lesson/(?P<id>[\w-]+)'
    platform: k12
    section: lessons
    resource: 'lesson-{id}'
  - match: '^/video/(?P<id>\w+)\.mp4'
    action: play
    resource: 'video-{id}'
    section: lessons
default:
  platform: higher
  pageviews: false
""")
    m = ResourceMap.load(mp, "k12")
    assert m.resolve("/syncClassroom/lesson/ab-1?x") == ("k12", "lessons", "lesson-ab-1", "view")
    assert m.resolve("/video/v3.mp4") == ("higher", "lessons", "video-v3", "play")
    assert m.resolve("/api/x") is None and m.resolve("/other") is None
    bad = tmp_path / "bad.yaml"
    bad.write_text("rules:\n  - match: 'x'\n    section: nope\n")
    with pytest.raises(SystemExit, match="section"):
        ResourceMap.load(bad, "k12")


def test_time_parser() -> None:
    tp = TimeParser()
    assert tp(T.encode()) == T_MS
    assert tp(b"14/Mar/2022:00:00:05 +0000") == T_MS  # the same instant in UTC
    assert tp(b"nonsense") is None


def _args(file: str, **kw: object) -> argparse.Namespace:
    base = {
        "file": file,
        "format": "combined",
        "map": None,
        "platform": "k12",
        "follow": False,
        "dry_run": False,
        "no_ledger": False,
    }
    base.update(kw)
    return argparse.Namespace(**base)


@pytest.mark.integration
def test_importing_the_same_file_twice_counts_it_once(kafka: str, tmp_path: Path) -> None:
    s = make_settings(kafka, data_dir=tmp_path)
    ensure_topics(s)
    log = tmp_path / "access.log"
    lines = [
        line(
            f"114.114.{i % 200}.{i % 250 + 1}",
            f"/lesson/{i % 30}",
            t=f"14/Mar/2022:08:{i // 60 % 60:02d}:{i % 60:02d} +0800",
        )
        for i in range(3000)
    ] + [line("114.114.1.1", "/lesson/1", ua=BAIDU)] * 50
    log.write_text("".join(lines))
    assert run_import(s, _args(str(log))) == 0
    assert run_import(s, _args(str(log))) == 0  # the ledger says it is done: nothing is sent
    with log.open("a") as f:  # the log grew: only the new lines are imported
        f.write("".join(line("202.96.134.133", "/lesson/new", t="14/Mar/2022:09:00:00 +0800") for _ in range(100)))
    assert run_import(s, _args(str(log))) == 0
    events = read_topics(s, [s.topic_clicks], 3100)
    assert len(events) == 3100
    assert len({e.id for e in events}) == 3100
    assert Counter(e.province for e in events) == Counter({"320000": 3000, "440000": 100})
    assert min(e.ts for e in events) == T_MS - 5000 and max(e.ts for e in events) == T_MS - 5000 + 3600_000


@pytest.mark.integration
def test_follow_across_rotation(kafka: str, tmp_path: Path) -> None:
    s = make_settings(kafka, data_dir=tmp_path)
    ensure_topics(s)
    log = tmp_path / "access.log"
    log.write_text("".join(line("114.114.114.114", f"/a/{i}") for i in range(100)))
    env = {**env_without_proxy(), **{k: v for k, v in settings_env(s).items() if k.startswith("EDU_")}}
    proc = subprocess.Popen(
        [sys.executable, "-m", "collector.cli", "logs", str(log), "--follow"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        read_topics(s, [s.topic_clicks], 100)
        with log.open("a") as f:
            f.write("".join(line("114.114.114.114", f"/b/{i}") for i in range(50)))
        read_topics(s, [s.topic_clicks], 150)
        log.rename(tmp_path / "access.log.1")  # logrotate: move, then a new file
        with (tmp_path / "access.log.1").open("a") as f:  # nginx still writes the old one until reopened
            f.write("".join(line("114.114.114.114", f"/c/{i}") for i in range(20)))
        log.write_text("".join(line("202.96.134.133", f"/d/{i}") for i in range(30)))
        events = read_topics(s, [s.topic_clicks], 200)
        assert len(events) == 200
        assert Counter(e.resource[:2] for e in events) == {"/a": 100, "/b": 50, "/c": 20, "/d": 30}
    finally:
        proc.terminate()
        out = proc.communicate(timeout=60)[0].decode()
    assert proc.returncode == 0, out
