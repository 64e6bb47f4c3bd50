"""The MQTT client adapter against a real Mosquitto started by each test."""

from __future__ import annotations

import os
import select
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from homeguard.adapters.mqtt import BrokerAddress, Message, MqttClient, TlsFiles, Will
from homeguard.errors import BrokerError, BrokerUnavailable
from tests.conftest import MosquittoProcess, client_id, collect, free_port, wait_until

pytestmark = pytest.mark.broker

# A client in its own process, so that SIGKILL can make it vanish without a DISCONNECT.
_CHILD = r"""
import sys, time
from homeguard.adapters.mqtt import BrokerAddress, MqttClient, Will
host, port, cid, topic, mode = sys.argv[1:6]
client = MqttClient(
    address=BrokerAddress(host, int(port)),
    client_id=cid,
    manual_ack=True,
    will=Will(topic, b"offline", qos=1, retain=False) if mode == "will" else None,
    subscriptions=[(topic, 1)] if mode == "receive" else (),
)
client.start(timeout=15)
print("ready", flush=True)
if mode == "receive":
    message = client.messages.get(timeout=30)
    print("got", message.payload.decode(), flush=True)  # and never acknowledged
time.sleep(120)
"""


class Child:
    def __init__(self, broker: MosquittoProcess, cid: str, topic: str, mode: str) -> None:
        env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src")}
        self.process = subprocess.Popen(
            [sys.executable, "-c", _CHILD, broker.host, str(broker.port), cid, topic, mode],
            stdout=subprocess.PIPE,
            env=env,
        )

    def read_line(self, timeout: float = 20.0) -> str:
        assert self.process.stdout is not None
        ready, _, _ = select.select([self.process.stdout], [], [], timeout)
        assert ready, f"child printed nothing in {timeout:g} s"
        return self.process.stdout.readline().decode().strip()

    def kill(self) -> None:
        self.process.kill()  # SIGKILL: no DISCONNECT, the socket just dies
        self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()


@pytest.fixture
def clients() -> Iterator[list[MqttClient]]:
    """Started clients registered here are stopped after the test."""
    started: list[MqttClient] = []
    yield started
    for client in started:
        client.stop(timeout=1)


def start(
    clients: list[MqttClient],
    broker: MosquittoProcess,
    *,
    cid: str | None = None,
    subscriptions: list[tuple[str, int]] | None = None,
    **options: object,
) -> MqttClient:
    client = MqttClient(
        address=broker.address,
        client_id=cid or client_id(),
        subscriptions=subscriptions or (),
        min_reconnect_delay=0.2,
        **options,  # type: ignore[arg-type]
    )
    clients.append(client)
    client.start(timeout=15)
    return client


def test_round_trip(mosquitto: MosquittoProcess, clients: list[MqttClient]) -> None:
    subscriber = start(clients, mosquitto, subscriptions=[("home/security/#", 1)])
    publisher = start(clients, mosquitto)

    publisher.publish("home/security/door/front", "OPEN", qos=1)

    [message] = collect(subscriber.messages, 1)
    assert (message.topic, message.payload, message.qos) == ("home/security/door/front", b"OPEN", 1)
    assert not message.retain
    assert not message.dup
    assert publisher.wait_published(5)
    assert publisher.unpublished == 0


def test_publish_before_start_and_stop_right_after_lose_nothing(
    mosquitto: MosquittoProcess, clients: list[MqttClient]
) -> None:
    subscriber = start(clients, mosquitto, subscriptions=[("home/alarm/event", 1)])
    publisher = MqttClient(address=mosquitto.address, client_id=client_id())
    publisher.publish("home/alarm/event", "early")  # kept until connected

    publisher.start(timeout=15)
    for n in range(200):
        publisher.publish("home/alarm/event", str(n), qos=2)
    publisher.stop()  # waits for the broker's acknowledgements first

    received = [m.payload for m in collect(subscriber.messages, 201)]
    assert received == [b"early", *(str(n).encode() for n in range(200))]


def test_retained_message_reaches_a_later_subscriber(
    mosquitto: MosquittoProcess, clients: list[MqttClient]
) -> None:
    publisher = start(clients, mosquitto)
    publisher.publish("home/alarm/state", "armed_away", retain=True)
    assert publisher.wait_published(5)

    subscriber = start(clients, mosquitto, subscriptions=[("home/alarm/state", 1)])

    [message] = collect(subscriber.messages, 1)
    assert (message.payload, message.retain) == (b"armed_away", True)


def test_subscriptions_come_back_after_broker_restart(
    mosquitto: MosquittoProcess, clients: list[MqttClient]
) -> None:
    changes: list[bool] = []
    # A clean session: the broker forgets the subscription, so only our resubscribe helps.
    subscriber = start(
        clients,
        mosquitto,
        subscriptions=[("home/alarm/set", 1)],
        persistent=False,
        on_connection_change=changes.append,
    )

    assert subscriber.connection_count == 1
    mosquitto.restart()
    wait_until(lambda: changes == [True, False, True], what="disconnect then reconnect")
    assert subscriber.connection_count == 2

    publisher = start(clients, mosquitto)
    # The SUBACK may still be on its way: publish until one arrives.
    deadline = time.monotonic() + 15
    while subscriber.messages.empty():
        assert time.monotonic() < deadline, "no message after the broker restart"
        publisher.publish("home/alarm/set", "ARM_AWAY")
        time.sleep(0.1)
    assert subscriber.messages.get().payload == b"ARM_AWAY"


def test_persistent_session_gets_more_than_mosquittos_default_queue(
    mosquitto: MosquittoProcess, clients: list[MqttClient]
) -> None:
    controller_id = client_id("controller")
    away = MqttClient(
        address=mosquitto.address,
        client_id=controller_id,
        subscriptions=[("home/security/#", 1)],
    )
    away.start(timeout=15)
    away.stop()  # a clean disconnect keeps a persistent session

    publisher = start(clients, mosquitto)
    for n in range(1500):  # Mosquitto's default max_queued_messages is 1000
        publisher.publish("home/security/motion/hall", str(n), qos=1)
    assert publisher.wait_published(30)

    back = start(clients, mosquitto, cid=controller_id, subscriptions=[("home/security/#", 1)])

    received = collect(back.messages, 1500, timeout=30)
    assert [m.payload for m in received] == [str(n).encode() for n in range(1500)]


def test_queued_messages_survive_a_broker_crash_after_autosave(
    mosquitto: MosquittoProcess, clients: list[MqttClient]
) -> None:
    controller_id = client_id("controller")
    away = MqttClient(
        address=mosquitto.address,
        client_id=controller_id,
        subscriptions=[("home/security/#", 1)],
    )
    away.start(timeout=15)
    away.stop()
    publisher = MqttClient(address=mosquitto.address, client_id=client_id())
    publisher.start(timeout=15)
    for n in range(10):
        publisher.publish("home/security/door/back", str(n))
    assert publisher.wait_published(10)
    publisher.stop()
    queued_at = time.time()
    store = mosquitto.data_dir / "mosquitto.db"

    # autosave_interval 1: the store is on disk within a couple of seconds, not 30 minutes.
    wait_until(
        lambda: store.exists() and store.stat().st_mtime > queued_at + 0.1,
        timeout=10,
        what="mosquitto's autosave",
    )
    mosquitto.kill()
    mosquitto.start()

    back = start(clients, mosquitto, cid=controller_id, subscriptions=[("home/security/#", 1)])
    received = collect(back.messages, 10)
    assert [m.payload for m in received] == [str(n).encode() for n in range(10)]


def test_unacknowledged_message_is_redelivered_after_a_crash(
    mosquitto: MosquittoProcess, clients: list[MqttClient]
) -> None:
    controller_id = client_id("controller")
    topic = "home/security/window/kitchen"
    child = Child(mosquitto, controller_id, topic, "receive")
    try:
        assert child.read_line() == "ready"
        publisher = start(clients, mosquitto)
        publisher.publish(topic, "OPEN")
        assert child.read_line() == "got OPEN"
    finally:
        child.kill()  # it never acknowledged the message

    restarted = start(
        clients, mosquitto, cid=controller_id, manual_ack=True, subscriptions=[(topic, 1)]
    )
    [again] = collect(restarted.messages, 1)
    assert (again.payload, again.dup) == (b"OPEN", True)
    restarted.ack(again)
    restarted.stop()

    # Acknowledged now: the next session starts with the next message, not a redelivery.
    final = start(
        clients, mosquitto, cid=controller_id, manual_ack=True, subscriptions=[(topic, 1)]
    )
    publisher.publish(topic, "CLOSED")
    [first] = collect(final.messages, 1)
    assert first.payload == b"CLOSED"


def test_ack_after_reconnect_is_skipped_and_redelivery_is_acked(
    mosquitto: MosquittoProcess, clients: list[MqttClient]
) -> None:
    topic = "home/security/door/garage"
    controller = start(clients, mosquitto, manual_ack=True, subscriptions=[(topic, 1)])
    publisher = start(clients, mosquitto)
    publisher.publish(topic, "OPEN")
    [first] = collect(controller.messages, 1)

    mosquitto.restart()  # the connection drops before we acknowledge
    [again] = collect(controller.messages, 1)
    controller.ack(first)  # from the old connection: skipped, not sent on the new one
    controller.ack(again)

    assert (again.payload, again.dup) == (b"OPEN", True)
    publisher.publish(topic, "CLOSED")
    assert collect(controller.messages, 1)[0].payload == b"CLOSED"


def test_ack_without_manual_ack_is_harmless(
    mosquitto: MosquittoProcess, clients: list[MqttClient]
) -> None:
    client = start(clients, mosquitto, subscriptions=[("t/#", 1)])
    client.publish("t/1", "x")
    [message] = collect(client.messages, 1)
    client.ack(message)  # automatic acks already happened; nothing to do


def test_publish_while_broker_is_down_is_delivered_when_it_returns(
    mosquitto: MosquittoProcess, clients: list[MqttClient]
) -> None:
    subscriber = start(clients, mosquitto, subscriptions=[("home/control/#", 1)])
    publisher = start(clients, mosquitto)

    mosquitto.stop()
    wait_until(lambda: not publisher.connected, what="publisher to notice the outage")
    # 25 of them QoS 2: more than Mosquitto's receive quota of 20, which paho alone
    # would exceed on reconnect (and be disconnected for, again and again).
    for n in range(50):
        publisher.publish("home/control/alarm", f"ON-{n}", qos=n % 2 + 1)
    publisher.publish("home/control/light", "ON", qos=0)  # QoS 0 cannot wait: counted
    assert publisher.dropped == 1
    assert publisher.unpublished == 50
    assert not publisher.wait_published(0.1)
    mosquitto.start()

    received = [m.payload.decode() for m in collect(subscriber.messages, 50, timeout=30)]
    assert publisher.wait_published(10)
    qos1 = [p for p in received if int(p[3:]) % 2 == 0]
    qos2 = [p for p in received if int(p[3:]) % 2 == 1]
    assert qos1 == [f"ON-{n}" for n in range(0, 50, 2)]  # each in order, exactly once
    assert qos2 == [f"ON-{n}" for n in range(1, 50, 2)]
    publisher.publish("home/control/alarm", "end")
    assert collect(subscriber.messages, 1)[0].payload == b"end"  # no duplicate came first


def test_burst_interrupted_by_broker_restart_arrives_exactly_once(
    mosquitto: MosquittoProcess, clients: list[MqttClient]
) -> None:
    subscriber = start(clients, mosquitto, subscriptions=[("home/alarm/event", 2)])
    publisher = start(clients, mosquitto)

    for n in range(300):
        publisher.publish("home/alarm/event", str(n), qos=2)
    mosquitto.restart()  # while part of the burst is in flight and part still queued

    received = [m.payload for m in collect(subscriber.messages, 300, timeout=30)]
    assert publisher.wait_published(10)
    assert received == [str(n).encode() for n in range(300)]


def test_last_will_on_abrupt_death_not_on_clean_stop(
    mosquitto: MosquittoProcess, clients: list[MqttClient]
) -> None:
    topic = "home/devices/siren/availability"
    watcher = start(clients, mosquitto, subscriptions=[(topic, 1)])

    child = Child(mosquitto, client_id("siren"), topic, "will")
    assert child.read_line() == "ready"
    child.kill()
    [will] = collect(watcher.messages, 1)
    assert will.payload == b"offline"

    polite = MqttClient(
        address=mosquitto.address,
        client_id=client_id("siren"),
        will=Will(topic, "offline", retain=False),
    )
    polite.start(timeout=15)
    polite.stop()
    watcher.publish(topic, "marker")
    [after_stop] = collect(watcher.messages, 1)
    assert after_stop.payload == b"marker"  # no Last Will came before it


def test_unavailable_broker_fails_fast_without_leaking_paho() -> None:
    threads_before = set(threading.enumerate())
    client = MqttClient(address=BrokerAddress("127.0.0.1", free_port()), client_id=client_id())

    started = time.monotonic()
    with pytest.raises(BrokerUnavailable, match="no MQTT broker answered") as caught:
        client.start(timeout=1.0)

    assert time.monotonic() - started < 6
    assert type(caught.value) is BrokerUnavailable
    assert caught.value.__cause__ is None
    wait_until(lambda: set(threading.enumerate()) <= threads_before, 5, "paho's thread to end")


def test_refused_credentials_raise_broker_error(tmp_path: Path) -> None:
    tool = shutil.which("mosquitto_passwd") or "/usr/bin/mosquitto_passwd"
    password_file = tmp_path / "passwd"
    subprocess.run([tool, "-c", "-b", str(password_file), "panel", "s3cret"], check=True)
    broker = MosquittoProcess(tmp_path / "mosquitto", password_file=password_file).start()
    try:
        wrong = BrokerAddress(broker.host, broker.port, username="panel", password="nope")
        client = MqttClient(address=wrong, client_id=client_id())
        with pytest.raises(BrokerError, match="refused") as caught:
            client.start(timeout=10)
        assert not isinstance(caught.value, BrokerUnavailable)

        right = BrokerAddress(broker.host, broker.port, username="panel", password="s3cret")
        with MqttClient(address=right, client_id=client_id()) as client:
            assert client.connected
    finally:
        broker.stop()


def test_unreadable_tls_files_are_a_broker_error(tmp_path: Path) -> None:
    address = BrokerAddress("127.0.0.1", free_port(), tls=TlsFiles(tmp_path / "missing-ca.pem"))
    client = MqttClient(address=address, client_id=client_id())
    with pytest.raises(BrokerError, match="cannot load TLS files"):
        client.start(timeout=1)


def test_tcp_nodelay_is_set_on_every_connection(
    mosquitto: MosquittoProcess, clients: list[MqttClient]
) -> None:
    # paho 2.2 leaves Nagle on: we set TCP_NODELAY on each socket it opens.
    client = start(clients, mosquitto)
    assert client.tcp_nodelay is True

    mosquitto.restart()
    wait_until(lambda: client.connection_count == 2, what="the reconnect")
    assert client.tcp_nodelay is True


def test_lifecycle_errors(mosquitto: MosquittoProcess) -> None:
    with MqttClient(address=mosquitto.address, client_id=client_id()) as client:
        assert client.connected
        with pytest.raises(BrokerError, match="already started"):
            client.start()
    assert not client.connected
    with pytest.raises(BrokerError, match="stopped"):
        client.publish("home/alarm/state", "disarmed")


@pytest.mark.parametrize(
    ("topic", "qos", "payload"),
    [("", 1, b""), ("home/+/x", 1, b""), ("home/#", 1, b""), ("home/x", 3, b"")],
)
def test_invalid_publish_is_a_value_error(topic: str, qos: int, payload: bytes) -> None:
    client = MqttClient(address=BrokerAddress("127.0.0.1", 1), client_id="c")
    with pytest.raises(ValueError, match=r"invalid MQTT topic|QoS"):
        client.publish(topic, payload, qos=qos)


def test_message_is_a_frozen_value() -> None:
    message = Message("t", b"p", 1, False, 7, False)
    assert message == Message("t", b"p", 1, False, 7, False)
    with pytest.raises(AttributeError):
        message.topic = "other"  # type: ignore[misc]
