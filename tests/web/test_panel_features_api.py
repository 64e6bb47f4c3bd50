"""The walk test and the door chime through the HTTP API, with the real controller
(docs/panel-features.md)."""

from __future__ import annotations

import pytest

from homeguard.core.model import PanelState
from tests.conftest import wait_until
from tests.services.conftest import Observer, event
from tests.web.conftest import Dashboard
from tests.web.test_api import refusal

pytestmark = pytest.mark.broker

ALICE, BOB = "1234", "5555"


def test_a_walk_test_from_the_dashboard_shows_the_sensors_tested(
    dashboard: Dashboard, observer: Observer
) -> None:
    client = dashboard.login()
    refusal(client.post("/api/walk-test", json={"code": BOB}), 422, "not_authorized")
    started = client.post("/api/walk-test", json={"code": ALICE})
    assert started.status_code == 200, started.text
    assert started.json()["state"] == "disarmed"
    observer.publish("home/security/window/living", "OPEN")
    observer.wait_for("home/alarm/event", event("walk_test"))
    wait_until(
        lambda: client.get("/api/state").json()["walk_test"]["tested"] == ["living"],
        what="the dashboard shows living tested",
    )
    document = client.get("/api/state").json()
    assert document["state"] == "disarmed" and document["walk_test"]["user"] == "alice"
    ended = client.post("/api/walk-test/end", json={"code": BOB})  # arming right is enough
    assert ended.status_code == 200, ended.text
    assert client.get("/api/state").json()["walk_test"] is None
    rows = lambda: client.get("/api/events", params={"type": "walk_test"}).json()["items"]  # noqa: E731
    wait_until(rows, what="the walk_test event in the dashboard's history")
    assert [row["device"] for row in rows()] == ["living"]
    assert dashboard.controller.panel.state is PanelState.DISARMED


def test_the_chime_is_switched_from_the_dashboard(dashboard: Dashboard, observer: Observer) -> None:
    client = dashboard.login()
    assert client.get("/api/state").json()["chime"] is False
    refusal(client.post("/api/chime", json={"on": True}), 422, "code_required")
    switched = client.post("/api/chime", json={"on": True, "code": ALICE})
    assert switched.status_code == 200, switched.text
    assert client.get("/api/state").json()["chime"] is True
    observer.publish("home/security/door/front", "OPEN")
    on = observer.wait_for("home/control/alarm", "ON")
    observer.wait_for("home/control/alarm", "OFF", after=on)
    (chime,) = observer.events("chime")
    assert chime["on"] is True and chime["source"] == "web:alice"
