"""Load clients and brokers for ``benchmarks/run.py``, written for speed.

* :func:`send` publishes prebuilt MQTT 3.1.1 PUBLISH packets from a raw socket: no MQTT
  library, no in-flight window of its own (the broker acknowledges QoS 1 as it reads, and
  the PUBACKs are read off the socket while sending), paced or as fast as the socket
  takes them;
* :class:`RawClient` is a raw-socket MQTT 3.1.1 client for the trips of (c): it
  publishes a prebuilt packet and reads the siren's command in the measuring thread,
  with no library thread between the socket and the clock;
* :class:`BareSubscriber` is ``mosquitto_sub`` (C) counting what it receives: the
  broker's own pub→sub limit, the yardstick for the controller; with ``paho=True``, a
  Python process doing nothing but receive with paho-mqtt (the library the controller
  reads with, its QoS 1 acks included): the ceiling of any paho-based reader;
* :func:`stock_broker` is Mosquitto with its defaults (``listener`` and
  ``allow_anonymous`` only: Nagle on, 20 in flight, 1,000 queued), what users already
  run; :func:`generated_broker` is the config ``homeguard`` writes.
"""

from __future__ import annotations

import contextlib
import json
import select
import shutil
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from homeguard.adapters.broker import LocalBroker, broker_answers, find_mosquitto
from homeguard.adapters.mqtt import BrokerAddress
from homeguard.adapters.store import EventStore
from homeguard.core.records import Batch, SensorRecord

STOCK = "listener {port} 127.0.0.1\nallow_anonymous true\n"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def stock_broker(workdir: Path) -> Iterator[BrokerAddress]:
    binary = find_mosquitto()
    if binary is None:
        raise SystemExit("the benchmark needs the mosquitto binary")
    port = free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    config = workdir / "stock.conf"
    config.write_text(STOCK.format(port=port))
    process = subprocess.Popen([binary, "-c", str(config)], stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while not broker_answers("127.0.0.1", port):
            if time.monotonic() > deadline:
                raise SystemExit("the stock mosquitto did not start")
            time.sleep(0.05)
        yield BrokerAddress("127.0.0.1", port)
    finally:
        process.terminate()
        process.wait()


@contextmanager
def generated_broker(workdir: Path, store_bytes: int = 0) -> Iterator[BrokerAddress]:
    """The broker ``homeguard up`` starts, for a site that keeps about ``store_bytes`` in
    its store (``Site.broker_store_bytes``)."""
    broker = LocalBroker.start(workdir, free_port(), prefer="mosquitto", store_bytes=store_bytes)
    try:
        yield BrokerAddress(broker.host, broker.port)
    finally:
        broker.stop()


def _length(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n % 128, n // 128
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def packet(topic: str, payload: bytes, mid: int) -> bytes:
    """A QoS 1 PUBLISH packet."""
    name = struct.pack("!H", len(topic.encode())) + topic.encode()
    body = name + struct.pack("!H", mid % 65535 + 1) + payload
    return b"\x32" + _length(len(body)) + body


def sensor_packets(base: str, sensors: Sequence[str], count: int, first: int = 0) -> list[bytes]:
    """``count`` motion reports (JSON with each sensor's own ``seq``, so every one is a
    distinct event and none is a gap), round robin over ``sensors``."""
    out = []
    for n in range(first, first + count):
        sensor = sensors[n % len(sensors)]
        seq = n // len(sensors)
        body = {"state": "MOTION" if seq % 2 else "NO_MOTION", "seq": seq, "ts": 1.7e9 + n}
        out.append(packet(f"{base}/security/motion/{sensor}", json.dumps(body).encode(), n))
    return out


def week_of_reports(db: Path, sensors: Sequence[str], count: int, now: float) -> None:
    """``count`` sensor events in ``db``, spread evenly over the 8 days before ``now`` (the
    history sensor health reads), round robin over ``sensors``, each with what a
    battery device reports besides its state: battery, link quality, its own time."""
    span = 8 * 86400.0
    with EventStore(db, synchronous="normal") as store:
        for first in range(0, count, 10_000):
            batch = []
            for n in range(first, min(count, first + 10_000)):
                ts = now - span + span * n / count
                meta = {"battery": 95 - 10 * n // count, "linkquality": 120, "ts": ts - 0.05}
                sensor, state = sensors[n % len(sensors)], ("MOTION", "NO_MOTION")[n % 2]
                batch.append(SensorRecord(ts, "motion", sensor, state, meta))
            store.write(Batch(sensor_events=batch))


def send(
    address: BrokerAddress,
    packets: Sequence[bytes],
    rate: float | None = None,
    stop: threading.Event | None = None,
) -> float:
    """Publish ``packets`` (at ``rate`` a second in slices of 10 ms, or as fast as the
    socket takes them) until done or ``stop``; the seconds it took."""
    client = f"load-{time.time_ns()}".encode()
    body = b"\x00\x04MQTT\x04\x02\x00\x3c" + struct.pack("!H", len(client)) + client
    started = time.perf_counter()
    with socket.create_connection((address.host, address.port)) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.sendall(b"\x10" + _length(len(body)) + body)
        step = len(packets) if rate is None else max(1, int(rate / 100))
        for sent in range(0, len(packets), step):
            if stop is not None and stop.is_set():
                break
            chunk = b"".join(packets[sent : sent + step])
            view = memoryview(chunk)
            while view:  # write, and read the broker's PUBACKs meanwhile
                readable, writable, _ = select.select([sock], [sock], [], 1.0)
                if readable:
                    sock.recv(1 << 20)
                if writable:
                    view = view[sock.send(view[: 1 << 18]) :]
            if rate is not None:
                time.sleep(max(0.0, started + (sent + step) / rate - time.perf_counter()))
        sock.sendall(b"\xe0\x00")
        sock.shutdown(socket.SHUT_WR)
        while sock.recv(1 << 20):
            pass
    return time.perf_counter() - started


class RawClient:
    """A raw-socket MQTT 3.1.1 client (clean session, TCP_NODELAY): `publish` writes a
    QoS 1 PUBLISH, `expect` reads until a PUBLISH with a given topic and payload comes,
    acknowledging what it receives at its QoS (PUBACK, or PUBREC then PUBCOMP)."""

    def __init__(self, address: BrokerAddress, client_id: str) -> None:
        self._sock = socket.create_connection((address.host, address.port))
        self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        name = client_id.encode()
        # Keep-alive off: it never pings, and a siren may wait longer than 1.5 times the
        # keep-alive for its first trip (a controller with 100,000 sensors starting, its
        # dashboard measured), when the broker would drop it.
        body = b"\x00\x04MQTT\x04\x02\x00\x00" + struct.pack("!H", len(name)) + name
        self._sock.sendall(b"\x10" + _length(len(body)) + body)
        self._buffer = b""
        if self._packet()[0] >> 4 != 2:
            raise SystemExit("the broker refused the benchmark's raw client")
        self._mids = 0
        self._acked: set[int] = set()  # PUBACKs of ours read

    def subscribe(self, topic: str, qos: int) -> None:
        name = topic.encode()
        body = struct.pack("!HH", 1, len(name)) + name + bytes([qos])
        self._sock.sendall(b"\x82" + _length(len(body)) + body)
        while self._packet()[0] >> 4 != 9:  # SUBACK
            pass

    def publish(self, topic: str, payload: bytes, *, acked: bool = False) -> None:
        """A QoS 1 PUBLISH; ``acked``: return once the broker acknowledged it (so that
        it reaches subscribers ahead of anything published later, by any client)."""
        self._mids += 1
        mid = self._mids % 65535 + 1
        self._acked.discard(mid)  # an earlier message's with the same id
        self._sock.sendall(packet(topic, payload, self._mids))
        while acked and mid not in self._acked:
            self._handle(self._packet())

    def drain(self) -> None:
        """Read (and acknowledge) whatever has arrived, without waiting."""
        while select.select([self._sock], [], [], 0)[0]:
            self._read()
            while self._complete():
                self._handle(self._take())

    def expect(self, topic: str, payload: bytes, timeout: float) -> None:
        """Until a PUBLISH of ``payload`` on ``topic`` arrives; TimeoutError after
        ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            while not self._complete():
                if not select.select([self._sock], [], [], deadline - time.monotonic())[0]:
                    raise TimeoutError(f"no {topic} {payload!r} within {timeout} s")
                self._read()
            if self._handle(self._take()) == (topic, payload):
                return

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._sock.sendall(b"\xe0\x00")
        self._sock.close()

    def _handle(self, raw: tuple[int, bytes]) -> tuple[str, bytes] | None:
        header, body = raw
        kind, qos = header >> 4, (header >> 1) & 3
        if kind == 4:  # PUBACK of ours
            self._acked.add(struct.unpack("!H", body[:2])[0])
            return None
        if kind == 6:  # PUBREL: complete the broker's QoS 2 delivery
            self._sock.sendall(b"\x70\x02" + body[:2])
            return None
        if kind != 3:
            return None
        size = struct.unpack("!H", body[:2])[0]
        topic, rest = body[2 : 2 + size].decode(), body[2 + size :]
        if qos:
            self._sock.sendall((b"\x40\x02" if qos == 1 else b"\x50\x02") + rest[:2])
            rest = rest[2:]
        return topic, rest

    def _packet(self) -> tuple[int, bytes]:
        while not self._complete():
            self._read()
        return self._take()

    def _read(self) -> None:
        data = self._sock.recv(1 << 16)
        if not data:
            raise ConnectionError("the broker closed the benchmark's raw client")
        self._buffer += data

    def _complete(self) -> bool:
        return self._split() is not None

    def _split(self) -> tuple[int, int] | None:
        """(start of the body, its length) of the first packet, if all of it is here."""
        size, shift, at = 0, 0, 1
        while True:
            if at >= len(self._buffer):
                return None
            byte = self._buffer[at]
            size |= (byte & 0x7F) << shift
            at, shift = at + 1, shift + 7
            if not byte & 0x80:
                break
        return (at, size) if len(self._buffer) >= at + size else None

    def _take(self) -> tuple[int, bytes]:
        split = self._split()
        assert split is not None
        at, size = split
        header, body = self._buffer[0], self._buffer[at : at + size]
        self._buffer = self._buffer[at + size :]
        return header, body


# A subscriber in Python with paho and nothing else, printing a line per message.
PAHO_SUBSCRIBER = """
import sys, paho.mqtt.client as mqtt
host, port, topic = sys.argv[1], int(sys.argv[2]), sys.argv[3]
out = sys.stdout
client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, clean_session=True)
client.on_connect = lambda c, u, f, r, p: c.subscribe(topic, 1)
client.on_message = lambda c, u, m: out.write(".\\n") or out.flush()
client.connect(host, port)
client.loop_forever()
"""


class BareSubscriber:
    """``mosquitto_sub`` (or, ``paho``, a paho-mqtt script) at QoS 1 on ``topic``,
    counting messages and when the last came."""

    def __init__(self, address: BrokerAddress, topic: str, *, paho: bool = False) -> None:
        binary = shutil.which("mosquitto_sub")
        if binary is None:
            raise SystemExit("the benchmark needs mosquitto_sub (mosquitto-clients)")
        self.count = 0
        self.last = 0.0
        where = [address.host, str(address.port)]
        command = [binary, "-h", where[0], "-p", where[1], "-q", "1", "-t", topic]
        if paho:
            command = [sys.executable, "-c", PAHO_SUBSCRIBER, *where, topic]
        self._process = subprocess.Popen(command, stdout=subprocess.PIPE)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self._process.stdout is not None
        for _ in self._process.stdout:
            self.count += 1
            self.last = time.perf_counter()

    def settle(self, target: int, quiet: float = 1.0) -> None:
        """Until ``target`` arrived, or nothing new for ``quiet`` seconds."""
        seen, since = -1, time.perf_counter()
        while self.count < target:
            if self.count != seen:
                seen, since = self.count, time.perf_counter()
            elif time.perf_counter() - since > quiet:
                return
            time.sleep(0.01)

    def close(self) -> None:
        self._process.terminate()
        self._process.wait()
