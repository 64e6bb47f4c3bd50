"""Issue 9, attacks on the broker homeguard configures (real Mosquitto, the generated
config, provisioned logins): client-id takeover (finding 2), oversized messages and
unbounded queues (8), a certificate with another login's password (15)."""

from __future__ import annotations

import queue
import time
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from homeguard.adapters.broker import LocalBroker
from homeguard.adapters.mqtt import BrokerAddress, Message, MqttClient, TlsFiles
from homeguard.config import parse_config
from homeguard.services.provisioning import (
    SecurityFiles,
    broker_security,
    load_credentials,
    provision,
)
from tests.conftest import MosquittoProcess, collect, free_port, wait_until

pytestmark = pytest.mark.broker

HOUSE = """
mqtt: {{host: 127.0.0.1, port: {port}, base_topic: home}}
sensors:
  - {{id: front, type: door}}
  - {{id: back, type: door}}
actuators:
  - {{id: siren, type: siren}}
"""
CONTROLLER_ID = "homeguard-controller"  # mqtt.client_id's default: public knowledge
MiB = 1024 * 1024


class Site:
    """A provisioned folder and a Mosquitto running homeguard's config for it."""

    def __init__(self, root: Path, broker: MosquittoProcess) -> None:
        self.root = root
        self.broker = broker

    def address(self, account: str, password_of: str | None = None) -> BrokerAddress:
        creds = load_credentials(self.root, account)
        other = load_credentials(self.root, password_of or account)
        assert creds is not None and other is not None
        return BrokerAddress(self.broker.host, self.broker.port, other.username, other.password)

    def client(self, account: str, client_id: str, **options: object) -> MqttClient:
        client = MqttClient(address=self.address(account), client_id=client_id, **options)
        client.start(timeout=5)
        return client


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    root = tmp_path / "security"
    port = free_port()
    provision(parse_config(HOUSE.format(port=port)), root, time.time())
    files = SecurityFiles(root)
    broker = MosquittoProcess(
        tmp_path / "mosquitto", port, password_file=files.password_file, acl_file=files.acl_file
    )
    broker.start()
    try:
        yield Site(root, broker)
    finally:
        broker.stop()


def drain(messages: queue.Queue[Message], quiet: float = 1.0) -> list[Message]:
    """Everything that arrives until nothing has for ``quiet`` seconds."""
    got = []
    while True:
        try:
            got.append(messages.get(timeout=quiet))
        except queue.Empty:
            return got


# ------------------------------------------------------------------ 2: takeover


def test_a_sensor_login_cannot_take_over_the_controllers_session(site: Site) -> None:
    subscriptions = [("home/security/#", 1)]
    controller = site.client("controller", CONTROLLER_ID, subscriptions=subscriptions)
    controller.stop()  # away (a restart): its persistent session queues for it
    front = site.client("front", "front-sensor", persistent=False)
    for n in range(20):
        front.publish("home/security/door/front", f"OPEN {n}")
    assert front.wait_published(5)
    front.stop()
    # A stolen sensor login asks for the controller's client id, with a clean session
    # (which would discard the controller's queue), and stays a moment.
    thief = site.client("back", CONTROLLER_ID, persistent=False)
    wait_until(lambda: thief.connected, what="the thief to connect")
    thief.stop()
    controller = site.client("controller", CONTROLLER_ID, subscriptions=subscriptions)
    try:
        got = collect(controller.messages, 20, timeout=10)
        assert [m.payload.decode() for m in got] == [f"OPEN {n}" for n in range(20)]
        assert "as back (" in site.broker.log  # the broker gave it its own login as its id
        # And while the controller is online, the thief cannot kick it off.
        thief = site.client("back", CONTROLLER_ID, persistent=False)
        front = site.client("front", "front-sensor", persistent=False)
        front.publish("home/security/door/front", "CLOSED")
        assert collect(controller.messages, 1)[0].payload == b"CLOSED"
        assert controller.connection_count == 1 and controller.connected
        thief.stop()
        front.stop()
    finally:
        controller.stop()


# ------------------------------------------------------------------ 8: sizes and queues


def raw_publisher(address: BrokerAddress, client_id: str) -> paho.Client:
    """A bare paho client, as an attacker would use: no homeguard limits on its side."""
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id)
    client.username_pw_set(address.username, address.password)
    client.connect(address.host, address.port)
    client.loop_start()
    wait_until(client.is_connected, what="the attacker to connect")
    return client


def test_an_oversized_message_is_refused_before_the_broker_holds_it(site: Site) -> None:
    witness = site.client("controller", "witness", subscriptions=[("home/security/#", 1)])
    attacker = raw_publisher(site.address("front"), "front")
    try:
        attacker.publish("home/security/door/front", b"x" * (2 * MiB), qos=0)
        # The broker reads the packet's length and disconnects the attacker at once
        # (before the control message below, whose login would also take its session).
        wait_until(lambda: not attacker.is_connected(), what="the attacker to be disconnected")
        wait_until(lambda: "oversize packet" in site.broker.log, what="the oversize log line")
        front = site.client("front", "front")
        front.publish("home/security/door/front", "OPEN")  # the control message
        assert front.wait_published(5)
        front.stop()
        sizes = [len(m.payload) for m in drain(witness.messages, quiet=1.5)]
        assert sizes == [4], f"{sizes} bytes got through"
        # Our own client refuses to send what the broker would refuse (and loop on it).
        with pytest.raises(ValueError, match="limit"):
            witness.publish("home/alarm/event", b"x" * (256 * 1024 + 1))
    finally:
        attacker.loop_stop()
        attacker.disconnect()
        witness.stop()


def test_a_flood_while_the_controller_is_away_stays_bounded(site: Site) -> None:
    """A stolen sensor login floods its own topic while the controller is down: the
    broker keeps at most 64 MiB for it (it used to keep all, 100 MB and more)."""
    subscriptions = [("home/security/#", 1)]
    controller = site.client("controller", CONTROLLER_ID, subscriptions=subscriptions)
    controller.stop()
    attacker = raw_publisher(site.address("front"), "front")
    chunk = b"x" * (250 * 1024)
    dropping = "Outgoing messages are being dropped for client controller"
    sent = 0
    try:
        while sent < 400 and dropping not in site.broker.log:  # up to 100 MB
            infos = [attacker.publish("home/security/door/front", chunk, qos=1) for _ in range(20)]
            for info in infos:
                info.wait_for_publish(10)
            sent += 20
        wait_until(lambda: dropping in site.broker.log, timeout=10, what="the queue limit")
    finally:
        attacker.loop_stop()
        attacker.disconnect()
    controller = site.client("controller", CONTROLLER_ID, subscriptions=subscriptions)
    try:
        delivered = drain(controller.messages)
        total = sum(len(m.payload) for m in delivered)
        assert 0 < total <= 64 * MiB + 20 * len(chunk)  # the queue plus what was in flight
        # The house goes on: the next legitimate message arrives.
        front = site.client("front", "front")
        front.publish("home/security/door/front", "OPEN")
        assert front.wait_published(5)
        front.stop()
        assert collect(controller.messages, 1)[0].payload == b"OPEN"
    finally:
        controller.stop()


# ------------------------------------------------------------------ 15: certificates


@pytest.fixture
def tls_site(tmp_path: Path) -> Iterator[tuple[LocalBroker, Path]]:
    root = tmp_path / "security"
    port = free_port()
    provision(parse_config(HOUSE.format(port=port)), root, time.time())
    broker = LocalBroker.start(
        tmp_path / "broker", port, prefer="mosquitto", security=broker_security(root, tls=True)
    )
    try:
        yield broker, root
    finally:
        broker.stop()


def tls_client(
    broker: LocalBroker, root: Path, cert_of: str, login_of: str, **options: object
) -> MqttClient:
    cert, login = load_credentials(root, cert_of), load_credentials(root, login_of)
    assert cert is not None and login is not None
    tls = TlsFiles(cert.ca_file, cert.cert_file, cert.key_file)
    address = BrokerAddress("localhost", broker.port, login.username, login.password, tls)
    client = MqttClient(address=address, client_id=f"{cert_of}-as-{login_of}", **options)
    client.start(timeout=5)
    return client


def test_a_certificate_cannot_log_in_with_another_logins_password(
    tls_site: tuple[LocalBroker, Path],
) -> None:
    broker, root = tls_site
    witness = tls_client(broker, root, "cli", "cli", subscriptions=[("home/alarm/state", 1)])
    # front's certificate (stolen with its key) and the controller's password (read off
    # a plain-TCP listener, say): it tries to speak for the controller.
    thief = tls_client(broker, root, "front", "controller", persistent=False)
    controller = tls_client(broker, root, "controller", "controller", persistent=False)
    try:
        thief.publish("home/alarm/state", "disarmed")
        assert thief.wait_published(5)
        controller.publish("home/alarm/state", "armed_away")  # the control message
        assert controller.wait_published(5)
        [message] = collect(witness.messages, 1)
        assert message.payload == b"armed_away", "front's certificate spoke as the controller"
        log = (broker.data_dir / "mosquitto.log").read_text()
        assert "u'front'" in log  # the certificate's name is the login
    finally:
        for client in (thief, controller, witness):
            client.stop()
