"""One controller per site: a client-id conflict is a trouble, said once and loudly."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from homeguard.adapters.mqtt import MqttClient
from homeguard.services.controller import Controller
from homeguard.services.presence import LIVENESS_WAIT
from tests.conftest import MosquittoProcess, client_id, wait_until
from tests.services.conftest import House, Observer, stop_process

pytestmark = pytest.mark.broker

TAKEN = "another client is using this client id"
EVENT = "home/alarm/event"
HEARTBEAT = "home/alarm/controller"


def session(kind: str) -> Callable[[bytes], bool]:
    """A controller event of ``kind`` about its MQTT session."""

    def test(payload: bytes) -> bool:
        body = json.loads(payload)
        return bool(body.get("event") == kind and body.get("trouble") == "session_taken_over")

    return test


def rival(mosquitto: MosquittoProcess, name: str) -> MqttClient:
    """A client that reconnects with ``name``'s client id whenever it is kicked off."""
    client = MqttClient(address=mosquitto.address, client_id=name, persistent=True)
    client.start()
    return client


@pytest.mark.faults
def test_two_clients_with_one_id_are_told_once(
    mosquitto: MosquittoProcess, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="homeguard.adapters.mqtt")
    name = client_id("twin")
    first, second = rival(mosquitto, name), rival(mosquitto, name)
    try:
        wait_until(lambda: first.session_contested and second.session_contested, 20)
        kicked = first.connection_count + second.connection_count
        wait_until(lambda: first.connection_count + second.connection_count > kicked + 6, 20)
        errors = [r for r in caplog.records if TAKEN in r.getMessage()]
        assert len(errors) == 2, [r.getMessage() for r in errors]  # once for each client
        assert all(r.levelno == logging.ERROR and name in r.getMessage() for r in errors)
    finally:
        second.stop()
    # Alone again: the session is ours once a connection lasts.
    wait_until(lambda: not first.session_contested, timeout=15, what="session ours again")
    first.stop()


@pytest.mark.faults
def test_a_takeover_of_the_controllers_client_id_is_a_trouble(
    controller: Controller, observer: Observer, house: House, mosquitto: MosquittoProcess
) -> None:
    observer.wait_for("home/alarm/availability", "online")
    began = time.time()
    taker = rival(mosquitto, house.site.config.mqtt.client_id)
    try:
        observer.wait_for(EVENT, session("trouble"), timeout=30)
        time.sleep(2.0)  # more kicks: still one trouble
    finally:
        taker.stop()
    observer.wait_for(EVENT, session("restored"), timeout=30)
    troubles = [e for e in observer.events("trouble") if e.get("trouble") == "session_taken_over"]
    assert len(troubles) == 1, troubles  # one, however many kicks
    assert "client id" in str(troubles[0]["description"])
    with house.store() as store:
        stored = store.system_events(since=began, event_type=["trouble", "restored"])
    kinds = [e.event_type for e in stored if (e.data or {}).get("trouble") == "session_taken_over"]
    assert sorted(kinds) == ["restored", "trouble"]


def refused(result: subprocess.CompletedProcess[str]) -> str:
    """The one line a refused second controller prints."""
    assert result.returncode == 1, result.stdout + result.stderr
    lines = [line for line in result.stderr.splitlines() if "error" in line.lower()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("homeguard: error: a controller for site 'home'"), lines
    return lines[0]


def second(house: House, command: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    options = ["--config", str(house.config_path), "--data-dir", str(data_dir)]
    return subprocess.run(
        [sys.executable, "-m", "homeguard", command, *options],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


@pytest.mark.faults
def test_a_second_controller_for_the_site_refuses_to_start(
    controller: Controller, observer: Observer, house: House
) -> None:
    observer.wait_for("home/alarm/availability", "online")
    connections = controller.client.connection_count
    line = refused(second(house, "controller", house.data_dir))  # same data dir: its lock
    assert f"pid {os.getpid()}" in line and str(house.data_dir) in line
    line = refused(second(house, "controller", house.data_dir.with_name("other")))  # broker
    assert f"pid {os.getpid()}" in line and "client id homeguard-controller" in line
    line = refused(second(house, "up", house.data_dir.with_name("third")))
    assert f"pid {os.getpid()}" in line
    assert controller.client.connection_count == connections  # never kicked off
    assert not controller.client.session_contested


@pytest.mark.faults
def test_a_crashed_controller_never_blocks_the_restart(house: House, observer: Observer) -> None:
    first = house.process("controller")
    observer.wait_for("home/alarm/availability", "online", timeout=20)
    killed = time.monotonic()
    first.kill()  # kill -9: its lock goes with it, the broker says offline for it
    first.wait()
    observer.wait_for("home/alarm/availability", "offline", after=killed)
    restarted = house.process("controller")
    try:
        observer.wait_for("home/alarm/availability", "online", after=killed, timeout=20)
        assert restarted.poll() is None
    finally:
        stop_process(restarted)


@pytest.mark.faults
def test_a_stale_retained_online_delays_the_start_but_never_blocks_it(
    house: House, observer: Observer
) -> None:
    # What a broker that lost the Last Will keeps after a crash: "online", and nobody.
    observer.publish("home/alarm/availability", "online", retain=True)
    started = time.monotonic()
    controller = house.process("controller")
    try:
        observer.wait_for(HEARTBEAT, lambda p: True, after=started, timeout=LIVENESS_WAIT + 20)
        assert controller.poll() is None
        log = (house.data_dir / "controller.log").read_text()
        assert "stale" in log
    finally:
        stop_process(controller)
