"""The tracker in headless Chromium, end to end: a real page behind a trusted reverse proxy (which
adds X-Forwarded-For, as Nginx would), a scripted visitor who navigates a single-page app and
clicks, and the stored counts for the visitor's province (Guangdong, from the proxy's header) equal
what the visitor did, exactly: collector -> Kafka -> worker -> sink -> chDB."""

from __future__ import annotations

import http.client
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry
from selenium.webdriver.common.by import By

from contracts.settings import settings_env
from ops.local_process import free_port
from simulators.kafka_out import ensure_topics
from sinks.runner import start_sink_thread
from tests.collector.support import CollectorProcess
from tests.conftest import make_settings, private_database, unique
from tests.support import WorkerProcess, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.browser]

VISITOR_ADDRESS = "202.96.134.133"  # Shenzhen, Guangdong (440000)
CHROME_UA = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36"
)  # headless Chromium's own UA says HeadlessChrome: a bot

PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>课程</title>
<script defer src="/t.js" data-platform="k12" data-section="lessons" data-heartbeat-ms="600000"></script>
</head><body>
<nav><a id="nav-42" href="/lesson/42">第42课</a> <a id="nav-43" href="/lesson/43">第43课</a></nav>
<main>
  <button id="open" data-edu-resource="lesson-42">打开</button>
  <button id="play" data-edu-resource="video-42" data-edu-action="play">播放</button>
  <a id="dl" href="#" data-edu-resource="slides-42" data-edu-action="download">下载课件</a>
</main>
<script>
  document.querySelectorAll("nav a").forEach(function (a) {
    a.addEventListener("click", function (e) { e.preventDefault(); history.pushState({}, "", a.getAttribute("href")); });
  });
  document.getElementById("dl").addEventListener("click", function (e) { e.preventDefault(); });
</script></body></html>"""


def proxy_server(collector_port: int) -> ThreadingHTTPServer:
    """The platform's front: serves the page, forwards the tracker's paths to the collector adding
    the visitor's address in X-Forwarded-For (this proxy runs on 127.0.0.1, which the collector trusts)."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def _forward(self, method: str) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0)) if method == "POST" else None
            conn = http.client.HTTPConnection("127.0.0.1", collector_port, timeout=10)
            headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
            headers["X-Forwarded-For"] = VISITOR_ADDRESS
            conn.request(method, self.path, body=body, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
            self.send_response(resp.status)
            for k, v in resp.getheaders():
                if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                    self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            conn.close()

        def do_GET(self) -> None:
            if self.path.startswith("/t.js"):
                return self._forward("GET")
            data = PAGE.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:
            self._forward("POST")

    return ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)


def stored(store) -> tuple[Counter, Counter]:  # type: ignore[no-untyped-def]
    db = store.database
    clicks = Counter(
        {
            (p, a): int(n)
            for p, a, n in store.query(
                f"SELECT toString(province), toString(action), sum(clicks) FROM {db}.clicks_minute GROUP BY province, action"
            )
        }
    )
    sess = store.query(
        f"SELECT toString(province), sum(started), sum(ended), sum(heartbeats) FROM {db}.sessions_minute "
        "GROUP BY province"
    )
    sessions = Counter()
    for p, started, ended, beats in sess:
        sessions[(p, "start")] += int(started)
        sessions[(p, "end")] += int(ended)
        sessions[(p, "heartbeat")] += int(beats)
    return clicks, +sessions


@pytest.fixture()
def driver():  # type: ignore[no-untyped-def]
    """Headless Chromium (as dash[testing] starts it) with an ordinary desktop User-Agent: headless
    Chromium's own says HeadlessChrome, which the collector rightly drops as automation."""
    from selenium import webdriver

    options = webdriver.ChromeOptions()
    for arg in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--remote-debugging-port=0",
        f"--user-agent={CHROME_UA}",
    ):
        options.add_argument(arg)
    d = webdriver.Chrome(options=options)
    try:
        yield d
    finally:
        d.quit()


def test_visitor_counts_equal_what_the_visitor_did(driver, kafka: str, chdb_session_store, tmp_path: Path) -> None:
    store = private_database(chdb_session_store, unique("db_tracker"))
    collector_port = free_port()
    proxy = proxy_server(collector_port)
    base = f"http://127.0.0.1:{proxy.server_address[1]}"
    s = make_settings(
        kafka,
        collector_port=collector_port,
        collector_spool_dir=tmp_path / "spool",
        clickhouse_database=store.database,
        collector_cors_origins=[base],
    )
    ensure_topics(s)
    collector = CollectorProcess(s, tmp_path / "collector.log").start()
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    sink = start_sink_thread(s, store, CollectorRegistry())
    worker = WorkerProcess(s, tmp_path / "worker.log", settings_env(s)).start()
    try:
        driver.get(base + "/")  # pageview "/" + session start
        wait_for(lambda: driver.execute_script("return !!window.eduTracker"), 20, "the tracker loaded")
        driver.find_element(By.ID, "nav-42").click()  # SPA route change: pageview /lesson/42
        wait_for(lambda: driver.execute_script("return location.pathname") == "/lesson/42", 10, "route change")
        driver.find_element(By.ID, "open").click()  # view of lesson-42
        driver.find_element(By.ID, "play").click()  # play
        driver.find_element(By.ID, "dl").click()  # download
        driver.find_element(By.ID, "nav-43").click()  # pageview /lesson/43
        wait_for(lambda: driver.execute_script("return location.pathname") == "/lesson/43", 10, "route change")
        driver.find_element(By.ID, "play").click()
        driver.find_element(By.ID, "play").click()
        driver.find_element(By.ID, "nav-43").click()  # the same route again: not a new pageview
        driver.get("about:blank")  # leaving: session end, everything left goes by sendBeacon
        did_clicks = Counter({("440000", "view"): 3 + 1, ("440000", "play"): 3, ("440000", "download"): 1})
        did_sessions = Counter({("440000", "start"): 1, ("440000", "end"): 1})

        def all_stored() -> bool:
            sink.check()
            c, ss = stored(store)
            return sum(c.values()) >= sum(did_clicks.values()) and sum(ss.values()) >= 2

        wait_for(
            all_stored,
            120,
            "the visitor's events stored",
            describe=lambda: f"{stored(store)} {collector.health()}\n{collector.metrics_text()}",
        )
        clicks, sessions = stored(store)
        assert clicks == did_clicks
        assert sessions == did_sessions
        health = collector.health()
        assert health is not None and health["spool_records"] == 0
    finally:
        worker.stop()
        sink.stop()
        proxy.shutdown()
        collector.stop()
