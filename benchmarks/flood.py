"""How long another sensor's alarm waits while one sensor floods the controller.

Runs a private Mosquitto (the config homeguard generates) and ``homeguard controller``
in a process of its own, arms the panel, then has one client pour QoS 0 (or 1)
messages onto the ``front`` door's topic as fast as a raw socket can write them
(prebuilt PUBLISH packets, no MQTT library in the way) while the ``living`` window
opens: the delay is from publishing that OPEN to receiving the siren's ON. Two floods:
plain ``CLOSED`` on a plain sensor, and unsigned junk on a signing sensor. Also reports
what the flood left in the store.
Usage::

    python benchmarks/flood.py [--messages 100000] [--trials 3] [--rate N] [--qos 1]

It reads nothing newer than the config keys of the old main, so the same script
measures the code before and after the rate limiter (``PYTHONPATH=... python ...``).
"""

from __future__ import annotations

import argparse
import logging
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from homeguard.adapters.broker import LocalBroker
from homeguard.adapters.mqtt import BrokerAddress, MqttClient
from homeguard.adapters.store import EventStore
from homeguard.app import Site
from homeguard.config import load_config

CONFIG = """
mqtt: {{host: 127.0.0.1, port: {port}}}
storage: {{path: events.db, synchronous: normal}}
panel: {{code_arm_required: false, modes: {{armed_home: {{exit_delay: 0, siren_time: 300}}}}}}
users: [{{name: alice, pin: "1234"}}]
sensors:
  - {{id: front, type: door{signing}}}
  - {{id: living, type: window}}
actuators: [{{id: siren, type: siren}}]
web: {{enabled: false}}
"""
CONTROLLER = [sys.executable, "-m", "homeguard", "controller"]
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


def publish_packets(topic: str, payload: bytes, count: int, qos: int) -> list[bytes]:
    """MQTT 3.1.1 PUBLISH packets at QoS 0 or 1 (packet ids 1...65535, round and round)."""
    name = struct.pack("!H", len(topic.encode())) + topic.encode()
    if qos == 0:
        inner = name + payload
        return [b"\x30" + _length(len(inner)) + inner] * count
    return [
        b"\x32" + _length(len(name) + 2 + len(payload)) + name + struct.pack("!H", mid) + payload
        for mid in (n % 65535 + 1 for n in range(count))
    ]


def flood(address: BrokerAddress, packets: list[bytes], rate: float | None) -> float:
    """Send ``packets`` as fast as the socket takes them (or at ``rate`` a second, in
    slices of 100); the seconds it took. The broker's PUBACKs are read at the end."""
    client = f"flood-{time.time_ns()}".encode()
    body = b"\x00\x04MQTT\x04\x02\x00\x3c" + struct.pack("!H", len(client)) + client
    connect = b"\x10" + _length(len(body)) + body
    started = time.perf_counter()
    with socket.create_connection((address.host, address.port)) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.sendall(connect)
        if rate is None:
            sock.sendall(b"".join(packets))
        else:
            for sent in range(0, len(packets), 100):
                sock.sendall(b"".join(packets[sent : sent + 100]))
                time.sleep(max(0.0, started + (sent + 100) / rate - time.perf_counter()))
        sock.sendall(b"\xe0\x00")
        sock.shutdown(socket.SHUT_WR)
        while sock.recv(65536):
            pass
    return time.perf_counter() - started


@contextmanager
def running(config: Path, folder: Path, user: MqttClient) -> Iterator[None]:
    """``homeguard controller`` in a process of its own, as in a house: the flood's
    reader does not share this process's interpreter lock with the measuring client."""
    with (folder / "controller.log").open("wb") as log:
        process = subprocess.Popen(
            [*CONTROLLER, "--config", str(config), "--data-dir", str(folder)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            _await(user, "home/alarm/availability", b"online", timeout=30)
            yield
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(60)


def settle(site: Site) -> None:
    """Until the store stops growing: the controller has read the whole flood."""
    last = -1
    while True:
        with EventStore(site.store_path) as store:
            now = store.count_sensor_events() + store.count_system_events()
        if now == last:
            return
        last = now
        time.sleep(1.0)


def _await(client: MqttClient, topic: str, payload: bytes, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        message = client.messages.get(timeout=timeout)
        if message.topic == topic and message.payload == payload:
            return
    raise SystemExit(f"no {topic} {payload!r}")


def trial(
    address: BrokerAddress,
    folder: Path,
    *,
    signed: bool,
    messages: int,
    rate: float | None,
    qos: int,
) -> dict[str, float]:
    folder.mkdir(parents=True)
    config = folder / "homeguard.yaml"
    config.write_text(CONFIG.format(port=address.port, signing=SIGNING if signed else ""))
    site = Site(load_config(config), folder)
    user = MqttClient(
        address=address,
        client_id=f"bench-user-{time.time_ns()}",
        persistent=False,
        subscriptions=[
            ("home/control/alarm", 2),
            ("home/alarm/state", 1),
            ("home/alarm/availability", 1),
        ],
    )
    user.start()
    payload = b"junk, not signed" if signed else b"CLOSED"
    packets = publish_packets("home/security/door/front", payload, messages, qos)
    result: dict[str, float] = {}
    with running(config, folder, user):
        user.publish("home/alarm/set", "ARM_HOME")
        _await(user, "home/alarm/state", b"armed_home")
        sender = threading.Thread(target=lambda: result.update(sent=flood(address, packets, rate)))
        sender.start()
        time.sleep(0.3)  # the flood is under way
        started = time.perf_counter()
        user.publish("home/security/window/living", "OPEN")
        _await(user, "home/control/alarm", b"ON")
        result["delay_ms"] = (time.perf_counter() - started) * 1000
        sender.join()
        settle(site)
    user.stop()
    with EventStore(site.store_path) as store:
        result["sensor_rows"] = store.count_sensor_events()
        result["system_rows"] = store.count_system_events()
        result["db_mb"] = store.size_bytes() / 1e6
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument("--rate", type=float, help="messages/s (default: as fast as it goes)")
    parser.add_argument("--qos", type=int, choices=(0, 1), default=0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
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
                        qos=args.qos,
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
