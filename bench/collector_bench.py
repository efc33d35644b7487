"""Collector figures: one sub-command each, the last printed line `name=value` pairs.

    .venv/bin/python -m bench.collector_bench frameworks   # bare 202 endpoints: raw ASGI, Falcon (+Starlette if installed)
    .venv/bin/python -m bench.collector_bench batch        # events/s in batches of 20 (real collector, real Kafka) + bare ratio
    .venv/bin/python -m bench.collector_bench single       # single-event requests/s + bare ratio
    .venv/bin/python -m bench.collector_bench latency      # p50/p99 at a paced 5,000 requests/s
    .venv/bin/python -m bench.collector_bench overload     # a flood past capacity: 503 share, RSS bounded, recovery
    .venv/bin/python -m bench.collector_bench logs         # log import lines/s on one core
    .venv/bin/python -m bench.collector_bench lookups      # address -> region lookups/s

Load comes from wrk (Debian package, ops/install.sh) over loopback; the collector runs as a real
`edu-collect serve` process with a real single-node Kafka started here. Client addresses are random
in X-Forwarded-For from 127.0.0.1 (trusted) so the per-address rate limit and the region cache see
realistic spread. The machine is shared: every run prints the load average beside its figures.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from ops.local_process import free_port

ROOT = Path(__file__).resolve().parents[1]

UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"
EVENT = '{"type":"pageview","platform":"k12","section":"lessons","resource":"lesson-%d","session":"s%d"}'

LUA = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "text/plain"
wrk.headers["User-Agent"] = "%(ua)s"
local bodies = {}
for i = 1, 64 do bodies[i] = %(body)s end
local pace = %(pace)s
request = function()
  wrk.headers["X-Forwarded-For"] = "114." .. math.random(0,255) .. "." .. math.random(0,255) .. "." .. math.random(1,254)
  return wrk.format(nil, nil, nil, bodies[math.random(1, 64)])
end
if pace > 0 then
  delay = function() return pace end
end
done = function(summary, latency, requests)
  io.write(string.format("JSON {\\"requests\\":%%d,\\"non2xx\\":%%d,\\"p50_ms\\":%%.3f,\\"p99_ms\\":%%.3f,\\"seconds\\":%%.3f,\\"timeouts\\":%%d}\\n",
    summary.requests, summary.errors.status, latency:percentile(50)/1000, latency:percentile(99)/1000,
    summary.duration/1e6, summary.errors.timeout))
end
"""


def load() -> str:
    return "load=" + "/".join(f"{x:.1f}" for x in os.getloadavg())


def lua(batch: int, pace_ms: float = 0.0) -> str:
    if batch == 1:
        body = "string.format('{}', i, i)".format(EVENT.replace("%d", "%%d"))
    else:
        one = EVENT.replace("%d", "%%d")
        body = (
            "'[' .. "
            + " .. ',' .. ".join(f"string.format('{one}', i*{batch}+{j}, i)" for j in range(batch))
            + " .. ']'"
        )
    path = Path(tempfile.mkdtemp()) / "post.lua"
    path.write_text(LUA % {"ua": UA, "body": body, "pace": pace_ms})
    return str(path)


def wrk(port: int, script: str, seconds: float, connections: int, threads: int = 1) -> dict:
    out = subprocess.run(
        [
            "wrk",
            f"-t{threads}",
            f"-c{connections}",
            f"-d{max(1, round(seconds))}s",
            "--timeout",
            "5s",
            "-s",
            script,
            f"http://127.0.0.1:{port}/api/event",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    m = re.search(r"^JSON (.*)$", out, re.MULTILINE)
    if m is None:
        raise RuntimeError(out)
    r = json.loads(m.group(1))
    r["ok_rps"] = (r["requests"] - r["non2xx"]) / r["seconds"]
    r["rps"] = r["requests"] / r["seconds"]
    return r


class Stack:
    """A Kafka broker and an edu-collect process (or a bare app under uvicorn)."""

    def __init__(self, tmp: Path, with_kafka: bool = True) -> None:
        self.tmp = tmp
        self.kafka = None
        if with_kafka:
            from ops.kafka_local import LocalKafka

            self.kafka = LocalKafka(free_port(), free_port(), data_dir=tmp / "kafka")
            self.kafka.fetch()
            self.kafka.start(timeout=120)
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0

    def collector(self, **env: str) -> int:
        self.port = free_port()
        e = {
            **os.environ,
            "EDU_KAFKA_BOOTSTRAP": self.kafka.bootstrap_servers if self.kafka else "127.0.0.1:9",
            "EDU_DATA_DIR": str(self.tmp / "data"),
            "EDU_COLLECTOR_PORT": str(self.port),
            "EDU_COLLECTOR_RATE_PER_ADDRESS": "1000",
            "EDU_COLLECTOR_RATE_BURST": "1000",
            "EDU_TOPIC_CLICKS": "bench.clicks",
            "EDU_TOPIC_SESSIONS": "bench.sessions",
            **env,
        }
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "collector.cli", "serve"],
            cwd=ROOT,
            env=e,
            stdout=open(self.tmp / "collector.log", "ab"),
            stderr=subprocess.STDOUT,
        )
        self._wait()
        return self.port

    def bare(self, app: str) -> int:
        self.port = free_port()
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                f"bench.collector_bench:{app}",
                "--port",
                str(self.port),
                "--log-level",
                "warning",
                "--no-access-log",
                "--loop",
                "uvloop",
                "--http",
                "httptools",
            ],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
        self._wait("/")
        return self.port

    def _wait(self, path: str = "/healthz") -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=2)
                return
            except urllib.error.HTTPError:
                return
            except OSError:
                time.sleep(0.2)  # the server's start-up: polled, bounded above
        raise RuntimeError("server did not start")

    def health(self) -> dict:
        return json.loads(urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=5).read())

    def rss_mb(self) -> float:
        import psutil

        return psutil.Process(self.proc.pid).memory_info().rss / 1e6  # type: ignore[union-attr]

    def stop_server(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
            self.proc = None

    def close(self) -> None:
        self.stop_server()
        if self.kafka is not None:
            self.kafka.stop()


# ---------------------------------------------------------------------------- bare endpoints
async def raw(scope, receive, send):
    """The fastest possible ASGI answer: read the body, 202."""
    if scope["type"] != "http":
        return
    more = True
    while more:
        more = (await receive()).get("more_body", False)
    await send({"type": "http.response.start", "status": 202, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": b'{"accepted":1,"refused":0}'})


def _falcon():
    import falcon.asgi

    class Bare:
        async def on_post(self, req, resp):
            await req.stream.read()
            resp.status = 202
            resp.content_type = "application/json"
            resp.data = b'{"accepted":1,"refused":0}'

        async def on_get(self, req, resp):
            resp.data = b"ok"

    app = falcon.asgi.App()
    app.add_route("/api/event", Bare())
    app.add_route("/", Bare())
    return app


falcon_bare = _falcon()


def _starlette():
    try:
        from starlette.applications import Starlette
        from starlette.responses import Response
        from starlette.routing import Route
    except ImportError:
        return None

    async def ep(request):
        await request.body()
        return Response(b'{"accepted":1,"refused":0}', status_code=202, media_type="application/json")

    async def ok(request):
        return Response(b"ok")

    return Starlette(routes=[Route("/api/event", ep, methods=["POST"]), Route("/", ok)])


starlette_bare = _starlette()


# ---------------------------------------------------------------------------------- commands
def cmd_frameworks(a: argparse.Namespace) -> str:
    stack = Stack(Path(tempfile.mkdtemp(prefix="colbench")), with_kafka=False)
    res = {}
    try:
        apps = ["raw", "falcon_bare"] + (["starlette_bare"] if starlette_bare is not None else [])
        for app in apps:
            port = stack.bare(app)
            wrk(port, lua(1), 2, a.connections)  # warm-up
            res[app] = wrk(port, lua(1), a.seconds, a.connections)["ok_rps"]
            stack.stop_server()
            print(f"{app}: {res[app]:,.0f} req/s", flush=True)
    finally:
        stack.close()
    return " ".join(f"{k}_rps={v:.0f}" for k, v in res.items()) + " " + load()


def _real_vs_bare(a: argparse.Namespace, batch: int) -> str:
    stack = Stack(Path(tempfile.mkdtemp(prefix="colbench")))
    try:
        port = stack.bare("falcon_bare")
        wrk(port, lua(batch), 2, a.connections)
        bare = wrk(port, lua(batch), a.seconds, a.connections)
        stack.stop_server()
        port = stack.collector()
        wrk(port, lua(batch), 2, a.connections)
        real = wrk(port, lua(batch), a.seconds, a.connections)
        h = stack.health()
        deadline = time.monotonic() + 120
        while h["spool_records"] and time.monotonic() < deadline:
            time.sleep(0.5)  # waiting for the sender to drain to Kafka, bounded
            h = stack.health()
        print(json.dumps({"bare": bare, "real": real, "health": h}), flush=True)
    finally:
        stack.close()
    head = f"events_per_s={real['ok_rps'] * batch:.0f} " if batch > 1 else ""
    return (
        f"{head}requests_per_s={real['ok_rps']:.0f} "
        f"bare_requests_per_s={bare['ok_rps']:.0f} ratio={real['ok_rps'] / bare['ok_rps']:.3f} "
        f"p99_ms={real['p99_ms']:.1f} non2xx={real['non2xx']} drained={h['spool_records'] == 0} {load()}"
    )


def cmd_batch(a: argparse.Namespace) -> str:
    return _real_vs_bare(a, 20)


def cmd_single(a: argparse.Namespace) -> str:
    return _real_vs_bare(a, 1)


def cmd_latency(a: argparse.Namespace) -> str:
    stack = Stack(Path(tempfile.mkdtemp(prefix="colbench")))
    try:
        port = stack.collector()
        # Each connection waits `pace` ms after an answer, so it sends one request per pace + latency:
        # a calibration run measures the latency and the pace is shortened by it, until the achieved
        # rate is within 3 % of the target (wrk paces in whole milliseconds' worth of Lua, not exactly).
        pace = 1000.0 * a.connections / a.rate
        for _ in range(4):
            cal = wrk(port, lua(1, pace), 3, a.connections)
            if abs(cal["rps"] - a.rate) <= 0.03 * a.rate:
                break
            pace = max(0.0, pace * cal["rps"] / a.rate)
        r = wrk(port, lua(1, pace), a.seconds, a.connections)
        print(json.dumps(r), flush=True)
    finally:
        stack.close()
    return (
        f"target_rps={a.rate:.0f} achieved_rps={r['rps']:.0f} p50_ms={r['p50_ms']:.2f} p99_ms={r['p99_ms']:.2f} "
        f"non2xx={r['non2xx']} {load()}"
    )


def cmd_overload(a: argparse.Namespace) -> str:
    stack = Stack(Path(tempfile.mkdtemp(prefix="colbench")))
    try:
        port = stack.collector(EDU_COLLECTOR_SPOOL_MAX_BYTES=str(a.spool_mb * 1024 * 1024))
        cap = wrk(port, lua(1), a.seconds, 32)["ok_rps"]
        rss0 = stack.rss_mb()
        # Past the capacity: wrk is a closed loop (a connection sends its next request when the
        # answer comes), so a flood is many unpaced connections; what they get answered per second
        # is the load the collector handled, accepted or refused (the factor over the capacity).
        over = wrk(port, lua(1), a.seconds, a.flood_connections, threads=2)
        rss1 = stack.rss_mb()
        after = wrk(port, lua(1, 1000.0 * 32 / (0.5 * cap)), a.seconds, 32)
        rss2 = stack.rss_mb()
        print(json.dumps({"capacity": cap, "overload": over, "after": after}), flush=True)
    finally:
        stack.close()
    refused = over["non2xx"] / max(1, over["requests"])
    return (
        f"capacity_rps={cap:.0f} answered_rps={over['rps']:.0f} load_factor={over['rps'] / cap:.2f} "
        f"accepted_rps={over['ok_rps']:.0f} p99_ms={over['p99_ms']:.0f} "
        f"refused_share={refused:.3f} timeouts={over['timeouts']} rss_before_mb={rss0:.0f} rss_overload_mb={rss1:.0f} "
        f"rss_after_mb={rss2:.0f} after_non2xx={after['non2xx']} after_p99_ms={after['p99_ms']:.1f} {load()}"
    )


def cmd_logs(a: argparse.Namespace) -> str:
    from collector.logs import COMBINED, LineConverter, ResourceMap
    from collector.service import Enricher
    from contracts.settings import Settings

    rng = random.Random(16)
    ips = [
        f"{rng.choice([114, 202, 60, 183, 223, 8, 1])}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
        for _ in range(20_000)
    ]
    uas = [
        UA,
        "Mozilla/5.0 (iPhone; CPU iPhone OS 16_0 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148 MicroMessenger/8.0.40",
        "Mozilla/5.0 (Linux; Android 12; SM-G9910) AppleWebKit/537.36 Chrome/118.0 Mobile Safari/537.36",
        "Mozilla/5.0 (compatible; Baiduspider/2.0; +http://www.baidu.com/search/spider.html)",
    ]
    lines = []
    for i in range(a.lines):
        sec = i * 3600 // a.lines
        t = f"14/Mar/2022:{8 + sec // 3600:02d}:{sec // 60 % 60:02d}:{sec % 60:02d} +0800"
        lines.append(
            f'{rng.choice(ips)} - - [{t}] "GET /syncClassroom/lesson/{rng.randrange(5000)} HTTP/1.1" 200 512 '
            f'"-" "{rng.choice(uas)}"\n'.encode()
        )
    s = Settings(data_dir=Path(tempfile.mkdtemp()))
    conv = LineConverter(s, Enricher(s, b"b" * 32), COMBINED, ResourceMap())
    from contracts.events import Event, encode

    t0, c0 = time.perf_counter(), time.process_time()
    out: list[Event] = []
    for i, ln in enumerate(lines):
        ev = conv.convert(ln, f"l{i:x}")
        if ev is not None:
            out.append(ev)
            if len(out) >= 200:
                encode(out)
                out = []
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    print(json.dumps(conv.stats.as_dict()), flush=True)
    return f"lines_per_s_wall={a.lines / wall:.0f} lines_per_s_cpu={a.lines / cpu:.0f} lines={a.lines} {load()}"


def cmd_lookups(a: argparse.Namespace) -> str:
    from collector.geo import Geo

    g = Geo(cache_size=10)
    rng = random.Random(7)
    addrs = [
        f"{rng.randrange(1, 224)}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}" for _ in range(a.n)
    ]
    table = g.v4
    ints = [rng.getrandbits(32) for _ in range(a.n)]
    t0 = time.process_time()
    for ip in ints:
        table.raw(ip)
    raw = a.n / (time.process_time() - t0)
    t0 = time.process_time()
    for ad in addrs:
        g._lookup(ad)
    full = a.n / (time.process_time() - t0)
    g2 = Geo()
    hot = addrs[:1000]
    for ad in hot:
        g2.lookup(ad)
    t0 = time.process_time()
    for i in range(a.n):
        g2.lookup(hot[i % 1000])
    cached = a.n / (time.process_time() - t0)
    return f"table_lookups_per_s={raw:.0f} uncached_lookups_per_s={full:.0f} cached_lookups_per_s={cached:.0f} {load()}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("command", choices=["frameworks", "batch", "single", "latency", "overload", "logs", "lookups"])
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--rate", type=float, default=5000.0, help="latency: paced requests/s")
    ap.add_argument("--spool-mb", type=int, default=64, help="overload: spool cap")
    ap.add_argument("--flood-connections", type=int, default=1024, help="overload: unpaced connections")
    ap.add_argument("--lines", type=int, default=300_000, help="logs: lines")
    ap.add_argument("--n", type=int, default=200_000, help="lookups: addresses")
    a = ap.parse_args()
    import signal

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stop like Ctrl-C: the broker and server are stopped
    print(globals()[f"cmd_{a.command}"](a), flush=True)


if __name__ == "__main__":
    main()
