"""How long another sensor's alarm waits while one sensor floods the controller.

Runs a private Mosquitto (the config homeguard generates) and the real controller in
this process, arms the panel, then has one client pour QoS 0 messages onto the ``front``
door's topic as fast as a raw socket can write them (prebuilt PUBLISH packets, no MQTT
library in the way) while the ``living`` window opens: the delay is from publishing
that OPEN to receiving the siren's ON. Two floods: plain ``CLOSED`` on a plain sensor,
and unsigned junk on a signing sensor. Also reports what the flood left in the store.
Usage::

    python benchmarks/flood.py [--messages 200000] [--trials 3]

It reads nothing newer than the config keys of the old main, so the same script
measures the code before and after the rate limiter (``PYTHONPATH=... python ...``).
"""

from __future__ import annotations

import argparse
import logging
import socket
import statistics
import struct
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from homeguard.adapters.broker import LocalBroker
from homeguard.adapters.mqtt import BrokerAddress, MqttClient
from homeguard.adapters.store import EventStore
from homeguard.app import Site, connected_controller
from homeguard.config import parse_config

CONFIG = """
mqtt: {{host: 127.0.0.1, port: {port}}}
storage: {{path: events.db, synchronous: normal}}
panel: {{code_arm_required: false, modes: {{armed_home: {{exit_delay: 0, siren_time: 300}}}}}}
users: [{{name: alice, pin: "1234"}}]
sensors:
  - {{id: front, type: door{signing}}}
  - {{id: living, type: window}}
actuators: [{{id: siren, type: siren}}]
"""
SIGNING = ', signed: true, secret: "a long secret for the benchmark"'


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _length(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n % 128, n // 128
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def publish_packet(topic: str, payload: bytes) -> bytes:
    """One MQTT 3.1.1 QoS 0 PUBLISH."""
    name = topic.encode()
    inner = struct.pack("!H", len(name)) + name + payload
    return b"\x30" + _length(len(inner)) + inner


def flood(address: BrokerAddress, packet: bytes, count: int, rate: float | None) -> float:
    """Send ``count`` copies of ``packet`` as fast as the socket takes them (or at
    ``rate`` a second, in slices of 1000); the seconds it took."""
    client = f"flood-{time.time_ns()}".encode()
    body = b"\x00\x04MQTT\x04\x02\x00\x3c" + struct.pack("!H", len(client)) + client
    connect = b"\x10" + _length(len(body)) + body
    started = time.perf_counter()
    with socket.create_connection((address.host, address.port)) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.sendall(connect)
        if rate is None:
            sock.sendall(packet * count)
        else:
            for sent in range(0, count, 1000):
                sock.sendall(packet * min(1000, count - sent))
                time.sleep(max(0.0, started + (sent + 1000) / rate - time.perf_counter()))
        sock.sendall(b"\xe0\x00")
        sock.shutdown(socket.SHUT_WR)
        while sock.recv(65536):
            pass
    return time.perf_counter() - started


@contextmanager
def running(site: Site) -> Iterator[None]:
    stop = threading.Event()
    with connected_controller(site) as controller:
        thread = threading.Thread(target=controller.run, args=(stop,), daemon=True)
        thread.start()
        yield
        stop.set()
        thread.join()


def _await(client: MqttClient, topic: str, payload: bytes, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        message = client.messages.get(timeout=timeout)
        if message.topic == topic and message.payload == payload:
            return
    raise SystemExit(f"no {topic} {payload!r}")


def trial(
    address: BrokerAddress, folder: Path, *, signed: bool, messages: int, rate: float | None
) -> dict[str, float]:
    site = Site(
        parse_config(CONFIG.format(port=address.port, signing=SIGNING if signed else "")), folder
    )
    user = MqttClient(
        address=address,
        client_id=f"bench-user-{time.time_ns()}",
        persistent=False,
        subscriptions=[("home/control/alarm", 2), ("home/alarm/state", 1)],
    )
    user.start()
    payload = b"junk, not signed" if signed else b"CLOSED"
    packet = publish_packet("home/security/door/front", payload)
    result: dict[str, float] = {}
    with running(site):
        user.publish("home/alarm/set", "ARM_HOME")
        _await(user, "home/alarm/state", b"armed_home")
        sender = threading.Thread(
            target=lambda: result.update(sent=flood(address, packet, messages, rate))
        )
        sender.start()
        time.sleep(0.3)  # the flood is under way
        started = time.perf_counter()
        user.publish("home/security/window/living", "OPEN")
        _await(user, "home/control/alarm", b"ON")
        result["delay_ms"] = (time.perf_counter() - started) * 1000
        sender.join()
        time.sleep(1.0)
    user.stop()
    with EventStore(site.store_path) as store:
        result["sensor_rows"] = store.count_sensor_events()
        result["system_rows"] = store.count_system_events()
        result["db_mb"] = store.size_bytes() / 1e6
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument("--rate", type=float, help="messages/s (default: as fast as it goes)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.CRITICAL)  # the old code logs every refusal
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        broker = LocalBroker.start(workdir / "broker", free_port(), prefer="mosquitto")
        address = BrokerAddress(broker.host, broker.port)
        try:
            for signed in (False, True):
                runs = [
                    trial(
                        address,
                        workdir / f"{signed}-{n}",
                        signed=signed,
                        messages=args.messages,
                        rate=args.rate,
                    )
                    for n in range(args.trials)
                ]
                delays = sorted(r["delay_ms"] for r in runs)
                last = runs[-1]
                what = "unsigned junk on a signed sensor" if signed else "plain CLOSED"
                print(
                    f"{what:<33} {args.messages} msgs sent in {last['sent']:.2f} s: "
                    f"alarm delay median {statistics.median(delays):8.1f} ms "
                    f"(max {delays[-1]:8.1f}); store: {last['sensor_rows']:.0f} sensor rows, "
                    f"{last['system_rows']:.0f} system rows, {last['db_mb']:.1f} MB"
                )
        finally:
            broker.stop()


if __name__ == "__main__":
    main()
