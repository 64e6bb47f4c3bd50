"""One controller per site: a client-id conflict is a trouble, said once and loudly."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable

import pytest

from homeguard.adapters.mqtt import MqttClient
from homeguard.services.controller import Controller
from tests.conftest import MosquittoProcess, client_id, wait_until
from tests.services.conftest import House, Observer

pytestmark = pytest.mark.broker

TAKEN = "another client is using this client id"
EVENT = "home/alarm/event"


def session(kind: str) -> Callable[[bytes], bool]:
    """A controller event of ``kind`` about its MQTT session."""

    def test(payload: bytes) -> bool:
        body = json.loads(payload)
        return bool(body.get("event") == kind and body.get("trouble") == "session_taken_over")

    return test


def rival(mosquitto: MosquittoProcess, name: str) -> MqttClient:
    """A client that reconnects with ``name``'s client id whenever it is kicked off."""
    client = MqttClient(address=mosquitto.address, client_id=name, persistent=True)
    client.start()
    return client


@pytest.mark.faults
def test_two_clients_with_one_id_are_told_once(
    mosquitto: MosquittoProcess, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="homeguard.adapters.mqtt")
    name = client_id("twin")
    first, second = rival(mosquitto, name), rival(mosquitto, name)
    try:
        wait_until(lambda: first.session_contested and second.session_contested, 20)
        kicked = first.connection_count + second.connection_count
        wait_until(lambda: first.connection_count + second.connection_count > kicked + 6, 20)
        errors = [r for r in caplog.records if TAKEN in r.getMessage()]
        assert len(errors) == 2, [r.getMessage() for r in errors]  # once for each client
        assert all(r.levelno == logging.ERROR and name in r.getMessage() for r in errors)
    finally:
        second.stop()
    # Alone again: the session is ours once a connection lasts.
    wait_until(lambda: not first.session_contested, timeout=15, what="session ours again")
    first.stop()


@pytest.mark.faults
def test_a_takeover_of_the_controllers_client_id_is_a_trouble(
    controller: Controller, observer: Observer, house: House, mosquitto: MosquittoProcess
) -> None:
    observer.wait_for("home/alarm/availability", "online")
    began = time.time()
    taker = rival(mosquitto, house.site.config.mqtt.client_id)
    try:
        observer.wait_for(EVENT, session("trouble"), timeout=30)
        time.sleep(2.0)  # more kicks: still one trouble
    finally:
        taker.stop()
    observer.wait_for(EVENT, session("restored"), timeout=30)
    troubles = [e for e in observer.events("trouble") if e.get("trouble") == "session_taken_over"]
    assert len(troubles) == 1, troubles  # one, however many kicks
    assert "client id" in str(troubles[0]["description"])
    with house.store() as store:
        stored = store.system_events(since=began, event_type=["trouble", "restored"])
    kinds = [e.event_type for e in stored if (e.data or {}).get("trouble") == "session_taken_over"]
    assert sorted(kinds) == ["restored", "trouble"]
