"""A small house on a private Mosquitto, with the controller in a thread or a process."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from homeguard.adapters.mqtt import Message, MqttClient
from homeguard.adapters.store import EventStore
from homeguard.app import Site, connected_controller
from homeguard.config import load_config
from homeguard.services.controller import Controller
from tests.conftest import MosquittoProcess, client_id

HOUSE = """
mqtt: {{host: 127.0.0.1, port: {port}, base_topic: home}}
storage: {{path: events.db, synchronous: normal}}
panel:
  modes:
    armed_away: {{exit_delay: 1, entry_delay: {entry}, siren_time: {siren}}}
    armed_home: {{exit_delay: 0, entry_delay: {entry}, siren_time: {siren}}}
users:
  - {{name: alice, pin_hash: "{alice}"}}
  - {{name: coerced, pin_hash: "{coerced}", duress: true}}
sensors:
  - {{id: front, type: door, zone: entry}}
  - {{id: living, type: window, zone: perimeter}}
  - {{id: hall, type: motion, zone: interior}}
  - {{id: lid, type: tamper, zone: 24h}}
  - {{id: shed, type: door, zone: entry, supervision: {supervision}}}
actuators:
  - {{id: siren, type: siren}}
  - {{id: light, type: light}}
simulation: {{heartbeat: 0.5, door_change_probability: 0, motion_probability: 0}}
"""


def _cheap(pin: str) -> str:
    from homeguard.core.codes import hash_pin

    return hash_pin(pin, os.urandom(16), log2_n=4, r=1)


class FakeClient:
    """The controller's MQTT client, faked for a controller driven turn by turn (the
    `Publisher` protocol): what it would publish and acknowledge is kept."""

    connection_count = 1
    session_contested = False

    def __init__(self) -> None:
        self.published: list[tuple[str, bytes | str]] = []
        self.acked: list[int] = []

    def publish(
        self,
        topic: str,
        payload: bytes | str,
        qos: int = 1,
        retain: bool = False,
        *,
        urgent: bool = False,
        replaceable: bool = False,
    ) -> None:
        self.published.append((topic, payload))

    def ack(self, *messages: Message) -> None:
        self.acked.extend(message.mid for message in messages)


@dataclass
class House:
    """The config, data and broker of one test's house."""

    broker: MosquittoProcess
    config_path: Path
    data_dir: Path

    @property
    def site(self) -> Site:
        return Site(load_config(self.config_path), self.data_dir)

    def store(self) -> EventStore:
        return EventStore(self.data_dir / "events.db")

    def cli(self, *args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [
                sys.executable,
                "-m",
                "homeguard",
                *args,
                "--config",
                str(self.config_path),
                "--data-dir",
                str(self.data_dir),
            ],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def process(self, *args: str) -> subprocess.Popen[bytes]:
        """A homeguard service as a child process (``controller``, ``simulate`` ...)."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = (self.data_dir / f"{args[0]}.log").open("ab")
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "homeguard",
                *args,
                "--config",
                str(self.config_path),
                "--data-dir",
                str(self.data_dir),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    def sensor_count(self) -> int:
        path = self.data_dir / "events.db"
        if not path.exists():
            return 0
        with self.store() as store:
            return store.count_sensor_events()


class Observer:
    """Sees everything under ``home/#``, with the time each message arrived."""

    def __init__(self, client: MqttClient) -> None:
        self.client = client
        self.seen: list[tuple[float, Message]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._pump, daemon=True)
        self._thread.start()

    def _pump(self) -> None:
        while not self._stop.is_set():
            try:
                message = self.client.messages.get(timeout=0.1)
            except queue.Empty:
                continue
            with self._lock:
                self.seen.append((time.monotonic(), message))

    def publish(self, topic: str, payload: str | bytes, qos: int = 1, retain: bool = False) -> None:
        self.client.publish(topic, payload, qos=qos, retain=retain)

    def command(self, action: str, code: str | None = None, **extra: object) -> None:
        body: dict[str, object] = {"action": action, **extra}
        if code is not None:
            body["code"] = code
        self.publish("home/alarm/set", json.dumps(body))

    def wait_for(
        self,
        topic: str,
        payload: str | Callable[[bytes], bool],
        timeout: float = 10.0,
        after: float = 0.0,
    ) -> float:
        """When (monotonic) a matching message arrived after ``after``; fails on timeout."""
        test = payload if callable(payload) else (lambda p: p.decode() == payload)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                for when, message in self.seen:
                    if when >= after and message.topic == topic and test(message.payload):
                        return when
            time.sleep(0.02)
        with self._lock:
            recent = [(m.topic, m.payload[:80]) for _, m in self.seen[-15:]]
        pytest.fail(f"no {topic} {payload!r} within {timeout} s; last seen: {recent}")

    def events(self, kind: str) -> list[dict[str, object]]:
        with self._lock:
            bodies = [json.loads(m.payload) for _, m in self.seen if m.topic == "home/alarm/event"]
        return [b for b in bodies if b.get("event") == kind]

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.client.stop()


def event(kind: str) -> Callable[[bytes], bool]:
    return lambda payload: json.loads(payload).get("event") == kind


@pytest.fixture
def house_factory(mosquitto: MosquittoProcess, tmp_path: Path) -> Callable[..., House]:
    def make(entry: float = 2, siren: float = 3, supervision: float = 3) -> House:
        path = tmp_path / "homeguard.yaml"
        path.write_text(
            HOUSE.format(
                port=mosquitto.port,
                entry=entry,
                siren=siren,
                supervision=supervision,
                alice=_cheap("1234"),
                coerced=_cheap("9999"),
            )
        )
        return House(mosquitto, path, tmp_path / "data")

    return make


@pytest.fixture
def house(house_factory: Callable[..., House]) -> House:
    return house_factory()


@pytest.fixture
def observer(mosquitto: MosquittoProcess) -> Iterator[Observer]:
    client = MqttClient(
        address=mosquitto.address,
        client_id=client_id("observer"),
        persistent=False,
        subscriptions=[("home/#", 2)],
    )
    client.start()
    watcher = Observer(client)
    yield watcher
    watcher.close()


@contextmanager
def running(site: Site) -> Iterator[Controller]:
    """One controller session of ``site`` in a thread of the test (its fixed client id
    and persistent session); stopped, with its last turn stored, when the block ends."""
    stop = threading.Event()
    with connected_controller(site) as controller:
        thread = threading.Thread(target=controller.run, args=(stop,), daemon=True)
        thread.start()
        try:
            yield controller
        finally:
            stop.set()
            thread.join(timeout=30)
            assert not thread.is_alive(), "the controller did not stop"


@pytest.fixture
def controller(house: House) -> Iterator[Controller]:
    """The controller running in a thread of the test process."""
    with running(house.site) as started:
        yield started


def stop_process(process: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    process.send_signal(sig)
    process.wait(timeout=15)
