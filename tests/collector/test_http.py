"""The HTTP face through Falcon's ASGI test client: answers, limits, bad input. The journal is read
back to check what would go to Kafka (the sender is not started: no Kafka needed)."""

from __future__ import annotations

import gzip
import threading
from pathlib import Path

import msgspec
import pytest
from falcon import testing

from collector.app import create_app
from collector.service import Collector
from contracts.events import decode_message
from contracts.settings import Settings

CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"
)
EV = {"type": "pageview", "platform": "k12", "section": "lessons", "resource": "lesson-1"}


def make(tmp_path: Path, **over: object) -> tuple[Collector, testing.TestClient]:
    base: dict[str, object] = {
        "data_dir": tmp_path,
        "kafka_bootstrap": "127.0.0.1:9",
        "collector_rate_per_address": 1000,
        "collector_rate_burst": 1000,
        "collector_cors_origins": ["https://www.zxx.edu.cn"],
        "collector_shed_lag_ms": 0,  # a gzip bomb or a first IPv6 lookup blocks the test client's loop
    }
    base.update(over)
    c = Collector(Settings(**base))  # type: ignore[arg-type]
    return c, testing.TestClient(create_app(c))


def post(
    client: testing.TestClient,
    body: object,
    *,
    xff: str | None = "114.114.114.114",
    ua: str = CHROME,
    headers: dict[str, str] | None = None,
    raw: bytes | None = None,
    remote: str = "127.0.0.1",
) -> testing.Result:
    h = {"User-Agent": ua, "Content-Type": "text/plain", **(headers or {})}
    if xff:
        h["X-Forwarded-For"] = xff
    data = raw if raw is not None else msgspec.json.encode(body)
    return client.simulate_post("/api/event", body=data, headers=h, remote_addr=remote)


def journaled(c: Collector) -> list:  # type: ignore[type-arg]
    stop = threading.Event()
    out = []
    for rec in c.journal.read(1, 0, stop, wait_s=0.01):
        if rec is None:
            break
        events, rejects = decode_message(rec.value, max_bytes=1 << 20, max_events=1000)
        assert not rejects
        out.extend(events)
    return out


def test_single_event_becomes_a_contract_event_without_raw_ids(tmp_path: Path) -> None:
    c, client = make(tmp_path)
    r = post(client, {**EV, "session": "tab-1", "pid": "student-42"})
    assert r.status_code == 202 and r.json == {"accepted": 1, "refused": 0}
    [ev] = journaled(c)
    assert (ev.province, ev.platform, ev.section, ev.resource, ev.action, ev.device) == (
        "320000",
        "k12",
        "lessons",
        "lesson-1",
        "view",
        "web",
    )
    wire = msgspec.json.encode(ev).decode()
    assert "114.114" not in wire and "student-42" not in wire and "tab-1" not in wire


def test_batch_each_event_stands_alone(tmp_path: Path) -> None:
    c, client = make(tmp_path)
    batch = [
        EV,
        {**EV, "platform": "nope"},
        {"type": "session", "platform": "higher", "kind": "start"},
        {"type": "session", "platform": "higher"},
        {**EV, "user": "alice"},
        {**EV, "resource": "x" * 65},
    ]
    r = post(client, batch)
    assert r.status_code == 202
    assert r.json["accepted"] == 2 and r.json["refused"] == 4
    assert [(e["index"], e["field"]) for e in r.json["errors"]] == [
        (1, "platform"),
        (5, "resource"),
        (3, "kind"),
        (4, "user"),
    ]
    kinds = sorted(type(e).__name__ for e in journaled(c))
    assert kinds == ["Click", "Session"]


@pytest.mark.parametrize(
    "raw,status,field",
    [
        (b"{", 400, "body"),
        (b"\xff\xfe\x00", 400, "body"),
        (b"", 400, "body"),
        (b"[]", 422, "body"),
        (b'{"type":"pageview"}', 422, "platform"),
        (b'{"type":"click","platform":"k12","resource":"r","ts":"x"}', 422, "ts"),
        (b"null", 422, "body"),
        (b"[" + b",".join([b'{"type":"pageview","platform":"k12","resource":"r"}'] * 101) + b"]", 413, "body"),
    ],
)
def test_malformed_bodies_name_the_field(tmp_path: Path, raw: bytes, status: int, field: str) -> None:
    c, client = make(tmp_path)
    r = post(client, None, raw=raw)
    assert r.status_code == status, r.text
    assert r.json["field"] == field
    assert journaled(c) == []


def test_gzip_and_gzip_bombs(tmp_path: Path) -> None:
    c, client = make(tmp_path, collector_max_decompressed_bytes=64 * 1024)
    ok = post(client, None, raw=gzip.compress(msgspec.json.encode([EV] * 10)), headers={"Content-Encoding": "gzip"})
    assert ok.status_code == 202 and ok.json["accepted"] == 10
    bomb = gzip.compress(b"[" + b" " * 50_000_000 + b"]")  # 50 MB of spaces in ~50 kB
    assert len(bomb) < 262_144
    r = post(client, None, raw=bomb, headers={"Content-Encoding": "gzip"})
    assert r.status_code == 413 and "inflated" in r.json["error"]
    assert post(client, None, raw=b"not gzip", headers={"Content-Encoding": "gzip"}).status_code == 400
    assert post(client, None, raw=gzip.compress(b"[]")[:-6], headers={"Content-Encoding": "gzip"}).status_code == 400
    assert post(client, None, raw=b"x", headers={"Content-Encoding": "br"}).status_code == 415
    assert len(journaled(c)) == 10


def test_body_size_limit(tmp_path: Path) -> None:
    _, client = make(tmp_path, collector_max_body_bytes=4096)
    r = post(client, None, raw=b"[" + b" " * 10_000 + b"]")
    assert r.status_code == 413


def test_spoofed_forwarded_for_from_an_untrusted_peer_is_ignored(tmp_path: Path) -> None:
    c, client = make(tmp_path)
    r = post(client, EV, xff="114.114.114.114", remote="8.8.8.8")  # the peer itself is in the US
    assert r.status_code == 202
    [ev] = journaled(c)
    assert (ev.province, ev.country) == ("abroad", "US")


def test_private_loopback_and_ipv6_clients(tmp_path: Path) -> None:
    c, client = make(tmp_path)
    assert post(client, EV, xff=None).status_code == 422  # loopback peer, no proxy header
    r = post(client, EV, xff="192.168.3.4")
    assert r.status_code == 422 and r.json["field"] == "address" and r.json["reason"] == "private"
    assert post(client, EV, xff="2001:4860:4860::8888").status_code == 202
    assert post(client, EV, xff="::ffff:114.114.114.114").status_code == 202
    assert [(e.province, e.country) for e in journaled(c)] == [("abroad", "US"), ("320000", None)]


def test_bots_are_counted_and_dropped(tmp_path: Path) -> None:
    c, client = make(tmp_path)
    r = post(client, [EV, EV], ua="Mozilla/5.0 (compatible; Baiduspider/2.0; +http://www.baidu.com/search/spider.html)")
    assert r.status_code == 202 and r.json == {"accepted": 0, "refused": 0, "bots": 2}
    assert journaled(c) == []
    assert c.registry.get_sample_value("edu_collector_bot_events_total", {"source": "http"}) == 2


def test_rate_limit_answers_429_with_retry_after(tmp_path: Path) -> None:
    _, client = make(tmp_path, collector_rate_per_address=1.0, collector_rate_burst=3.0)
    codes = [post(client, EV).status_code for _ in range(5)]
    assert codes == [202, 202, 202, 429, 429]
    r = post(client, EV)
    assert int(r.headers["retry-after"]) >= 1
    assert post(client, EV, xff="202.96.134.133").status_code == 202  # another address has its own bucket


def test_cors_allow_list(tmp_path: Path) -> None:
    _, client = make(tmp_path)
    ok = client.simulate_options(
        "/api/event", headers={"Origin": "https://www.zxx.edu.cn", "Access-Control-Request-Method": "POST"}
    )
    assert ok.status_code == 204 and ok.headers["access-control-allow-origin"] == "https://www.zxx.edu.cn"
    assert client.simulate_options("/api/event", headers={"Origin": "https://evil.example"}).status_code == 403
    assert post(client, EV, headers={"Origin": "https://evil.example"}).status_code == 403
    r = post(client, EV, headers={"Origin": "https://www.zxx.edu.cn"})
    assert r.status_code == 202 and r.headers["access-control-allow-origin"] == "https://www.zxx.edu.cn"


def test_spool_full_answers_503_and_journals_nothing(tmp_path: Path) -> None:
    c, client = make(tmp_path, collector_spool_max_bytes=65_536)
    batch = [{**EV, "resource": f"r{i}"} for i in range(100)]
    codes = [post(client, batch).status_code for _ in range(40)]
    assert codes[0] == 202 and codes[-1] == 503
    n_ok = codes.count(202)
    r = post(client, batch)
    assert r.status_code == 503 and int(r.headers["retry-after"]) >= 1
    assert len(journaled(c)) == 100 * n_ok  # every 202 is journaled, nothing after the 503s
    assert client.simulate_get("/healthz").status_code == 503


def test_client_clock_is_corrected_by_sent(tmp_path: Path) -> None:
    import time

    c, client = make(tmp_path)
    now = int(time.time() * 1000)
    skewed = now + 3_600_000  # the client's clock is an hour fast
    r = client.simulate_post(
        "/api/event",
        params={"sent": str(skewed)},
        body=msgspec.json.encode({**EV, "ts": skewed - 5000}),
        headers={"User-Agent": CHROME, "X-Forwarded-For": "114.114.114.114"},
    )
    assert r.status_code == 202
    [ev] = journaled(c)
    assert abs(ev.ts - (now - 5000)) < 2000


def test_tracker_metrics_and_health_are_served(tmp_path: Path) -> None:
    _, client = make(tmp_path)
    js = client.simulate_get("/t.js")
    assert js.status_code == 200 and "sendBeacon" in js.text and "javascript" in js.headers["content-type"]
    post(client, EV)
    m = client.simulate_get("/metrics").text
    assert 'edu_collector_events_accepted_total{source="http"} 1.0' in m
    assert "edu_collector_request_seconds_bucket" in m and "edu_collector_spool_records" in m
    h = client.simulate_get("/healthz")
    assert h.status_code == 200 and h.json["spool_records"] == 1


def test_nesting_deeper_than_the_decoder_allows_is_refused_not_an_error(tmp_path: Path) -> None:
    _, client = make(tmp_path)
    for body in (b"[" * 100_000, b'{"a":' * 50_000, b"[" * 5_000 + b"]" * 5_000):
        r = post(client, None, raw=body)
        assert r.status_code == 400 and r.json["reason"] in ("too_deep", "json"), r.text[:200]
    assert post(client, EV).status_code == 202  # and the next request is served
