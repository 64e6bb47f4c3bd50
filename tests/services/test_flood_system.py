"""One sensor floods a real Mosquitto while another one trips the armed panel (issue 9,
finding 4): the alarm comes through, the store stays small, and every flooded message is
accounted for in ``flood`` and ``security`` events.

The flood is written by a raw socket (prebuilt QoS 0 PUBLISH packets, as fast as the
broker takes them); the house is not provisioned, so it needs no login here, and it is
what one sensor's login could send on its own topic. No timing is asserted beyond "the
siren came": benchmarks/flood.py measures the delay.
"""

from __future__ import annotations

import socket
import struct
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from homeguard.adapters.mqtt import MqttClient
from homeguard.app import connected_controller
from homeguard.services.controller import Controller
from tests.conftest import MosquittoProcess, client_id, wait_until
from tests.services.conftest import House, Observer, event

pytestmark = pytest.mark.broker

FLOOD = 30_000
FRONT = "home/security/door/front"
SECRET = "front door secret 0123456789"


def _length(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n % 128, n // 128
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def flood(broker: MosquittoProcess, topic: str, payload: bytes, count: int) -> None:
    """``count`` QoS 0 publishes of ``payload`` on ``topic``, as fast as a socket writes."""
    name = client_id("flood").encode()
    body = b"\x00\x04MQTT\x04\x02\x00\x3c" + struct.pack("!H", len(name)) + name
    inner = struct.pack("!H", len(topic)) + topic.encode() + payload
    packets = b"\x10" + _length(len(body)) + body
    packets += (b"\x30" + _length(len(inner)) + inner) * count + b"\xe0\x00"
    with socket.create_connection((broker.host, broker.port)) as sock:
        sock.sendall(packets)
        sock.shutdown(socket.SHUT_WR)
        while sock.recv(65536):  # until the broker closes after DISCONNECT
            pass


@pytest.fixture
def watcher(mosquitto: MosquittoProcess) -> Iterator[Observer]:
    """Sees the panel and the siren, not the flood (``home/security/#``)."""
    client = MqttClient(
        address=mosquitto.address,
        client_id=client_id("watcher"),
        persistent=False,
        subscriptions=[("home/alarm/#", 1), ("home/control/#", 2)],
    )
    client.start()
    seen = Observer(client)
    yield seen
    seen.close()


@contextmanager
def running(house: House) -> Iterator[Controller]:
    stop = threading.Event()
    with connected_controller(house.site) as controller:
        thread = threading.Thread(target=controller.run, args=(stop,), daemon=True)
        thread.start()
        try:
            yield controller
        finally:
            stop.set()  # the controller closes its open intervals: the summaries are stored
            thread.join(timeout=30)


def alarm_during_flood(house: House, watcher: Observer, payload: bytes) -> None:
    """Arm away, flood ``front`` with ``payload`` and open the living-room window while
    the flood is under way: the siren must come on."""
    with running(house) as controller:
        watcher.command("ARM_AWAY", code="1234")
        watcher.wait_for("home/alarm/state", "armed_away", timeout=15)
        base = controller.stats.messages
        sender = threading.Thread(target=flood, args=(house.broker, FRONT, payload, FLOOD))
        sender.start()
        wait_until(lambda: controller.stats.messages > base + 1000, 30, "the flood to arrive")
        watcher.publish("home/security/window/living", "OPEN")
        watcher.wait_for("home/control/alarm", "ON", timeout=60)
        watcher.wait_for("home/alarm/event", event("triggered"), timeout=10)
        sender.join(timeout=60)
        wait_until(
            lambda: controller.stats.messages >= base + FLOOD + 1, 120, "the flood to be read"
        )


def system_events(house: House, kind: str) -> list[dict[str, Any]]:
    with house.store() as store:
        return [dict(e.data or {}) for e in store.system_events(event_type=kind)]


def test_a_flood_of_closed_neither_holds_up_the_alarm_nor_fills_the_store(
    house: House, watcher: Observer
) -> None:
    alarm_during_flood(house, watcher, b"CLOSED")
    with house.store() as store:
        rows = store.count_sensor_events(device="front")
        size = store.size_bytes()
    # Within its budget (200 at once, 5 a second) the door is stored as always...
    assert rows < 1000, f"{rows} rows stored for a flood of {FLOOD}"
    floods = [e for e in system_events(house, "flood") if e["device"] == "front"]
    assert floods, "no flood event"
    # ...and every message beyond it is counted: nothing delivered is lost silently.
    assert rows + sum(e["surplus"] for e in floods) == FLOOD
    assert all(e["coalesced"] <= e["surplus"] for e in floods)
    assert size < 1_000_000


def test_unsigned_junk_on_a_signing_sensor_is_summarised_not_stored(
    house_factory: Callable[..., House], watcher: Observer
) -> None:
    house = house_factory()
    text = house.config_path.read_text()
    plain = "{id: front, type: door, zone: entry}"
    assert plain in text
    signed = f'{{id: front, type: door, zone: entry, signed: true, secret: "{SECRET}"}}'
    house.config_path.write_text(text.replace(plain, signed))
    alarm_during_flood(house, watcher, b"junk, not signed")
    security = [e for e in system_events(house, "security") if e["sensor"] == "front"]
    assert len(security) <= 10, f"{len(security)} security events stored"
    summaries = [e for e in security if "refused" in e]
    one_by_one = [e for e in security if "refused" not in e]
    assert one_by_one and all(e["reason"] == "unsigned" for e in one_by_one)
    refused = (
        sum(e["refused"] for e in summaries)
        + len(one_by_one)
        - sum(e["reported"] for e in summaries)
    )
    coalesced = sum(e["coalesced"] for e in system_events(house, "flood"))
    assert refused + coalesced == FLOOD  # each one refused or coalesced, and counted
    published = lambda: len(watcher.events("security")) == len(security)  # noqa: E731
    wait_until(published, 10, "every security event stored to be published")
    with house.store() as store:
        assert store.count_sensor_events(device="front") == 0
        assert store.size_bytes() < 1_000_000
