"""User-Agent -> device class of the event contract, a bounded browser label for metrics, or bot.

Parsing goes through `ua-parser` (the maintained port of the uap-core rules, with precompiled
builtins); results are cached per User-Agent string because a platform sees few distinct ones and a
parse costs ~0.5 ms. Known crawlers (uap-core's "Spider" device), automation (headless browsers)
and command-line tools are bots: counted and dropped, as Plausible and PostHog do.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from ua_parser import parse

MAX_UA_CHARS: Final = 512  # longer User-Agents are cut before parsing (a bounded cost per request)
_BOT = re.compile(
    r"bot\b|bot/|crawl|spider|slurp|scrapy|headless|phantomjs|selenium|puppeteer|playwright|lighthouse|"
    r"curl/|wget/|python-requests|python-urllib|aiohttp|httpx|go-http-client|java/|libwww|"
    r"apache-httpclient|node-fetch|axios/|monitoring|uptime|pingdom|preview",
    re.IGNORECASE,
)
_TV = re.compile(r"smart-?tv|\btv\b|mitv|hbbtv|tizen|web0s|webos|appletv|android tv|bravia|aft[bmst]", re.IGNORECASE)
BROWSERS: Final = (
    "Chrome",
    "Edge",
    "Firefox",
    "Safari",
    "WeChat",
    "QQ",
    "UC Browser",
    "Opera",
    "Samsung Internet",
    "Huawei Browser",
    "MiuiBrowser",
    "Baidu",
    "360",
)


@dataclass(frozen=True, slots=True)
class Agent:
    bot: bool
    device: str  # the contract's DEVICES: web, app, tv, other
    browser: str  # one of BROWSERS or "other": a bounded metrics label, not stored in events
    mobile: bool


BOT: Final = Agent(True, "other", "other", False)


def _browser_label(family: str) -> str:
    for name in BROWSERS:
        if family.startswith(name):
            return name
    return "other"


class AgentParser:
    """Classifies User-Agents; `app_tokens` mark the platform's own apps (device 'app')."""

    def __init__(self, app_tokens: list[str] | tuple[str, ...] = (), cache_size: int = 50_000) -> None:
        self.app_tokens = tuple(t.lower() for t in app_tokens if t)
        self._cache: dict[str, Agent] = {}
        self._cache_size = cache_size

    def classify(self, ua: str | None) -> Agent:
        ua = (ua or "")[:MAX_UA_CHARS]
        hit = self._cache.get(ua)
        if hit is not None:
            return hit
        agent = self._classify(ua)
        if len(self._cache) >= self._cache_size:
            self._cache.clear()
        self._cache[ua] = agent
        return agent

    def _classify(self, ua: str) -> Agent:
        if not ua.strip() or _BOT.search(ua):
            return BOT
        low = ua.lower()
        result = parse(ua)
        device_family = result.device.family if result.device else ""
        if device_family == "Spider":
            return BOT
        family = result.user_agent.family if result.user_agent else "Other"
        os_family = result.os.family if result.os else ""
        mobile = os_family in ("Android", "iOS", "HarmonyOS") or "Mobile" in ua
        if any(t in low for t in self.app_tokens):
            device = "app"
        elif _TV.search(ua) or "TV" in device_family:
            device = "tv"
        elif family == "Other" and not ua.startswith("Mozilla/"):
            device = "other"
        else:
            device = "web"
        return Agent(False, device, _browser_label(family), mobile)
