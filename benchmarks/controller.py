"""How many sensor events per second the controller stores, and its trip→siren latency.

Runs a private Mosquitto (the config homeguard generates) on a free port and the real
controller in this process; nothing is mocked. Usage::

    python benchmarks/controller.py [--events 20000] [--trips 30]

Throughput is measured twice: ``live`` (the controller running while one client publishes
as fast as the broker takes it) and ``backlog`` (the events queued at the broker while the
controller is down, then drained). Latency is from publishing a window OPEN while armed to
receiving the siren's ON, with the siren command at QoS 2 (the contract) and at QoS 1.

``--stock`` runs a stock Mosquitto too (``listener`` and ``allow_anonymous`` only: 1000
queued, 20 in flight, Nagle on, what a user already runs) and prints, for it and the
generated config side by side: the drain rate of a backlog the stock broker still keeps
(900 events, from the first to the last one stored, median of 5 rounds), and a live
burst of ``--events`` (how many stored, how many the controller reported lost through
``messages_lost``, their sum, the rate), each with the TCP delayed ACKs the kernel sent
meanwhile (Linux's TcpExt DelayedACKs, for the whole machine).
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

from load import stock_broker

from homeguard.adapters.broker import LocalBroker
from homeguard.adapters.mqtt import BrokerAddress, MqttClient
from homeguard.adapters.store import EventStore
from homeguard.app import Site, connected_controller
from homeguard.config import parse_config
from homeguard.core.records import Batch
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


def publish(address: BrokerAddress, events: int, first: int = 0) -> None:
    client = MqttClient(address=address, client_id=f"bench-pub-{time.time_ns()}", persistent=False)
    client.start()
    for seq in range(first, first + events):
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


DRAIN = 900  # fewer than the stock broker's max_queued_messages (1000)


def delayed_acks() -> int:
    """Delayed ACKs the kernel has sent (Linux, whole machine); 0 where unknown."""
    try:
        lines = Path("/proc/net/netstat").read_text().splitlines()
    except OSError:
        return 0
    for names, values in zip(lines[::2], lines[1::2], strict=False):
        if names.startswith("TcpExt:"):
            return int(dict(zip(names.split(), values.split(), strict=False))["DelayedACKs"])
    return 0


def stored_times(site: Site) -> list[float]:
    with EventStore(site.store_path) as store:
        return sorted(e.ts for e in store.sensor_events(limit=None))


@contextmanager
def commits() -> Iterator[list[int]]:
    """The number of sensor events in each transaction the controller commits meanwhile."""
    sizes: list[int] = []
    write = EventStore.write

    def counting(store: EventStore, batch: Batch) -> object:
        if batch.sensor_events:
            sizes.append(len(batch.sensor_events))
        return write(store, batch)

    EventStore.write = counting  # type: ignore[method-assign]
    try:
        yield sizes
    finally:
        EventStore.write = write  # type: ignore[method-assign]


def drain_rate(address: BrokerAddress, workdir: Path, rounds: int = 5) -> tuple[float, float, int]:
    """Draining a backlog of DRAIN: median events/s (first to last stored), mean events
    per commit, delayed ACKs."""
    rates: list[float] = []
    batches: list[int] = []
    acks = delayed_acks()
    for n in range(rounds):
        site = Site(
            parse_config(CONFIG.format(port=address.port, sync="normal")), workdir / f"drain{n}"
        )
        with running(site):
            pass
        publish(address, DRAIN)
        with commits() as sizes, running(site):
            wait_for(site, DRAIN - 5)  # a stock broker may drop one or two even here
            time.sleep(0.2)
        batches.extend(sizes)
        times = stored_times(site)
        rates.append((len(times) - 1) / (times[-1] - times[0]))
    return statistics.median(rates), statistics.mean(batches), delayed_acks() - acks


def burst(address: BrokerAddress, workdir: Path, events: int) -> dict[str, float]:
    """Publish ``events`` while the controller runs; then one more, which shows a loss at
    the end of the burst too. Stored, reported lost, rate until the last one stored."""
    site = Site(parse_config(CONFIG.format(port=address.port, sync="normal")), workdir / "burst")
    acks = delayed_acks()
    with running(site):
        publish(address, events)
        stored, still = count(site), 0
        while still < 10:  # until nothing new for a second
            time.sleep(0.1)
            now_stored = count(site)
            still = still + 1 if now_stored == stored else 0
            stored = now_stored
        times = stored_times(site)
        publish(address, 1, first=events)
        wait_for(site, stored + 1)
    with EventStore(site.store_path) as store:
        records = store.system_events(event_type="messages_lost", limit=None)
    lost = sum(int((e.data or {})["lost"]) for e in records)
    return {
        "stored": stored + 1,
        "lost": lost,
        "rate": len(times) / (times[-1] - times[0]),
        "delayed_acks": delayed_acks() - acks,
    }


def stock_comparison(address: BrokerAddress, workdir: Path, events: int) -> None:
    print(
        f"{'broker':<10} {'drain events/s':>14} {'per commit':>10} {'delayed ACKs':>12} | "
        f"burst of {events}: {'stored':>6} {'lost':>6} {'sum':>6} {'events/s':>8} "
        f"{'delayed ACKs':>12}"
    )
    with stock_broker(workdir) as stock:
        for name, broker in (("generated", address), ("stock", stock)):
            rate, per_commit, acks = drain_rate(broker, workdir / name)
            result = burst(broker, workdir / name, events)
            total = result["stored"] + result["lost"]
            print(
                f"{name:<10} {rate:14.0f} {per_commit:10.1f} {acks:12d} | "
                f"{'':>{len(str(events)) + 10}}"
                f"{result['stored']:6.0f} {result['lost']:6.0f} {total:6.0f} "
                f"{result['rate']:8.0f} {result['delayed_acks']:12.0f}"
            )


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
    parser.add_argument(
        "--stock", action="store_true", help="only: the stock Mosquitto next to the generated one"
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)  # each benchmark alarm would log a notification
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        broker = LocalBroker.start(workdir / "broker", free_port(), prefer="mosquitto")
        address = BrokerAddress(broker.host, broker.port)
        try:
            if args.stock:
                stock_comparison(address, workdir, args.events)
                return
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
