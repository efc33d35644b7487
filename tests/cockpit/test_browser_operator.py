"""Issue 14: an operator in headless Chromium. Signs in (operator made by `auth.add_operator`, as
`edu-cockpit operators add` does), types a comment that survives ten refreshes of the alerts page,
sees the running silence with its expiry and author, follows an alert row to its province, and
finds the alert episode and the silence on the province's line. Waits on conditions only."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from dash.testing.wait import until
from prometheus_client import CollectorRegistry

from cockpit import auth
from cockpit.app import create_app
from cockpit.layout import Ids
from contracts.alerts import Severity, State, StateChange
from contracts.settings import Settings
from sinks.store import ChdbStore
from sinks.tables import alert_log
from tests.cockpit import data as fx
from tests.cockpit.test_browser import assert_clean_console, set_viewport

pytestmark = pytest.mark.browser


class NoProducer:
    def send(self, topic: str, value: bytes | None = None, key: bytes | None = None) -> Any:
        raise AssertionError("nothing is acknowledged in this test")


@pytest.mark.timeout(1200)
def test_operator_types_through_refreshes_and_finds_silences_and_links(
    dash_duo, morning_store: ChdbStore, tmp_path: Path, free_port: int, artifacts: Path
) -> None:
    silence_end = fx.NOW + 45 * 60
    # a silence as the cockpit records it (cockpit.acks): the window in the record's annotations
    fx.insert(
        morning_store,
        alert_log.TABLE,
        alert_log.COLUMNS,
        [
            alert_log.row(
                StateChange(
                    at=fx.NOW - 120,
                    fingerprint=fx.FP_GX,
                    alertname="TrafficSurge",
                    kind="silence",
                    old_state=State.FIRING,
                    new_state=State.FIRING,
                    severity=Severity.WARNING,
                    value=3.1,
                    labels=fx.SURGE_GX,
                    annotations={
                        "ratio": "3.10",
                        "silence_starts_at": str(fx.NOW - 120),
                        "silence_ends_at": str(silence_end),
                    },
                    author="duty",
                    comment="扩容中",
                )
            )
        ],
    )
    auth.add_operator(tmp_path / "operators", "duty", "correct-horse-9")
    settings = Settings(data_dir=tmp_path, cockpit_refresh_ms=2000, cockpit_cache_s=1.0, cockpit_stale_after_s=86400)
    set_viewport(dash_duo, 1366, 768)
    dash_duo.start_server(
        create_app(
            settings, morning_store, registry=CollectorRegistry(), clock=fx.wall_clock, producer_factory=NoProducer
        ),
        port=free_port,
    )
    driver = dash_duo.driver
    driver.get(dash_duo.server_url + "/login")
    driver.find_element("name", "username").send_keys("duty")
    driver.find_element("name", "password").send_keys("correct-horse-9")
    driver.find_element("css selector", "form.auth-form button").click()
    until(lambda: driver.current_url.endswith("/alerts"), timeout=30)
    comment = f"#ack-comment-{fx.FP_SD}"  # Shandong: pending, not silenced, so its ack form is shown
    dash_duo.wait_for_element(comment, timeout=120)
    dash_duo.find_element(comment).send_keys("正在联系机房扩容")

    seen: set[str] = set()

    def ten_refreshes() -> bool:
        seen.add(dash_duo.find_element(f"#{Ids.REFRESHED}").text)
        assert dash_duo.find_element(comment).get_attribute("value") == "正在联系机房扩容"
        return len(seen) >= 11  # ten refreshes after the first one seen

    until(ten_refreshes, timeout=480, poll=0.3)  # refreshes that landed: slow on a loaded machine

    # the running silence: its alert, until when, who set it (operators only) and why
    silences = dash_duo.find_element("#alerts-silences").text
    assert "访问激增" in silences and "duty" in silences and "扩容中" in silences and "11:27" in silences
    driver.save_screenshot(str(artifacts / "operator-alerts-1366x768-zh.png"))

    # an alert row leads to its province (refreshing every 10 s from here: on this shared machine a
    # province refresh can take longer than 2 s, and a tick that comes first supersedes it)
    dash_duo.select_dcc_dropdown(f"#{Ids.REFRESH}", "10 s")
    dash_duo.find_element("#alerts-current a.scope-link[href='/province/450000']").click()
    until(lambda: driver.current_url.endswith("/province/450000"), timeout=30)
    dash_duo.wait_for_contains_text("#prov-name", "广西", timeout=120)
    # the province's line carries the surge's episode (shaded) and the silence (a marker)
    notes = (
        "var g = document.querySelector('#prov-line .js-plotly-plot'); if (!g || !g.data) return null;"
        " return {shapes: (g.layout.shapes || []).length,"
        " silences: g.data.filter(function (d) { return d.meta === 'note-silence'; }).length};"
    )
    until(lambda: (driver.execute_script(notes) or {}).get("silences") == 1, timeout=90)
    assert driver.execute_script(notes)["shapes"] >= 1
    driver.save_screenshot(str(artifacts / "operator-province-annotations-1366x768-zh.png"))
    assert_clean_console(dash_duo)
