"""Quick TCP ACKs on the MQTT client's socket (adapters/mqtt/sockets.py, issue 8).

A broker with Nagle on (a stock Mosquitto) holds its next packet to the controller until
the controller's TCP ACK arrives, and Linux delays that ACK hoping to send it with data,
which under ack-after-commit are PUBACKs a turn later: 20 messages per 40 ms. The client
leaves delayed-ACK mode (TCP_QUICKACK) when its socket opens and again after every read
from it, since the kernel drops back into delayed-ACK mode by itself
(docs/performance.md, "On a stock Mosquitto").

And the buffered socket under paho: a read per burst, not three system calls a packet; a
send per poll, not one a packet (issue 13).
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest

from homeguard.adapters.mqtt import MqttClient, Will
from homeguard.adapters.mqtt.sockets import BufferedSocket, nodelay, pending, quick_ack, set_nodelay
from tests.conftest import MosquittoProcess, client_id, wait_until

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


class Counting:
    """A socket whose reads and writes are counted (each is a system call)."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.recvs = 0
        self.sends = 0

    def recv(self, size: int) -> bytes:
        self.recvs += 1
        return self.sock.recv(size)

    def send(self, data: bytes | bytearray) -> int:
        self.sends += 1
        return self.sock.send(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.sock, name)


def paho_reads(sock: BufferedSocket) -> bytes:
    """One MQTT packet read as paho 2 reads it: its first byte, each byte of its
    remaining length, then the rest (which may come short)."""
    packet = sock.recv(1)
    length, shift = 0, 0
    while True:
        byte = sock.recv(1)
        packet += byte
        length += (byte[0] & 127) << shift
        shift += 7
        if not byte[0] & 128:
            break
    while length:
        chunk = sock.recv(length)
        packet += chunk
        length -= len(chunk)
    return packet


def publish_packet(n: int) -> bytes:
    """A QoS 1 PUBLISH, of a length of one byte or two (paho reads each on its own)."""
    body = b"\x00\x0fhome/security/m" + f"{n % 10}".encode() + b"\x00\x01" + b"MOTION" * (n % 40)
    size, length = len(body), b""
    while True:
        size, byte = divmod(size, 128)
        length += bytes([byte | (128 if size else 0)])
        if not size:
            return b"\x32" + length + body


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    """Both ends of a TCP connection on loopback: (ours, the broker's)."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        ours = socket.create_connection(server.getsockname())
        theirs, _ = server.accept()
        try:
            yield ours, theirs
        finally:
            ours.close()
            theirs.close()


def test_a_burst_of_packets_is_read_in_one_system_call_not_three_a_packet(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    ours, theirs = pair
    packets = [publish_packet(n) for n in range(300)]
    theirs.sendall(b"".join(packets))
    raw = Counting(ours)
    wait_until(lambda: len(ours.recv(1 << 20, socket.MSG_PEEK)) == sum(map(len, packets)))
    sock = BufferedSocket(raw)
    assert [paho_reads(sock) for _ in packets] == packets
    # paho alone: a recv for the first byte, one for the length, one for the rest.
    assert raw.recvs == 1
    assert sock.pending() == 0


def test_what_is_read_ahead_is_pending_for_whoever_selects(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    ours, theirs = pair
    theirs.sendall(publish_packet(1) + publish_packet(2))
    both = len(publish_packet(1) + publish_packet(2))
    wait_until(lambda: len(ours.recv(1000, socket.MSG_PEEK)) == both)
    sock = BufferedSocket(ours)
    assert paho_reads(sock) == publish_packet(1)
    assert sock.pending() == len(publish_packet(2))  # select would not see it
    assert paho_reads(sock) == publish_packet(2)
    assert sock.pending() == 0
    ours.setblocking(False)
    with pytest.raises(BlockingIOError):
        sock.recv(1)
    theirs.close()
    ours.setblocking(True)
    assert sock.recv(1) == b""  # the connection closed: what paho takes as lost


@linux_only
def test_every_read_from_the_kernel_takes_the_socket_out_of_delayed_ack_mode(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    assert QUICKACK is not None
    ours, theirs = pair
    sock = BufferedSocket(ours)
    for n in range(3):
        ours.setsockopt(socket.IPPROTO_TCP, QUICKACK, 0)  # as the kernel does by itself
        theirs.sendall(publish_packet(n))
        assert paho_reads(sock) == publish_packet(n)
        assert in_quick_ack_mode(ours)


def test_writes_gathered_go_out_in_one_send_and_in_order(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    ours, theirs = pair
    raw = Counting(ours)
    sock = BufferedSocket(raw)
    packets = [publish_packet(n) for n in range(200)]
    with sock.gathering():
        for packet in packets:
            assert sock.send(packet) == len(packet)  # paho takes it as written
        assert raw.sends == 0
    assert raw.sends == 1
    sock.send(b"after")  # outside a gathering: at once
    assert raw.sends == 2
    expected = b"".join(packets) + b"after"
    received = b""
    while len(received) < len(expected):
        received += theirs.recv(1 << 16)
    assert received == expected


def test_what_a_full_socket_does_not_take_goes_first_once_it_can(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    ours, theirs = pair
    ours.setblocking(False)
    sock = BufferedSocket(ours)
    sent = bytearray()
    with sock.gathering():  # far more than the kernel's buffers take at once
        for n in range(40_000):
            packet = publish_packet(n)
            sock.send(packet)
            sent += packet
    assert not sock.flush()  # some of it waits
    with pytest.raises(BlockingIOError):  # paho keeps the next packet and tries again
        sock.send(b"next")
    received = bytearray()
    theirs.settimeout(5)
    while len(received) < len(sent):
        received += theirs.recv(1 << 20)
        sock.flush()
    assert sock.flush()
    assert sock.send(b"next") == 4
    assert received == sent
    assert theirs.recv(4) == b"next"


def test_what_was_gathered_goes_out_before_the_socket_closes(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    ours, theirs = pair
    sock = BufferedSocket(ours)
    with sock.gathering():  # paho writes a DISCONNECT, then closes the socket at once
        sock.send(publish_packet(1))
        sock.send(b"\xe0\x00")
        sock.close()
    theirs.settimeout(5)
    received = b""
    while chunk := theirs.recv(1 << 16):
        received += chunk
    assert received == publish_packet(1) + b"\xe0\x00"


def test_a_buffered_socket_is_the_socket_for_everything_else(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    ours, _ = pair
    sock = BufferedSocket(ours)
    assert sock.fileno() == ours.fileno()
    set_nodelay(sock)
    assert nodelay(sock) is True
    assert pending(ours) == 0  # a plain socket holds nothing select does not see


@pytest.mark.broker
def test_the_client_reads_and_writes_through_a_buffered_socket(
    mosquitto: MosquittoProcess,
) -> None:
    topic = "home/security/door/front"
    subscriber = MqttClient(
        address=mosquitto.address,
        client_id=client_id("sub"),
        subscriptions=[(topic, 1)],
        threaded=False,
    )
    publisher = MqttClient(address=mosquitto.address, client_id=client_id("pub"))
    subscriber.start(timeout=15)
    publisher.start(timeout=15)
    try:
        sock = subscriber._client.socket()
        assert isinstance(sock, BufferedSocket)
        assert nodelay(sock) is True
        for n in range(500):
            publisher.publish(topic, f"CLOSED {n}", qos=1)
        got = []
        deadline = time.monotonic() + 15
        while len(got) < 500 and time.monotonic() < deadline:
            subscriber.poll(0.1)
            while not subscriber.messages.empty():
                got.append(subscriber.messages.get_nowait().payload)
        assert got == [f"CLOSED {n}".encode() for n in range(500)]
    finally:
        publisher.stop()
        subscriber.stop()


@pytest.mark.broker
def test_a_polled_client_that_stops_cleanly_leaves_no_last_will(
    mosquitto: MosquittoProcess,
) -> None:
    topic = "home/controller/availability"
    with MqttClient(
        address=mosquitto.address, client_id=client_id("watch"), subscriptions=[(topic, 1)]
    ) as watcher:
        polled = MqttClient(
            address=mosquitto.address,
            client_id=client_id("ctl"),
            will=Will(topic, "offline", retain=False),
            threaded=False,
        )
        polled.start(timeout=15)
        for n in range(50):  # written in one send by the next poll, the DISCONNECT after
            polled.publish("home/security/m1", f"{n}", qos=0)
        polled.poll(0)
        polled.stop()
        watcher.publish(topic, "marker", qos=1)
        deadline = time.monotonic() + 15
        while (message := watcher.messages.get(timeout=15)).payload != b"marker":
            assert message.payload != b"offline", "the Last Will came: no clean DISCONNECT"
            assert time.monotonic() < deadline
