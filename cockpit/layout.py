"""Component ids shared by the shell, the pages and the browser tests, and the values a component
shows before (LOADING, `placeholder`) or without (DASH) data.

Each page declares its own panels (`cockpit.pages.*`); the frame around them is `cockpit.shell`.
"""

from __future__ import annotations

DASH = "—"
LOADING = ""  # a value before the first refresh: empty, drawn as a themed skeleton bar by the CSS


class Ids:
    """Component ids, shared by the layout, the callbacks and the browser tests."""

    TICK = "tick"
    LANG = "lang"
    TITLE = "title"
    SUBTITLE = "subtitle"
    EVENT_NOW_LABEL = "event-now-label"
    EVENT_NOW = "event-now"
    BEIJING = "beijing-label"
    STATUS = "status"
    NOTICE = "notice"
    REFRESHED = "refreshed"
    FOOTER = "footer-text"
    MAP = "chart-map"  # the overview's map: routing follows its clicks
    # the shell
    URL = "url"
    ROUTE = "route"
    SHELL = "shell"
    CONTROLS = "controls"
    RANGE = "range"
    CUSTOM = "custom-range"
    REFRESH = "refresh-ms"
    PAUSE = "pause"
    PLATFORM = "platform"
    MEASURE = "map-measure"
    ROTATE = "rotate"
    FULLSCREEN = "fullscreen"
    PICKER_LANG = "picker-lang"
    AUTH = "auth-link"
    PAGES = ("overview", "province", "alerts", "report")

    @staticmethod
    def page(name: str) -> str:
        return f"page-{name}"

    @staticmethod
    def nav(name: str) -> str:
        return f"nav-{name}"

    @staticmethod
    def listing(name: str, part: str = "body") -> str:
        """`list-surge` (the body), `list-surge-title`."""
        return f"list-{name}" if part == "body" else f"list-{name}-{part}"

    @staticmethod
    def kpi(name: str, part: str = "value") -> str:
        """`kpi-today` (the number), `kpi-today-label`, `kpi-today-unit`, `kpi-today-sub`."""
        return f"kpi-{name}" if part == "value" else f"kpi-{name}-{part}"

    @staticmethod
    def chart(name: str, part: str = "graph") -> str:
        return f"chart-{name}" if part == "graph" else f"chart-{name}-{part}"


def placeholder() -> dict:
    """The figure every graph starts with: the dark theme, no axes, no text, so the first paint is
    never Plotly's white default axes (the first refresh replaces it)."""
    from cockpit.figures import message_figure

    return message_figure("").to_plotly_json()
