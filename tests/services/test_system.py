"""The whole system over a real Mosquitto: controller, devices, CLI, along the contract."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections.abc import Callable

import pytest

from homeguard.adapters.mqtt import MqttClient
from homeguard.core.model import Action
from homeguard.core.signals import Command
from homeguard.services.controller import Controller
from tests.conftest import MosquittoProcess, client_id, retained, wait_until
from tests.services.conftest import House, Observer, event, stop_process

pytestmark = pytest.mark.broker

STATE = "home/alarm/state"
SIREN = "home/control/alarm"


def arm_home(observer: Observer) -> None:
    observer.command("ARM_HOME", "1234")
    observer.wait_for(STATE, "armed_home")


def test_entry_delay_then_siren_on_time_then_off(
    controller: Controller, observer: Observer
) -> None:
    observer.command("ARM_AWAY", "1234")
    observer.wait_for(STATE, "arming")
    observer.wait_for(STATE, "armed_away")
    tripped = time.monotonic()
    observer.publish("home/security/door/front", "OPEN")
    observer.wait_for(STATE, "pending", after=tripped)
    siren_on = observer.wait_for(SIREN, "ON", after=tripped)
    assert siren_on - tripped >= 2.0  # the entry delay, never early
    assert siren_on - tripped < 6.0
    observer.wait_for(STATE, "triggered", after=tripped)
    siren_off = observer.wait_for(SIREN, "OFF", after=siren_on)
    assert siren_off - siren_on >= 3.0 - 0.1  # the siren time (less the observer's jitter)
    observer.wait_for(STATE, "armed_away", after=siren_off - 0.5)
    # The retained status follows the state: wait for it, not only for the state.
    observer.wait_for(
        "home/security/status",
        lambda p: json.loads(p)["state"] == "armed_away",
        after=siren_off - 0.5,
    )
    status = [json.loads(m.payload) for _, m in observer.seen if m.topic == "home/security/status"]
    assert {"status": "BREACH", "breaches": ["front"]}.items() <= status[-2].items()
    assert status[-1]["status"] == "OK"


def test_disarm_during_entry_delay_means_no_siren(
    controller: Controller, observer: Observer
) -> None:
    arm_home(observer)
    observer.publish("home/security/door/front", "OPEN")
    observer.wait_for(STATE, "pending")
    observer.command("DISARM", "1234")
    observer.wait_for(STATE, "disarmed")
    time.sleep(3)
    assert not [m for _, m in observer.seen if m.topic == SIREN and m.payload == b"ON"]


def test_wrong_code_is_refused_and_counted(
    controller: Controller, observer: Observer, house: House
) -> None:
    arm_home(observer)
    observer.command("DISARM", "0000")
    observer.wait_for("home/alarm/event", event("invalid_code"))
    assert controller.panel.state.value == "armed_home"
    assert len(controller.panel.code_lock.failures) == 1
    wait_until(lambda: house.store().count_system_events(event_type="invalid_code") == 1)


def test_tamper_triggers_while_disarmed(controller: Controller, observer: Observer) -> None:
    observer.publish("home/security/tamper/lid", "TAMPER")
    observer.wait_for(SIREN, "ON")
    observer.wait_for(STATE, "triggered")


def test_the_tutorial_short_form_topic_breaks_in(
    controller: Controller, observer: Observer
) -> None:
    arm_home(observer)
    observer.publish("home/security/door", "OPEN")  # mosquitto_pub -t home/security/door -m OPEN
    observer.wait_for(STATE, "pending")
    observer.wait_for(SIREN, "ON")


def test_announce_registers_a_device(
    controller: Controller, observer: Observer, house: House
) -> None:
    body = {"device_id": "garage", "type": "door", "capabilities": ["state"], "timestamp": 1.0}
    observer.publish("home/devices/garage/announce", json.dumps(body), retain=True)
    wait_until(lambda: "garage" in controller.devices)
    wait_until(lambda: any(d.device_id == "garage" for d in house.store().devices()))


def test_garbage_everywhere_is_rejected_and_counted(
    controller: Controller, observer: Observer
) -> None:
    topics = [
        "home/security/door/front",
        "home/security/door",
        "home/security/motion/hall",
        "home/devices/x/announce",
        "home/devices/front/availability",
        "home/alarm/set",
        "home/control/siren/state",
        "home/security/door/ghost",
        "home/security/nope/x",
    ]
    payloads = [
        os.urandom(64),
        b"\xff\xfe\x00garbage",
        b"{not json",
        b'{"state": 42}',
        b"[1, 2]",
        b"x" * 250_000,  # near the 256 KiB limit of our client and broker
        b"",
        b'{"action": "EXPLODE"}',
        b'{"state": "OPEN", "seq": -1}',
    ]
    for topic in topics:
        for payload in payloads:
            observer.publish(topic, payload)
    sent = len(topics) * len(payloads)
    # Not stats.messages: it also counts the controller's own retained status, which
    # arrives first, so it reaches ``sent`` before the last garbage is handled.
    rejected = controller.stats.rejected
    wait_until(lambda: sum(dict(rejected).values()) >= sent, what="all garbage rejected")
    assert sum(rejected.values()) == sent
    assert {"bad_json", "not_utf8", "too_large", "unknown_topic"} <= set(controller.stats.rejected)
    assert controller.panel.state.value == "disarmed"
    arm_home(observer)  # still working


# ----------------------------------------------------------------- restarts, crashes


@pytest.mark.slow
@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "kill-9"])
def test_no_event_lost_or_doubled_across_a_controller_restart(
    house: House, mosquitto: MosquittoProcess, how: int
) -> None:
    with house.config_path.open("a") as config:  # one door, 250 events a second: no flood
        config.write("rate_limit: {messages_per_second: 10000, burst: 10000}\n")
    controller = house.process("controller")
    wait_until(lambda: retained(mosquitto, "home/alarm/availability") == "online", timeout=20)
    publisher = MqttClient(address=mosquitto.address, client_id=client_id("pub"), persistent=False)
    publisher.start()
    sent = threading.Event()

    def publish_all() -> None:
        for seq in range(500):
            state = "OPEN" if seq % 2 else "CLOSED"
            body = {"state": state, "seq": seq, "ts": 1_700_000_000 + seq}
            publisher.publish("home/security/door/front", json.dumps(body), qos=1)
            time.sleep(0.004)
        sent.set()

    thread = threading.Thread(target=publish_all)
    thread.start()
    wait_until(lambda: house.sensor_count() >= 100, what="100 events stored")
    stop_process(controller, how)  # mid-stream
    time.sleep(0.5)
    controller = house.process("controller")
    thread.join()
    assert publisher.wait_published(30)
    publisher.stop()
    try:
        wait_until(lambda: house.sensor_count() >= 500, timeout=60, what="all 500 events stored")
        time.sleep(1)  # nothing more (no duplicate) may arrive
        with house.store() as store:
            events = store.sensor_events(device="front", limit=None)
        seqs = sorted(int(e.metadata["seq"]) for e in events if e.metadata)
        assert seqs == list(range(500))
    finally:
        stop_process(controller)


@pytest.mark.slow
def test_restart_during_entry_delay_keeps_the_original_deadline(
    house_factory: Callable[..., House], observer: Observer
) -> None:
    house = house_factory(entry=6, siren=30)
    controller = house.process("controller")
    observer.wait_for("home/alarm/availability", "online", timeout=20)
    arm_home(observer)
    tripped = time.monotonic()
    observer.publish("home/security/door/front", "OPEN")
    observer.wait_for(STATE, "pending", after=tripped)
    time.sleep(1)
    stop_process(controller, signal.SIGKILL)
    time.sleep(0.5)
    controller = house.process("controller")
    try:
        siren_on = observer.wait_for(SIREN, "ON", after=tripped, timeout=20)
        assert 6.0 <= siren_on - tripped < 7.4, siren_on - tripped  # not 6 s after the restart
    finally:
        stop_process(controller)


@pytest.mark.slow
def test_broker_killed_during_an_alarm(
    house_factory: Callable[..., House], mosquitto: MosquittoProcess
) -> None:
    house = house_factory(siren=60)
    controller = house.process("controller")
    client = MqttClient(address=mosquitto.address, client_id=client_id("user"), persistent=False)
    client.start()
    try:
        wait_until(lambda: house.cli("status", "--json").stdout.count('"online"') >= 1, timeout=20)
        client.publish("home/alarm/set", '{"action": "ARM_HOME", "code": "1234"}')
        client.publish("home/security/window/living", "OPEN")
        wait_until(lambda: retained(mosquitto, STATE) == "triggered", what="triggered")
        client.stop()
        mosquitto.kill()  # loses what it had not saved
        mosquitto.start()
        wait_until(
            lambda: retained(mosquitto, STATE) == "triggered",
            timeout=30,
            what="the controller to restate the panel on the new broker",
        )
        status = json.loads(retained(mosquitto, "home/security/status") or "{}")
        assert status["status"] == "BREACH"
        assert retained(mosquitto, SIREN) is None  # commands are not retained
        result = house.cli("disarm", "--code", "1234")
        assert result.returncode == 0, result.stderr
        wait_until(lambda: retained(mosquitto, STATE) == "disarmed", what="disarmed")
    finally:
        stop_process(controller)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("how", "trouble"), [(signal.SIGKILL, "offline"), (signal.SIGSTOP, "supervision")]
)
def test_a_dead_simulated_sensor_raises_trouble(
    controller: Controller, observer: Observer, house: House, how: int, trouble: str
) -> None:
    simulator = house.process("simulate", "--sensor", "shed")
    try:
        observer.wait_for("home/devices/shed/availability", "online", timeout=20)
        observer.wait_for("home/security/door/shed", lambda p: True)
        killed = time.monotonic()
        simulator.send_signal(how)
        when = observer.wait_for("home/alarm/event", event("trouble"), after=killed, timeout=10)
        assert when - killed < 3 + 1.5  # the supervision interval, and a little
        (raised,) = [e for e in observer.events("trouble") if e["sensor"] == "shed"]
        assert raised["trouble"] == trouble
    finally:
        if how == signal.SIGSTOP:
            simulator.send_signal(signal.SIGCONT)
        simulator.kill()
        simulator.wait()


def test_other_threads_ask_through_the_controller_thread(
    controller: Controller, observer: Observer
) -> None:
    seen: list[str] = []
    controller.watch(lambda view: seen.append(view.panel.state.value))
    refused = controller.request(Command(Action.ARM_HOME, "0000", source="api"))
    assert refused.rejection is not None
    assert refused.rejection.reason.value == "invalid_code"
    accepted = controller.request(Command(Action.ARM_HOME, "1234", source="api"))
    assert accepted.rejection is None
    assert accepted.panel.state.value == "armed_home"
    observer.wait_for(STATE, "armed_home")
    wait_until(lambda: "armed_home" in seen, what="the watcher to see the change")


def test_the_controller_runs_its_mqtt_loop_itself(
    controller: Controller, observer: Observer
) -> None:
    """No network thread of paho's beside the controller's (docs/architecture.md): the
    controller's own thread reads and writes its client's socket between turns, and the
    other threads' messages (the heartbeat, the dashboard's requests) still go out."""
    client = controller.client
    assert isinstance(client, MqttClient)
    paho = f"paho-mqtt-client-{client.client_id}"  # paho's name for its thread
    assert paho not in [t.name for t in threading.enumerate()]
    arm_home(observer)  # over MQTT
    outcome = controller.request(Command(Action.DISARM, "1234", source="test"))  # a thread
    assert outcome.rejection is None
    observer.wait_for(STATE, "disarmed")
