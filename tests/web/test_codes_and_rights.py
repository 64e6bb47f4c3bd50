"""Issue 9 through the HTTP API: silencing an alarm (5), bypass rights (6), wrong-code
counting (1) and a duress code the dashboard never shows (11)."""

from __future__ import annotations

import time

import pytest

from homeguard.core.model import PanelState
from tests.conftest import wait_until
from tests.services.conftest import Observer, event
from tests.web.conftest import Dashboard
from tests.web.test_api import refusal

pytestmark = pytest.mark.broker

ALICE, BOB, DURESS = "1234", "5555", "9999"


def sounding(dashboard: Dashboard, observer: Observer) -> float:
    """Trip the 24-hour tamper zone; when the siren was commanded on."""
    observer.publish("home/security/tamper/lid", "TAMPER")
    observer.wait_for("home/alarm/state", "triggered")
    return observer.wait_for("home/control/alarm", "ON")


@pytest.mark.parametrize("kind", ["siren", "light"])
def test_switching_off_during_an_alarm_needs_a_code_that_may_disarm(
    dashboard: Dashboard, observer: Observer, kind: str
) -> None:
    """The attack: a dashboard login without a disarm code silenced the alarm."""
    client = dashboard.login()
    sounded = sounding(dashboard, observer)
    path = f"/api/actuators/{kind}"
    refusal(client.post(path, json={"on": False}), 422, "code_required")
    refusal(client.post(path, json={"on": False, "code": BOB}), 422, "not_authorized")
    refusal(client.post(path, json={"on": False, "code": "0000"}), 422, "invalid_code")
    assert dashboard.controller.panel.state is PanelState.TRIGGERED
    assert len(dashboard.controller.panel.code_lock.failures) == 2
    switched_off = [
        m for t, m in observer.seen if t > sounded and m.topic.startswith("home/control/")
    ]
    assert all(m.payload == b"ON" for m in switched_off), switched_off
    silenced = client.post(path, json={"on": False, "code": ALICE})
    assert silenced.status_code == 200, silenced.text
    assert silenced.json() == {"actuator": kind, "on": False, "state": "disarmed"}
    observer.wait_for("home/control/alarm", "OFF", after=sounded)
    observer.wait_for("home/control/light", "OFF", after=sounded)
    observer.wait_for("home/alarm/event", event("disarmed"))
    (disarmed,) = observer.events("disarmed")
    assert disarmed["source"] == "web:alice" and disarmed["previous"] == "triggered"


def test_switching_on_needs_no_code(dashboard: Dashboard, observer: Observer) -> None:
    client = dashboard.login()
    sent = time.monotonic()
    response = client.post("/api/actuators/light", json={"on": True})
    assert response.json() == {"actuator": "light", "on": True, "state": "disarmed"}
    observer.wait_for("home/control/light", "ON", after=sent)


def test_bypass_needs_disarm_rights_and_a_disarmed_panel(
    dashboard: Dashboard, observer: Observer
) -> None:
    client = dashboard.login()
    refusal(client.post("/api/bypass", json={"sensor": "hall", "code": BOB}), 422, "not_authorized")
    armed = client.post("/api/arm", json={"mode": "armed_away", "code": BOB})
    assert armed.status_code == 200, armed.text
    wait_until(lambda: dashboard.controller.panel.state is PanelState.ARMED_AWAY, 10, "armed")
    for code in (BOB, ALICE):
        body = {"sensor": "hall", "code": code}
        refusal(client.post("/api/bypass", json=body), 409, "not_allowed")
    # Nor can bob get there by switching to a mode that does not watch the hall.
    refusal(
        client.post("/api/arm", json={"mode": "armed_home", "code": BOB}), 422, "not_authorized"
    )
    observer.publish("home/security/motion/hall", "MOTION")
    observer.wait_for("home/alarm/state", "triggered")


def test_a_duress_disarm_is_an_ordinary_disarm_in_history_csv_and_state(
    dashboard: Dashboard, observer: Observer
) -> None:
    client = dashboard.login()
    assert client.post("/api/arm", json={"mode": "armed_home", "code": ALICE}).status_code == 200
    disarmed = client.post("/api/disarm", json={"code": DURESS})
    assert disarmed.status_code == 200 and disarmed.json()["state"] == "disarmed"
    wait_until(
        lambda: client.get("/api/events", params={"type": "disarmed"}).json()["total"] == 1,
        10,
        "the disarm stored",
    )
    everything = client.get("/api/events", params={"limit": 500}).text
    alarms = client.get("/api/events", params={"kind": "alarm"}).json()
    csv_text = client.get("/api/events.csv").text
    state = client.get("/api/state").text
    for where, text in (("history", everything), ("csv", csv_text), ("state", state)):
        assert "duress" not in text.lower() and "coerced" not in text, where
    assert alarms["total"] == 0
    observer.wait_for("home/alarm/event", event("disarmed"))
    # The controller's heartbeat names its data folder, which pytest names after this test.
    published = [
        m.payload.decode(errors="replace")
        for _, m in observer.seen
        if m.topic != "home/alarm/controller"
    ]
    assert not any("duress" in p or "coerced" in p for p in published)
    (shown,) = observer.events("disarmed")
    assert shown["user"] == "alice" and shown["source"] == "web:alice"
    with dashboard.house.store() as store:
        (alert,) = store.silent_alerts()
    assert alert.data == {"user": "coerced", "source": "web:alice"}
