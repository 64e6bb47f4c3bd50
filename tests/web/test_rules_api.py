"""The rules in the API and the dashboard: each one in words, and when it last fired."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from homeguard.app import connected_controller, serve_dashboard
from tests.conftest import MosquittoProcess, wait_until
from tests.services.conftest import Observer
from tests.web.conftest import Dashboard, write_house

pytestmark = pytest.mark.broker

RULES = """
rules:
  list:
    - name: hall_light
      trigger: {sensor: hall, state: motion}
      conditions:
        panel: [disarmed]
      actions:
        - publish: {topic: home/rules/hall, payload: "motion"}
    - name: away_alarm
      trigger: {sensor: front, state: open}
      conditions:
        panel: [armed_away]
      actions:
        - alarm: true
"""


@pytest.fixture
def dashboard(mosquitto: MosquittoProcess, tmp_path: Path) -> Iterator[Dashboard]:
    house = write_house(mosquitto, tmp_path)
    house.config_path.write_text(house.config_path.read_text() + RULES)
    stop = threading.Event()
    site = house.site
    with (
        connected_controller(site) as controller,
        serve_dashboard(site, controller, port=0) as url,
    ):
        thread = threading.Thread(target=controller.run, args=(stop,), daemon=True)
        thread.start()
        yield Dashboard(url.rstrip("/"), controller, house)
        stop.set()
        thread.join(timeout=10)


def test_the_api_lists_the_rules_and_when_each_last_fired(
    dashboard: Dashboard, observer: Observer
) -> None:
    with dashboard.client() as anonymous:
        assert anonymous.get("/api/rules").status_code == 401
    client = dashboard.login()
    rules = client.get("/api/rules").json()
    assert [r["name"] for r in rules] == ["hall_light", "away_alarm"]
    assert rules[0] == {
        "name": "hall_light",
        "trigger": "hall motion",
        "conditions": ["panel disarmed"],
        "actions": ["publish home/rules/hall"],
        "last_fired": None,
    }
    observer.publish("home/security/motion/hall", "MOTION")
    observer.wait_for("home/rules/hall", "motion")

    def fired() -> dict[str, float | None]:
        return {r["name"]: r["last_fired"] for r in client.get("/api/rules").json()}

    wait_until(lambda: fired()["hall_light"] is not None, what="hall_light's firing shown")
    assert fired()["away_alarm"] is None
