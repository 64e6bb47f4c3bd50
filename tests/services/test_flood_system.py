"""One sensor floods a real Mosquitto while another one trips the armed panel (issue 9,
finding 4): the alarm comes through, the store stays small, and every flooded message is
accounted for in ``flood`` and ``security`` events.

The house is provisioned and its Mosquitto enforces the logins and the ACL: the flood
is what the front door's own login may send on its own topic, written by a raw socket
(prebuilt QoS 0 PUBLISH packets, as fast as the broker takes them). No timing is asserted
beyond "the siren came": benchmarks/flood.py measures the delay.
"""

from __future__ import annotations

import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from homeguard.adapters.mqtt import MqttClient
from homeguard.config import load_config
from homeguard.services.provisioning import SecurityFiles, load_credentials, provision
from tests.conftest import MosquittoProcess, client_id, free_port, wait_until
from tests.services.conftest import HOUSE, House, Observer, _cheap, running

pytestmark = pytest.mark.broker

FLOOD = 30_000
FRONT = "home/security/door/front"
PLAIN_FRONT = "{id: front, type: door, zone: entry}"


def _length(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n % 128, n // 128
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _string(text: str) -> bytes:
    return struct.pack("!H", len(text.encode())) + text.encode()


def flood(house: House, account: str, topic: str, payload: bytes, count: int) -> None:
    """``count`` QoS 0 publishes of ``payload`` on ``topic`` as ``account``, as fast as a
    socket writes."""
    creds = load_credentials(house.data_dir / "security", account)
    assert creds is not None and creds.password is not None
    login = _string(client_id("flood")) + _string(creds.username) + _string(creds.password)
    body = b"\x00\x04MQTT\x04\xc2\x00\x3c" + login  # user name, password, clean session
    inner = _string(topic) + payload
    packets = b"\x10" + _length(len(body)) + body
    packets += (b"\x30" + _length(len(inner)) + inner) * count + b"\xe0\x00"
    with socket.create_connection((house.broker.host, house.broker.port)) as sock:
        sock.sendall(packets)
        sock.shutdown(socket.SHUT_WR)
        while sock.recv(65536):  # until the broker closes after DISCONNECT
            pass


@pytest.fixture
def house_with(tmp_path: Path) -> Iterator[Callable[[str], House]]:
    """A house (with ``front`` as given) provisioned into its data dir, on a Mosquitto
    that enforces its logins and ACL."""
    brokers: list[MosquittoProcess] = []

    def make(front: str) -> House:
        port = free_port()
        pins = {"alice": _cheap("1234"), "coerced": _cheap("9999")}
        text = HOUSE.format(port=port, entry=2, siren=3, supervision=3, **pins)
        assert PLAIN_FRONT in text
        path = tmp_path / "homeguard.yaml"
        path.write_text(text.replace(PLAIN_FRONT, front))
        root = tmp_path / "data" / "security"
        provision(load_config(path), root, time.time())
        files = SecurityFiles(root)
        broker = MosquittoProcess(
            tmp_path / "mosquitto", port, password_file=files.password_file, acl_file=files.acl_file
        )
        brokers.append(broker)
        broker.start()
        return House(broker, path, tmp_path / "data")

    yield make
    for broker in brokers:
        broker.stop()


@contextmanager
def logged_in(
    house: House, account: str, subscriptions: list[tuple[str, int]]
) -> Iterator[Observer]:
    """A client with ``account``'s login, seeing what it subscribed to (never the flood)."""
    client = MqttClient(
        address=house.site.broker_address(account),
        client_id=client_id(account),
        persistent=False,
        subscriptions=subscriptions,
    )
    client.start()
    seen = Observer(client)
    try:
        yield seen
    finally:
        seen.close()


def system_events(house: House, kind: str) -> list[dict[str, Any]]:
    with house.store() as store:
        return [dict(e.data or {}) for e in store.system_events(event_type=kind)]


def alarm_during_flood(house: House, payload: bytes) -> None:
    """Arm away, flood ``front`` with ``payload`` from its own login and open the window
    (with the window's login) while the flood is under way: the siren must come on, and
    the ``cli`` login sees each flood and security event that is stored."""
    user = [("home/alarm/state", 1), ("home/alarm/event", 1)]
    with (
        logged_in(house, "cli", user) as watcher,
        logged_in(house, "siren", [("home/control/alarm", 2)]) as siren,
        logged_in(house, "living", []) as window,
    ):
        with running(house.site) as controller:
            watcher.command("ARM_AWAY", code="1234")
            watcher.wait_for("home/alarm/state", "armed_away", timeout=15)
            base = controller.stats.messages
            sender = threading.Thread(target=flood, args=(house, "front", FRONT, payload, FLOOD))
            sender.start()
            wait_until(lambda: controller.stats.messages > base + 1000, 30, "the flood to come")
            window.publish("home/security/window/living", "OPEN")
            siren.wait_for("home/control/alarm", "ON", timeout=60)
            watcher.wait_for("home/alarm/state", "triggered", timeout=10)
            sender.join(timeout=60)
            read = lambda: controller.stats.messages >= base + FLOOD + 1  # noqa: E731
            wait_until(read, 120, "the flood to be read")

        def published() -> bool:
            kinds = ("flood", "security")
            return sum(len(watcher.events(k)) for k in kinds) >= sum(
                len(system_events(house, k)) for k in kinds
            )

        wait_until(published, 10, "every flood and security event stored to be published")


def test_a_flood_of_closed_neither_holds_up_the_alarm_nor_fills_the_store(
    house_with: Callable[[str], House],
) -> None:
    house = house_with(PLAIN_FRONT)
    alarm_during_flood(house, b"CLOSED")
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
    house_with: Callable[[str], House],
) -> None:
    house = house_with("{id: front, type: door, zone: entry, signed: true}")  # provisioned key
    alarm_during_flood(house, b"junk, not signed")
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
    with house.store() as store:
        assert store.count_sensor_events(device="front") == 0
        assert store.size_bytes() < 1_000_000
