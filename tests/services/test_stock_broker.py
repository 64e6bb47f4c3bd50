"""A stock Mosquitto (1000 queued, 20 in flight, Nagle on): what it drops is reported.

The controller's persistent session is offline while a sensor sends more than the stock
broker queues; the broker drops the rest. When the sensor speaks again the controller
sees the gap in its ``seq`` and records (and publishes) a ``messages_lost`` event with
the count, so that stored + lost == sent. The broker check (a warning at start, and
``homeguard doctor``) tells such a broker from the generated config. Tests on a stock
broker are marked ``faults``.
"""

from __future__ import annotations

import json
import queue
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from homeguard.adapters.mqtt import BrokerAddress, MqttClient
from homeguard.adapters.store import EventStore
from homeguard.app import Site
from homeguard.config import load_config
from homeguard.core.records import SystemRecord
from homeguard.services.broker_check import (
    PROBE_MESSAGES,
    PROBE_TOPIC,
    QueueCheck,
    check_queue,
    diagnose,
    queue_warning,
)
from tests.conftest import MosquittoProcess, client_id, free_port, wait_until
from tests.services.conftest import HOUSE, House, Observer, _cheap, event, running, stop_process

BURST = 1500  # more than the stock broker's max_queued_messages (1000)


def _site(broker: MosquittoProcess, tmp_path: Path) -> Site:
    path = tmp_path / "homeguard.yaml"
    path.write_text(
        HOUSE.format(
            port=broker.port,
            entry=2,
            siren=3,
            supervision=300,
            alice=_cheap("1234"),
            coerced=_cheap("9999"),
        )
        # One door sends as fast as it can on purpose: no flood budget in the way (what
        # a budget does with surplus is tests/services/test_flood_system.py's subject).
        + "rate_limit: {messages_per_second: 10000, burst: 10000}\n"
    )
    return Site(load_config(path), tmp_path / "data")


def _sensor_events(site: Site) -> int:
    with EventStore(site.store_path) as store:
        return store.count_sensor_events(device="front")


def _wait_settled(site: Site, quiet: float = 1.0) -> None:
    """Wait for the backlog, then until no sensor event has been stored for ``quiet`` s."""
    wait_until(lambda: _sensor_events(site) > 1, what="the backlog arriving")
    last = -1
    while (count := _sensor_events(site)) != last:
        last = count
        time.sleep(quiet)


def _lost(site: Site) -> int:
    """How many messages the controller reported lost."""
    return sum(int((e.data or {})["lost"]) for e in _lost_events(site))


def _lost_events(site: Site) -> list[SystemRecord]:
    with EventStore(site.store_path) as store:
        return store.system_events(event_type="messages_lost")


def _report(client: MqttClient, seq: int) -> None:
    body = {"state": "OPEN" if seq % 2 else "CLOSED", "seq": seq}
    client.publish("home/security/door/front", json.dumps(body), qos=1)


@pytest.mark.faults
def test_messages_a_stock_broker_drops_are_reported_with_their_count(
    stock_mosquitto: MosquittoProcess, tmp_path: Path
) -> None:
    site = _site(stock_mosquitto, tmp_path)
    observer = Observer(
        MqttClient(
            address=stock_mosquitto.address,
            client_id=client_id("observer"),
            persistent=False,
            subscriptions=[("home/alarm/event", 1)],
        )
    )
    observer.client.start()
    sensor = MqttClient(address=stock_mosquitto.address, client_id=client_id("front"))
    sensor.start()
    try:
        with running(site):  # the controller's persistent session exists from here on
            _report(sensor, 1)
            wait_until(lambda: _sensor_events(site) == 1, what="the first report stored")
        for seq in range(2, BURST + 1):  # the controller is away: the broker queues
            _report(sensor, seq)
        assert sensor.wait_published(60)
        with running(site):
            # The sensor speaks again once the controller has taken what the broker kept
            # (sent earlier, it would find the broker's queue still full and be dropped
            # too); the gap before its seq is what the broker dropped.
            _wait_settled(site)
            _report(sensor, BURST + 1)
            observer.wait_for("home/alarm/event", event("messages_lost"), timeout=60)
            wait_until(lambda: _lost_events(site), what="the messages_lost event stored")
        sent = BURST + 1
        stored = _sensor_events(site)
        assert stored < sent, "the stock broker was expected to drop messages"
        lost_events = _lost_events(site)
        assert lost_events and all(e.data is not None for e in lost_events)
        lost = sum(int(e.data["lost"]) for e in lost_events if e.data is not None)
        assert stored + lost == sent
        published = observer.events("messages_lost")
        assert sum(int(str(p["lost"])) for p in published) == lost
    finally:
        sensor.stop()
        observer.close()


@pytest.mark.faults
def test_a_live_burst_on_a_stock_broker_drains_and_every_loss_is_counted(
    stock_mosquitto: MosquittoProcess, tmp_path: Path
) -> None:
    """The controller running while a sensor sends faster than it stores: the drain
    completes, and whatever the broker dropped is reported (no assertion on speed)."""
    site = _site(stock_mosquitto, tmp_path)
    sensor = MqttClient(address=stock_mosquitto.address, client_id=client_id("front"))
    sensor.start()
    try:
        with running(site):
            for seq in range(1, BURST + 1):
                _report(sensor, seq)
            assert sensor.wait_published(60)
            # A loss at the very end shows only once a later report gets through, and
            # while the controller still drains, the broker's queue may be full and drop
            # that one too: one more report every half second until the counts match.
            last, deadline = BURST, time.monotonic() + 60
            while _sensor_events(site) + _lost(site) != last:
                assert time.monotonic() < deadline, "stored + reported lost never == sent"
                last += 1
                _report(sensor, last)
                time.sleep(0.5)
    finally:
        sensor.stop()


# ------------------------------------------------------------------ the broker check


@pytest.mark.faults
def test_the_queue_check_tells_a_stock_broker_from_the_generated_config(
    stock_mosquitto: MosquittoProcess, mosquitto: MosquittoProcess
) -> None:
    stock = check_queue(stock_mosquitto.address, client_id("probe"))
    assert stock.kept is not None and stock.drops, stock
    warning = queue_warning(stock_mosquitto.address, stock)
    assert warning is not None
    assert f"kept only {stock.kept} of {PROBE_MESSAGES}" in warning
    assert "docs/broker.md" in warning and "homeguard broker-config" in warning
    generated = check_queue(mosquitto.address, client_id("probe"))
    assert generated == QueueCheck(PROBE_MESSAGES, PROBE_MESSAGES)
    assert queue_warning(mosquitto.address, generated) is None


@pytest.mark.faults
def test_the_queue_check_leaves_no_session_behind(stock_mosquitto: MosquittoProcess) -> None:
    address, probe = stock_mosquitto.address, client_id("probe")
    topic = f"{PROBE_TOPIC}/{probe}"
    # What an interrupted probe leaves: its session with messages queued.
    left = MqttClient(address=address, client_id=probe, subscriptions=[(topic, 1)])
    left.start()
    left.stop()
    publisher = MqttClient(address=address, client_id=client_id("pub"), persistent=False)
    publisher.start()
    for n in range(3):
        publisher.publish(topic, f"left over {n}")
    assert publisher.wait_published(10)
    assert check_queue(address, probe, messages=5) == QueueCheck(5, 5)  # not 8
    publisher.publish(topic, "after the check")
    assert publisher.wait_published(10)
    publisher.stop()
    back = MqttClient(address=address, client_id=probe)  # persistent, no new subscription
    back.start()
    try:
        with pytest.raises(queue.Empty):  # no session: nothing was queued for it
            back.messages.get(timeout=1.0)
    finally:
        back.stop()


def _controller_log(house: House) -> str:
    path = house.data_dir / "controller.log"
    return path.read_text(errors="replace") if path.exists() else ""


def _house(broker: MosquittoProcess, tmp_path: Path) -> House:
    site = _site(broker, tmp_path)
    return House(broker, tmp_path / "homeguard.yaml", site.data_dir)


@pytest.mark.faults
def test_the_controller_warns_once_about_a_stock_broker(
    stock_mosquitto: MosquittoProcess, tmp_path: Path
) -> None:
    house = _house(stock_mosquitto, tmp_path)
    controller = house.process("controller")
    try:
        wait_until(lambda: "kept only" in _controller_log(house), timeout=60, what="the warning")
    finally:
        stop_process(controller)
    lines = [line for line in _controller_log(house).splitlines() if "kept only" in line]
    assert len(lines) == 1, lines
    assert "WARNING" in lines[0] and "docs/broker.md" in lines[0]
    assert "homeguard broker-config" in lines[0]


def test_the_controller_does_not_warn_about_the_generated_config(
    mosquitto: MosquittoProcess, tmp_path: Path
) -> None:
    house = _house(mosquitto, tmp_path)
    controller = house.process("controller")
    try:
        wait_until(
            lambda: "keeps what is queued" in _controller_log(house), timeout=60, what="the check"
        )
    finally:
        stop_process(controller)
    text = _controller_log(house)
    assert "kept only" not in text and "could not be checked" not in text


def _up_with_the_example(tmp_path: Path, port: int) -> tuple[subprocess.Popen[bytes], Path]:
    """``homeguard up`` on the example house with its broker port set; its output's file."""
    example = (Path(__file__).parents[2] / "src/homeguard/examples/house.yaml").read_text()
    (tmp_path / "homeguard.yaml").write_text(example.replace("port: 1883", f"port: {port}"))
    log = tmp_path / "up.log"
    with log.open("w") as out:
        up = subprocess.Popen(
            [sys.executable, "-m", "homeguard", "up", "--data-dir", str(tmp_path / "data")],
            cwd=tmp_path,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    return up, log


@pytest.mark.slow
def test_up_with_its_own_broker_does_not_check_it(tmp_path: Path) -> None:
    port = free_port()  # nothing answers there, so `up` starts Mosquitto itself
    up, log = _up_with_the_example(tmp_path, port)
    try:
        wait_until(
            lambda: "its queue is not checked" in log.read_text(), timeout=60, what="the start"
        )
    finally:
        up.send_signal(signal.SIGINT)
        up.wait(timeout=30)
    text = log.read_text()
    assert "started here" in text
    assert "kept only" not in text and "could not be checked" not in text
    assert "keeps what is queued" not in text


@pytest.mark.faults
@pytest.mark.slow
def test_up_on_a_stock_broker_says_once_what_it_drops(
    stock_mosquitto: MosquittoProcess, tmp_path: Path
) -> None:
    """`up` with a broker already running that homeguard did not configure: the one line
    from its controller, in `up`'s output."""
    up, log = _up_with_the_example(tmp_path, stock_mosquitto.port)
    try:
        wait_until(lambda: "kept only" in log.read_text(), timeout=60, what="the warning")
    finally:
        up.send_signal(signal.SIGINT)
        up.wait(timeout=30)
    lines = [line for line in log.read_text().splitlines() if "kept only" in line]
    assert len(lines) == 1, lines
    assert "WARNING" in lines[0] and "homeguard broker-config" in lines[0]


# ------------------------------------------------------------------ homeguard doctor


def test_doctor_finds_nothing_to_fix_on_the_generated_config(
    mosquitto: MosquittoProcess, tmp_path: Path
) -> None:
    result = _house(mosquitto, tmp_path).cli("doctor", timeout=90)
    assert result.returncode == 0, result.stdout + result.stderr
    for check in ("reachable", "login", "queue", "latency"):
        assert f"ok  {check}: " in result.stdout, result.stdout
    assert "all 1100 messages queued came back" in result.stdout


@pytest.mark.faults
def test_doctor_says_what_to_change_on_a_stock_broker(
    stock_mosquitto: MosquittoProcess, tmp_path: Path
) -> None:
    result = _house(stock_mosquitto, tmp_path).cli("doctor", timeout=90)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "ok  reachable" in result.stdout and "ok  login" in result.stdout
    fix = next(line for line in result.stdout.splitlines() if line.startswith("FIX queue: "))
    assert "kept only 1000 of 1100" in fix and "homeguard broker-config" in fix
    assert "ok  latency" in result.stdout


def test_doctor_says_when_nothing_answers(mosquitto: MosquittoProcess, tmp_path: Path) -> None:
    result = _house(mosquitto, tmp_path).cli("doctor", "--broker", f"127.0.0.1:{free_port()}")
    assert result.returncode == 1
    assert "FIX reachable: nothing answers MQTT at 127.0.0.1:" in result.stdout


def test_doctor_says_when_the_login_is_refused(tmp_path: Path) -> None:
    tool = shutil.which("mosquitto_passwd") or "/usr/bin/mosquitto_passwd"
    password_file = tmp_path / "passwd"
    subprocess.run([tool, "-c", "-b", str(password_file), "controller", "s3cret"], check=True)
    broker = MosquittoProcess(tmp_path / "mosquitto", password_file=password_file).start()
    try:
        wrong = BrokerAddress(broker.host, broker.port, username="controller", password="nope")
        findings = diagnose(wrong, client_id("probe"))
    finally:
        broker.stop()
    assert [(f.check, f.ok) for f in findings] == [("reachable", True), ("login", False)]
    assert "check mqtt.username and mqtt.password" in findings[-1].text
