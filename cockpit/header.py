"""The top bar's live part on every page: the data time, the freshness pill, the notice and the
refresh time. The overview's tick sets them with its numbers (one callback, so the pill and the
numbers never disagree); on the other pages that tick sets them from `refresh_shell` alone.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import dash

from cockpit.i18n import t
from cockpit.layout import DASH, Ids
from cockpit.pages.common import Key
from cockpit.queries import Queries
from cockpit.timeframe import MINUTE, fmt_datetime, to_beijing

log = logging.getLogger(__name__)

Clock = Callable[[], float]

OUTPUTS: tuple[Key, ...] = (
    (Ids.EVENT_NOW, "children"),
    (Ids.STATUS, "children"),
    (Ids.STATUS, "className"),
    (Ids.NOTICE, "children"),
    (Ids.NOTICE, "className"),
    (Ids.REFRESHED, "children"),
)


def freshness(latest_minute: int | None, wall: float, stale_after_s: float) -> str:
    """ "live", "stale" or "empty": the newest stored minute ended within `stale_after_s` of the
    wall clock, or longer ago, or nothing is stored. A replay of 2022 is stale by this rule, and
    says so: the pill is about the wall clock, the data time stands next to it."""
    if latest_minute is None:
        return "empty"
    return "live" if wall - (latest_minute + MINUTE) <= stale_after_s else "stale"


def status(kind: str, lang: str) -> dict[Key, Any]:
    return {(Ids.STATUS, "children"): t(f"status_{kind}", lang), (Ids.STATUS, "className"): f"status status-{kind}"}


def notice(kind: str | None, lang: str) -> dict[Key, Any]:
    if kind is None:
        return {(Ids.NOTICE, "children"): [], (Ids.NOTICE, "className"): "notice hidden"}
    body = [
        dash.html.Div(t(f"{kind}_title", lang), className="notice-title"),
        dash.html.Div(t(f"{kind}_body", lang), className="notice-body"),
    ]
    return {(Ids.NOTICE, "children"): body, (Ids.NOTICE, "className"): f"notice notice-{kind}"}


def refreshed(clock: Clock, lang: str) -> dict[Key, Any]:
    return {(Ids.REFRESHED, "children"): f"{t('refreshed', lang)} {to_beijing(int(clock())):%H:%M:%S}"}


def render_error(lang: str) -> dict[Key, Any]:
    """The store failed: flag it and leave the last good values on screen, marked stale."""
    return status("error", lang) | notice("error", lang)


def refresh_shell(queries: Queries, lang: str, clock: Clock, stale_after_s: float = 180.0) -> dict[Key, Any]:
    """The header on the other pages (province, alerts, report): data time, status and refresh
    time, from one cheap query, so a page opened directly says how fresh its numbers are."""
    try:
        now = queries.latest_minute()
    except Exception:
        log.exception("cockpit shell refresh failed")
        return render_error(lang) | refreshed(clock, lang)
    if now is None:
        return (
            {(Ids.EVENT_NOW, "children"): DASH}
            | status("empty", lang)
            | notice("no_data", lang)
            | refreshed(clock, lang)
        )
    kind = freshness(now, clock(), stale_after_s)
    return (
        {(Ids.EVENT_NOW, "children"): fmt_datetime(now)}
        | status(kind, lang)
        | notice("stale" if kind == "stale" else None, lang)
        | refreshed(clock, lang)
    )
