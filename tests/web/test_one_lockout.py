"""Wrong codes count together whichever way they come: MQTT, the HTTP API or the CLI."""

from __future__ import annotations

import time

import pytest

from tests.conftest import wait_until
from tests.services.conftest import Observer
from tests.web.conftest import Dashboard

pytestmark = pytest.mark.broker

WRONG = "0000"


def test_twenty_wrong_codes_over_mqtt_http_api_and_cli_lock_all_of_them(
    dashboard: Dashboard, observer: Observer
) -> None:
    api = dashboard.login()
    house = dashboard.house
    assert api.post("/api/arm", json={"mode": "armed_home", "code": "1234"}).status_code == 200
    observer.wait_for("home/alarm/state", "armed_home")

    def answers() -> int:
        return len(observer.events("invalid_code")) + len(observer.events("locked_out"))

    for attempt in range(20):
        channel = ("mqtt", "http", "cli")[attempt % 3]
        if channel == "mqtt":
            observer.command("DISARM", WRONG)
        elif channel == "http":
            status = api.post("/api/disarm", json={"code": WRONG}).status_code
            assert status in (409, 422)
        else:
            assert house.cli("disarm", "--code", WRONG).returncode == 2
        # Each refusal is published; wait for this one before the next attempt.
        wait_until(
            lambda n=attempt + 1: answers() >= n, what=f"the answer to attempt {attempt + 1}"
        )
    # Five wrong codes in all, not five per channel: one lockout for everyone.
    assert len(observer.events("invalid_code")) == 5
    assert dashboard.controller.panel.code_lock.lockouts == 1
    assert dashboard.controller.panel.code_lock.locked(time.time())
    # The right code is now refused on every way in.
    refused = api.post("/api/disarm", json={"code": "1234"})
    assert refused.status_code == 409
    assert refused.json()["error"] == "locked_out"
    cli = house.cli("disarm", "--code", "1234")
    assert cli.returncode == 2
    assert "locked" in cli.stderr
    before = len(observer.events("locked_out"))
    observer.command("DISARM", "1234")
    wait_until(lambda: len(observer.events("locked_out")) > before, what="MQTT refused too")
    assert dashboard.controller.panel.state.value == "armed_home"
