"""Quick TCP ACKs on the MQTT client's socket (adapters/mqtt/sockets.py, issue 8).

A broker with Nagle on (a stock Mosquitto) holds its next packet to the controller until
the controller's TCP ACK arrives, and Linux delays that ACK hoping to send it with data,
which under ack-after-commit are PUBACKs a turn later: 20 messages per 40 ms. The client
leaves delayed-ACK mode (TCP_QUICKACK) when its socket opens and again after every packet
it receives, since the kernel drops back into delayed-ACK mode by itself
(docs/performance.md, "On a stock Mosquitto").
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest

from homeguard.adapters.mqtt import MqttClient
from homeguard.adapters.mqtt import client as client_module
from homeguard.adapters.mqtt.sockets import quick_ack
from tests.conftest import MosquittoProcess, client_id, collect, wait_until

QUICKACK: int | None = getattr(socket, "TCP_QUICKACK", None)
linux_only = pytest.mark.skipif(QUICKACK is None, reason="TCP_QUICKACK exists on Linux only")


def in_quick_ack_mode(sock: socket.socket) -> bool:
    assert QUICKACK is not None
    return bool(sock.getsockopt(socket.IPPROTO_TCP, QUICKACK))


@pytest.fixture
def connection() -> Iterator[socket.socket]:
    """The client end of a TCP connection on loopback."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        client = socket.create_connection(server.getsockname())
        peer, _ = server.accept()
        try:
            yield client
        finally:
            client.close()
            peer.close()


@linux_only
def test_quick_ack_takes_the_socket_out_of_delayed_ack_mode(connection: socket.socket) -> None:
    assert QUICKACK is not None
    connection.setsockopt(socket.IPPROTO_TCP, QUICKACK, 0)  # as the kernel does by itself
    assert not in_quick_ack_mode(connection)
    quick_ack(connection)
    assert in_quick_ack_mode(connection)


def test_quick_ack_ignores_what_is_no_open_socket(connection: socket.socket) -> None:
    quick_ack(None)  # paho's socket() while disconnected
    connection.close()
    quick_ack(connection)  # closed: nothing to do, nothing raised


@pytest.mark.broker
@linux_only
def test_the_client_leaves_delayed_ack_mode_after_every_message_it_receives(
    mosquitto: MosquittoProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    topic = "home/security/door/front"
    subscriber = MqttClient(
        address=mosquitto.address, client_id=client_id("sub"), subscriptions=[(topic, 1)]
    )
    publisher = MqttClient(address=mosquitto.address, client_id=client_id("pub"))
    subscriber.start(timeout=15)
    publisher.start(timeout=15)
    try:
        sockets: list[Any] = []

        def recorded(sock: Any) -> None:
            if sock is subscriber._client.socket():
                sockets.append(sock)
            quick_ack(sock)

        monkeypatch.setattr(client_module, "quick_ack", recorded)
        for n in range(5):
            publisher.publish(topic, f"CLOSED {n}", qos=1)
        collect(subscriber.messages, 5)
        # Re-armed after each message received (just after it is queued for the reader).
        wait_until(lambda: len(sockets) >= 5, what="a quick ACK after every message")
        # The subscriber's own TCP socket, each time (what the first test shows it does).
        assert all(isinstance(sock, socket.socket) for sock in sockets)
    finally:
        publisher.stop()
        subscriber.stop()
