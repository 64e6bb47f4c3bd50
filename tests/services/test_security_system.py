"""Issue 5 over a real Mosquitto: one lockout for every way in, and no secret anywhere."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from homeguard.app import connected_controller
from homeguard.core import signing
from homeguard.core.model import Action, PanelState, SensorState
from homeguard.core.panel import RejectReason
from homeguard.core.signals import Command
from homeguard.services.controller import Controller
from tests.conftest import MosquittoProcess, wait_until
from tests.services.conftest import House, Observer, _cheap, event, stop_process

pytestmark = pytest.mark.broker

WRONG = "0000"


def test_twenty_wrong_codes_over_mqtt_api_and_cli_lock_out_all_three(
    controller: Controller, house: House, observer: Observer
) -> None:
    observer.command("ARM_HOME", "1234")
    observer.wait_for("home/alarm/state", "armed_home")
    refusals = ("invalid_code", "locked_out")
    mqtt_answers = 0

    def by_mqtt(code: str) -> None:
        nonlocal mqtt_answers
        observer.command("DISARM", code)
        mqtt_answers += 1
        wait_until(
            lambda: sum(len(observer.events(k)) for k in refusals) >= mqtt_answers + api_cli[0],
            what="the controller's answer",
        )

    api_cli = [0]  # refusal events caused by the API and the CLI, to wait for MQTT's own

    def by_api(code: str) -> RejectReason | None:
        outcome = controller.request(Command(Action.DISARM, code, source="api"))
        api_cli[0] += 1
        return None if outcome.rejection is None else outcome.rejection.reason

    def by_cli(code: str) -> str:
        result = house.cli("disarm", "--code", code)
        assert result.returncode == 2, result.stderr
        api_cli[0] += 1
        return result.stderr

    # 20 wrong codes, taking turns: mqtt, api, cli, mqtt, api, cli, ...
    channels = ["mqtt", "api", "cli"]
    for attempt in range(20):
        channel = channels[attempt % 3]
        if channel == "mqtt":
            by_mqtt(WRONG)
        elif channel == "api":
            by_api(WRONG)
        else:
            by_cli(WRONG)
        if attempt == 4:  # the fifth wrong code, whichever way it came, locks code entry
            assert controller.panel.code_lock.locked(time.time())
    lock = controller.panel.code_lock
    assert lock.lockouts == 1  # one lockout shared by all, not one per channel
    wait_until(lambda: len(observer.events("invalid_code")) == 5, what="5 invalid codes")
    # Now even the right code is refused, whichever way it comes.
    assert by_api("1234") is RejectReason.LOCKED_OUT
    assert "locked" in by_cli("1234")
    before = len(observer.events("locked_out"))
    observer.command("DISARM", "1234")
    wait_until(lambda: len(observer.events("locked_out")) > before, what="mqtt lockout")
    assert controller.panel.state is PanelState.ARMED_HOME
    assert len(observer.events("invalid_code")) == 5
    sources = {e["source"] for e in observer.events("locked_out")}
    assert sources == {"mqtt", "api"}  # the CLI publishes over MQTT
    with house.store() as store:
        assert store.count_system_events(event_type="invalid_code") == 5


# ------------------------------------------------------------------ no secret leaks

PIN, DURESS, WRONG_CODES = "73915", "86204", ("50617", "29384")
PASSWORD, MQTT_PASSWORD, SECRET = "hunter2-dashboard", "mqtt-pass-Xy7q", "sig-secret-Zq8wP4"

LEAKY_HOUSE = """
mqtt: {{host: 127.0.0.1, port: {port}, base_topic: home, username: controller,
        password: "{mqtt_password}"}}
storage: {{path: events.db, synchronous: normal}}
panel:
  modes:
    armed_home: {{exit_delay: 0, entry_delay: 5, siren_time: 5}}
users:
  - {{name: alice, pin_hash: "{alice}", password: "{password}"}}
  - {{name: coerced, pin: "{duress}", duress: true}}
sensors:
  - {{id: front, type: door, signed: true, secret: "{secret}"}}
  - {{id: living, type: window}}
simulation: {{heartbeat: 0.3, door_change_probability: 0, motion_probability: 0}}
"""


@pytest.fixture
def leaky_house(mosquitto: MosquittoProcess, tmp_path: Path) -> House:
    path = tmp_path / "homeguard.yaml"
    path.write_text(
        LEAKY_HOUSE.format(
            port=mosquitto.port,
            mqtt_password=MQTT_PASSWORD,
            alice=_cheap(PIN),
            password=PASSWORD,
            duress=DURESS,
            secret=SECRET,
        )
    )
    return House(mosquitto, path, tmp_path / "data")


@pytest.fixture
def leaky_controller(leaky_house: House) -> Iterator[Controller]:
    stop = threading.Event()
    with connected_controller(leaky_house.site) as running:
        thread = threading.Thread(target=running.run, args=(stop,), daemon=True)
        thread.start()
        yield running
        stop.set()
        thread.join(timeout=10)


def _signed(observer: Observer) -> set[str]:
    """The signatures seen on the front door's topic."""
    seen = [m for _, m in observer.seen if m.topic == "home/security/door/front"]
    return {json.loads(m.payload)["sig"] for m in seen if m.payload.startswith(b"{")}


def test_no_code_password_secret_or_signature_in_logs_events_or_errors(
    leaky_house: House,
    leaky_controller: Controller,
    observer: Observer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    house, controller = leaky_house, leaky_controller
    simulator = house.process("simulate", "--sensor", "front", "-v")
    try:
        wait_until(lambda: controller.panel.message_seqs.get("front", 0) > 0, what="signed")
        outputs: list[str] = []
        for args in (
            ("arm", "home", "--code", PIN),
            ("disarm", "--code", WRONG_CODES[0]),
            ("disarm", "--code", DURESS),
            ("arm", "home", "--code", WRONG_CODES[1], "-v"),
            ("status", "--json", "-v"),
        ):
            result = house.cli(*args)
            outputs += [result.stdout, result.stderr]
        wait_until(lambda: len(_signed(observer)) >= 2, what="two signed reports")
        # The device falls silent before the CLI signs as it would: two signers of one
        # sensor racing each other are rightly refused as replays (seq goes backwards).
        stop_process(simulator)
        result = house.cli("sensor", "front", "open", "-v")
        outputs += [result.stdout, result.stderr]
        assert "home/security/door/front OPEN (signed)" in outputs[-2]
        wait_until(lambda: controller.panel.sensor("front").state is SensorState.OPEN)
        # Codes where they do not belong, over MQTT.
        for payload in (
            WRONG_CODES[0],
            json.dumps({"action": WRONG_CODES[1]}),
            json.dumps({"action": "DISARM", "code": WRONG_CODES[0], "force": "yes"}),
            '{"action": "DISARM", "code": "' + WRONG_CODES[1] + '"',
            json.dumps({"action": "ARM_HOME", "code": PIN, "extra": [PIN]}),
        ):
            observer.publish("home/alarm/set", payload)
        controller.request(Command(Action.DISARM, WRONG_CODES[1], source="api"))
        # Forged and replayed signed messages.
        seen = [m for _, m in observer.seen if m.topic == "home/security/door/front"]
        forged = signing.sign(b"a guess", "front", {"state": "OPEN", "seq": 10**15, "ts": 1.0})
        observer.publish("home/security/door/front", json.dumps(forged))
        observer.publish("home/security/door/front", seen[0].payload)
        observer.publish("home/security/door/front", "OPEN")
        observer.wait_for("home/alarm/event", event("security"))
        wait_until(lambda: len(observer.events("security")) >= 3, what="3 security events")
        wait_until(lambda: controller.stats.rejected["unknown_action"] >= 2, what="rejections")
    finally:
        stop_process(simulator)
    signatures = _signed(observer)
    assert forged["sig"] in signatures and len(signatures) > 3
    with house.store() as store:
        events = store.system_events(limit=None)
        sensor_events = store.sensor_events(limit=None)
        alerts = store.silent_alerts()
    kinds = {e.event_type for e in events}
    assert {"security", "invalid_code", "armed", "disarmed"} <= kinds
    assert [a.event_type for a in alerts] == ["duress"]
    texts = {
        "controller and CLI logs (caplog)": caplog.text,
        "process logs": "".join(p.read_text() for p in house.data_dir.glob("*.log")),
        "cli output": "".join(outputs),
        "system events": json.dumps([(e.description, e.data) for e in events]),
        "silent alerts": json.dumps([(e.description, e.data) for e in alerts]),
        "sensor events": json.dumps([e.metadata for e in sensor_events]),
        "published events": json.dumps(observer.events("security")),
    }
    assert "refused" in texts["cli output"] and "rejected message" in caplog.text
    secrets = [PIN, DURESS, *WRONG_CODES, PASSWORD, MQTT_PASSWORD, SECRET]
    secrets += [s for sig in signatures for s in (sig, sig[:16])]
    for where, text in texts.items():
        for secret in secrets:
            assert secret not in text, f"{secret!r} found in the {where}"
