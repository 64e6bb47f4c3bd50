"""How many sensor events per second the controller stores, and its trip→siren latency.

Runs a private Mosquitto (the config homeguard generates) on a free port and the real
controller in this process; nothing is mocked. Usage::

    python benchmarks/controller.py [--events 20000] [--trips 30]

Throughput is measured twice: ``live`` (the controller running while one client publishes
as fast as the broker takes it) and ``backlog`` (the events queued at the broker while the
controller is down, then drained). Latency is from publishing a window OPEN while armed to
receiving the siren's ON, with the siren command at QoS 2 (the contract) and at QoS 1.
"""

from __future__ import annotations

import argparse
import json
import logging
import socket
import statistics
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
from homeguard.services import outbound

CONFIG = """
mqtt: {{host: 127.0.0.1, port: {port}}}
storage: {{path: events.db, synchronous: {sync}}}
panel: {{code_arm_required: false, modes: {{armed_home: {{exit_delay: 0, siren_time: 300}}}}}}
users: [{{name: alice, pin: "1234"}}]
sensors:
  - {{id: front, type: door}}
  - {{id: living, type: window}}
actuators: [{{id: siren, type: siren}}]
rate_limit: {{messages_per_second: 1000000, burst: 1000000}}  # one door as fast as it goes
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def running(site: Site) -> Iterator[None]:
    stop = threading.Event()
    with connected_controller(site) as controller:
        thread = threading.Thread(target=controller.run, args=(stop,), daemon=True)
        thread.start()
        yield
        stop.set()
        thread.join()


def count(site: Site) -> int:
    with EventStore(site.store_path) as store:
        return store.count_sensor_events()


def publish(address: BrokerAddress, events: int) -> None:
    client = MqttClient(address=address, client_id=f"bench-pub-{time.time_ns()}", persistent=False)
    client.start()
    for seq in range(events):
        body = {"state": "OPEN" if seq % 2 else "CLOSED", "seq": seq, "ts": 1.7e9 + seq}
        client.publish("home/security/door/front", json.dumps(body), qos=1)
    client.wait_published(120)
    client.stop()


def wait_for(site: Site, target: int, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while count(site) < target:
        if time.monotonic() > deadline:
            raise SystemExit(f"only {count(site)} of {target} events stored")
        time.sleep(0.05)


def throughput(address: BrokerAddress, workdir: Path, events: int, sync: str) -> dict[str, float]:
    results = {}
    for mode in ("live", "backlog"):
        site = Site(
            parse_config(CONFIG.format(port=address.port, sync=sync)), workdir / f"{mode}-{sync}"
        )
        if mode == "backlog":
            with running(site):  # register the persistent session, then go away
                pass
            publish(address, events)
            started = time.perf_counter()
            with running(site):
                wait_for(site, events)
        else:
            with running(site):
                started = time.perf_counter()
                publish(address, events)
                wait_for(site, events)
        results[mode] = events / (time.perf_counter() - started)
    return results


def latency(address: BrokerAddress, workdir: Path, trips: int, qos: int) -> list[float]:
    outbound.COMMAND_QOS = qos
    site = Site(parse_config(CONFIG.format(port=address.port, sync="full")), workdir / f"lat-{qos}")
    user = MqttClient(
        address=address,
        client_id=f"bench-user-{qos}",
        persistent=False,
        subscriptions=[("home/control/alarm", 2), ("home/alarm/state", 1)],
    )
    user.start()
    samples = []
    with running(site):
        for _ in range(trips):
            user.publish("home/alarm/set", "ARM_HOME")
            _await(user, "home/alarm/state", b"armed_home")
            started = time.perf_counter()
            user.publish("home/security/window/living", "OPEN")
            _await(user, "home/control/alarm", b"ON")
            samples.append((time.perf_counter() - started) * 1000)
            user.publish("home/alarm/set", '{"action": "DISARM", "code": "1234"}')
            _await(user, "home/alarm/state", b"disarmed")
            user.publish("home/security/window/living", "CLOSED")
    user.stop()
    return samples


def _await(client: MqttClient, topic: str, payload: bytes, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        message = client.messages.get(timeout=timeout)
        if message.topic == topic and message.payload == payload:
            return
    raise SystemExit(f"no {topic} {payload!r}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--trips", type=int, default=30)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)  # each benchmark alarm would log a notification
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        broker = LocalBroker.start(workdir / "broker", free_port(), prefer="mosquitto")
        address = BrokerAddress(broker.host, broker.port)
        try:
            for sync in ("full", "normal"):
                rates = throughput(address, workdir, args.events, sync)
                for mode, rate in rates.items():
                    print(f"throughput {mode:<8} synchronous={sync:<7} {rate:8.0f} events/s")
            for qos in (2, 1):
                samples = sorted(latency(address, workdir, args.trips, qos))
                p95 = samples[int(0.95 * (len(samples) - 1))]
                print(
                    f"trip->siren  siren QoS {qos}: median {statistics.median(samples):5.1f} ms, "
                    f"p95 {p95:5.1f} ms ({len(samples)} trips)"
                )
        finally:
            broker.stop()


if __name__ == "__main__":
    main()
