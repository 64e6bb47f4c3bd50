"""The dashboard in a real headless Chromium (Debian's), against a real controller and a
real Mosquitto: what a person at the keypad sees."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import sync_playwright

from tests.conftest import wait_until
from tests.services.conftest import Observer
from tests.web.conftest import PASSWORD, Dashboard

pytestmark = [pytest.mark.broker, pytest.mark.slow]

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
RED = "rgb(229, 57, 53)"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is missing: apt-get install chromium", pytrace=False)
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any, dashboard: Dashboard) -> Iterator[Any]:
    # bypass_csp: the page forbids eval, which some of the waits below need.
    context = browser.new_context(viewport={"width": 1100, "height": 900}, bypass_csp=True)
    tab = context.new_page()
    tab.set_default_timeout(10_000)
    tab.goto(dashboard.url + "/")
    yield tab
    context.close()


def log_in(page: Any) -> None:
    page.fill("#login-user", "alice")
    page.fill("#login-password", PASSWORD)
    page.click("#login-submit")
    page.wait_for_selector("#app:not([hidden])")
    page.wait_for_selector('[data-sensor="front"]')


def state_is(page: Any, state: str, timeout: float = 10_000) -> None:
    page.wait_for_function(
        "s => document.querySelector('#state').dataset.value === s", arg=state, timeout=timeout
    )


def key_in(page: Any, code: str) -> None:
    for digit in code:
        page.click(f'[data-key="{digit}"]')


def test_a_wrong_password_is_refused_on_the_page(page: Any) -> None:
    page.fill("#login-user", "alice")
    page.fill("#login-password", "not it")
    page.click("#login-submit")
    page.wait_for_function("document.querySelector('#login-error').textContent.length > 0")
    assert "wrong password" in page.text_content("#login-error")
    assert page.is_hidden("#app")


def test_arm_trip_and_disarm_from_the_keypad(
    page: Any, dashboard: Dashboard, observer: Observer
) -> None:
    log_in(page)
    state_is(page, "disarmed")
    light = '[data-sensor="front"] .light'

    # A real MQTT publish turns the door's light red within a second.
    opened = time.monotonic()
    observer.publish("home/security/door/front", "OPEN")
    page.wait_for_function(
        "([sel, red]) => getComputedStyle(document.querySelector(sel)).backgroundColor === red",
        arg=[light, RED],
        timeout=1000,
    )
    latency = time.monotonic() - opened
    assert latency < 1.0

    # Arming away with the door open is refused with the door listed; force is offered.
    key_in(page, "1234")
    page.click('[data-mode="armed_away"]')
    page.click("#arm")
    page.wait_for_selector("#force-box:not([hidden])")
    assert "front" in page.text_content("#force-sensors")
    assert "not ready" in page.text_content("#message")

    observer.publish("home/security/door/front", "CLOSED")
    page.wait_for_selector('[data-sensor="front"][data-status="closed"]')

    # A wrong code shows the refusal and changes nothing.
    key_in(page, "1111")
    page.click("#arm")
    page.wait_for_function("document.querySelector('#message').textContent.includes('wrong code')")
    state_is(page, "disarmed")

    # Arm away: arming (exit delay), then armed_away.
    key_in(page, "1234")
    page.click("#arm")
    state_is(page, "arming")
    state_is(page, "armed_away")

    # Trip the door: pending (entry delay).
    observer.publish("home/security/door/front", "OPEN")
    state_is(page, "pending", timeout=2000)

    # Disarm with the code.
    key_in(page, "1234")
    page.click("#disarm")
    state_is(page, "disarmed", timeout=2000)
    assert dashboard.controller.panel.state.value == "disarmed"


def test_history_chart_and_screenshot(
    page: Any, dashboard: Dashboard, observer: Observer, tmp_path: Path
) -> None:
    log_in(page)
    observer.publish("home/security/door/front", '{"state": "OPEN", "seq": 1, "battery": 87}')
    page.wait_for_selector('[data-sensor="front"][data-status="open"]')
    observer.publish("home/security/motion/hall", "MOTION")
    page.wait_for_selector('[data-sensor="hall"][data-status="motion"]')
    observer.publish("home/security/tamper/lid", "TAMPER")  # a 24-hour zone: an alarm
    state_is(page, "triggered")
    observer.publish("home/security/door/front", '{"state": "CLOSED", "seq": 2, "battery": 86}')
    page.wait_for_selector('[data-sensor="front"][data-status="closed"]')
    page.wait_for_timeout(1000)  # batteries are looked up at most once a second
    observer.publish("home/control/siren/state", "ON", retain=True)  # as a real siren says
    observer.publish("home/control/light/state", "ON", retain=True)
    page.wait_for_selector('[data-kind="siren"][data-on="true"]')
    page.wait_for_selector('[data-sensor="front"] .meta:has-text("battery 86%")')
    page.wait_for_timeout(600)  # the banner's colour transition
    screenshot = tmp_path / "dashboard.png"
    page.screenshot(path=str(screenshot), full_page=True)
    assert screenshot.stat().st_size > 10_000
    if target := os.environ.get("HOMEGUARD_SCREENSHOT"):
        shutil.copy(screenshot, target)

    page.click('[data-tab="history"]')
    page.wait_for_selector("#events tr.alarm")  # the alarm, highlighted
    page.wait_for_selector("#chart svg rect.bar.alarm")
    assert "triggered" in page.text_content("#events tr.alarm")
    page.select_option("#filters select[name=device]", "front")
    page.click("#filters button[type=submit]")
    only_front = """() => {
        const rows = [...document.querySelectorAll('#events tr')];
        return rows.length === 2 && rows.every(r => r.children[3].textContent === 'front');
    }"""
    page.wait_for_function(only_front)
    assert "front" in page.get_attribute("#csv", "href")


def test_the_system_tab_lists_the_sensors_to_service(
    page: Any, dashboard: Dashboard, observer: Observer
) -> None:
    observer.publish("home/security/door/front", '{"state": "OPEN", "battery": 3}')
    client = dashboard.login()  # stored before the page asks for the health
    wait_until(lambda: client.get("/api/health?attention=true").json() != [], what="stored")
    log_in(page)
    page.click('[data-tab="system"]')
    maintenance = page.wait_for_selector('[data-field="Maintenance"]:has-text("front")')
    assert maintenance.text_content() == "front: battery empty (3%)"
