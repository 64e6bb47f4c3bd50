"""A stock Mosquitto (1000 queued, 20 in flight, Nagle on): what it drops is reported.

The controller's persistent session is offline while a sensor sends more than the stock
broker queues; the broker drops the rest. When the sensor speaks again the controller
sees the gap in its ``seq`` and records (and publishes) a ``messages_lost`` event with
the count, so that stored + lost == sent.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from homeguard.adapters.mqtt import MqttClient
from homeguard.adapters.store import EventStore
from homeguard.app import Site, connected_controller
from homeguard.config import load_config
from homeguard.core.records import SystemRecord
from tests.conftest import MosquittoProcess, client_id, wait_until
from tests.services.conftest import HOUSE, Observer, _cheap, event

pytestmark = pytest.mark.faults

BURST = 1500  # more than the stock broker's max_queued_messages (1000)


def _site(broker: MosquittoProcess, tmp_path: Path) -> Site:
    path = tmp_path / "homeguard.yaml"
    path.write_text(
        HOUSE.format(
            port=broker.port,
            entry=2,
            siren=3,
            supervision=300,
            alice=_cheap("1234"),
            coerced=_cheap("9999"),
        )
    )
    return Site(load_config(path), tmp_path / "data")


@contextmanager
def _running(site: Site) -> Iterator[None]:
    stop = threading.Event()
    with connected_controller(site) as controller:
        thread = threading.Thread(target=controller.run, args=(stop,), daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join(timeout=30)


def _sensor_events(site: Site) -> int:
    with EventStore(site.store_path) as store:
        return store.count_sensor_events(device="front")


def _lost_events(site: Site) -> list[SystemRecord]:
    with EventStore(site.store_path) as store:
        return store.system_events(event_type="messages_lost")


def _report(client: MqttClient, seq: int) -> None:
    body = {"state": "OPEN" if seq % 2 else "CLOSED", "seq": seq}
    client.publish("home/security/door/front", json.dumps(body), qos=1)


def test_messages_a_stock_broker_drops_are_reported_with_their_count(
    stock_mosquitto: MosquittoProcess, tmp_path: Path
) -> None:
    site = _site(stock_mosquitto, tmp_path)
    observer = Observer(
        MqttClient(
            address=stock_mosquitto.address,
            client_id=client_id("observer"),
            persistent=False,
            subscriptions=[("home/alarm/event", 1)],
        )
    )
    observer.client.start()
    sensor = MqttClient(address=stock_mosquitto.address, client_id=client_id("front"))
    sensor.start()
    try:
        with _running(site):  # the controller's persistent session exists from here on
            _report(sensor, 1)
            wait_until(lambda: _sensor_events(site) == 1, what="the first report stored")
        for seq in range(2, BURST + 1):  # the controller is away: the broker queues
            _report(sensor, seq)
        assert sensor.wait_published(60)
        with _running(site):
            # The sensor speaks again: its message queues behind what the broker kept,
            # and the gap before its seq is what the broker dropped.
            _report(sensor, BURST + 1)
            observer.wait_for("home/alarm/event", event("messages_lost"), timeout=60)
            wait_until(lambda: _lost_events(site), what="the messages_lost event stored")
        sent = BURST + 1
        stored = _sensor_events(site)
        assert stored < sent, "the stock broker was expected to drop messages"
        lost_events = _lost_events(site)
        assert lost_events and all(e.data is not None for e in lost_events)
        lost = sum(int(e.data["lost"]) for e in lost_events if e.data is not None)
        assert stored + lost == sent
        published = observer.events("messages_lost")
        assert sum(int(str(p["lost"])) for p in published) == lost
    finally:
        sensor.stop()
        observer.close()
