"""Signed and encrypted sensor messages and trusted commands, through the controller.

The controller runs with a fake MQTT client and a real event store, one turn at a time,
so that every refusal can be checked against the panel, the store and the log.
"""

from __future__ import annotations

import json
import queue
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from homeguard.adapters.mqtt import Message
from homeguard.adapters.sealing import seal
from homeguard.adapters.store import EventStore
from homeguard.adapters.topics import SensorBinding, SiteTopics, TopicMap
from homeguard.config import Config, parse_config
from homeguard.core import signing
from homeguard.core.codes import hash_pin
from homeguard.core.model import PanelState, SensorState
from homeguard.errors import ConfigError
from homeguard.services.controller import Controller, Inbox
from homeguard.services.devices import SimulatedSensor, SimulationSettings
from homeguard.services.message_security import (
    DeviceKey,
    DeviceSigner,
    MessageSecurity,
    load_security,
)
from homeguard.services.outbound import Outbound
from tests.services.conftest import FakeClient

T0 = 1764288000.0
FRONT = b"front-door-secret-0123456789"
CELLAR = b"cellar-secret-abcdef"
PIN = "1234"

HOUSE = """
panel:
  mqtt_commands: {mqtt_commands}
  modes:
    armed_home: {{exit_delay: 0, entry_delay: 0}}
users:
  - {{name: alice, pin_hash: "{alice}"}}
sensors:
  - {{id: front, type: door, zone: perimeter, signed: true, secret: "{front}"}}
  - {{id: cellar, type: door, zone: perimeter, signed: true, encrypted: true}}
  - {{id: living, type: window}}
signing: {{window: 30}}
"""


def house(tmp_path: Path, mqtt_commands: str = "code") -> Config:
    provisioned = tmp_path / "data" / "security" / "devices"
    provisioned.mkdir(parents=True, exist_ok=True)
    (provisioned / "cellar.json").write_text(json.dumps({"format": 1, "secret": CELLAR.decode()}))
    alice = hash_pin(PIN, b"0123456789abcdef", log2_n=2, r=1)
    text = HOUSE.format(mqtt_commands=mqtt_commands, alice=alice, front=FRONT.decode())
    return parse_config(text)


class Rig:
    """A controller on a fake broker; ``send`` delivers one message and runs a turn."""

    def __init__(self, config: Config, data_dir: Path) -> None:
        self.now = T0
        self.client = FakeClient()
        self.inbox: Inbox = queue.Queue()
        self.store = EventStore(data_dir / "events.db")
        bindings = [SensorBinding(s.id, s.type, s.family) for s in config.sensors]
        self.security = load_security(config, data_dir)
        self.controller = Controller(
            settings=config.panel_settings(),
            topics=TopicMap.build("home", bindings, []),
            outbound=Outbound(self.client, SiteTopics("home")),
            client=self.client,
            inbox=self.inbox,
            store=self.store,
            clock=lambda: self.now,
            security=self.security,
        )
        self.controller.start()
        self._mid = 0

    def send(self, topic: str, payload: bytes | str) -> None:
        self._mid += 1
        raw = payload.encode() if isinstance(payload, str) else payload
        self.inbox.put(Message(topic, raw, 1, False, self._mid, False))
        self.controller.turn()
        assert self._mid in self.client.acked  # refused or not, it is acknowledged

    def security_events(self) -> list[dict[str, Any]]:
        events = self.store.system_events(event_type="security", newest_first=False)
        return [dict(e.data or {}) for e in events]

    @property
    def panel_state(self) -> PanelState:
        return self.controller.panel.state


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    made = Rig(house(tmp_path), tmp_path / "data")
    yield made
    made.store.close()


def signed(fields: dict[str, Any], secret: bytes = FRONT, device: str = "front") -> bytes:
    return json.dumps(signing.sign(secret, device, fields)).encode()


def door(state: str, seq: int, ts: float = T0) -> dict[str, Any]:
    return {"state": state, "seq": seq, "ts": ts}


FRONT_TOPIC = "home/security/door/front"


def test_a_good_signature_is_obeyed_and_its_seq_kept(rig: Rig) -> None:
    rig.send(FRONT_TOPIC, signed(door("OPEN", 5)))
    assert rig.controller.panel.sensor("front").state is SensorState.OPEN
    assert rig.controller.panel.message_seqs == {"front": 5}
    [stored] = rig.store.sensor_events(device="front")
    assert stored.metadata is not None and "sig" not in stored.metadata
    assert stored.metadata["seq"] == 5
    assert rig.security_events() == []


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"OPEN", "unsigned"),
        (b'{"state": "OPEN", "seq": 9, "ts": 1764288000}', "unsigned"),
        (signed(door("OPEN", 9), secret=b"a guess"), "bad_signature"),
        (signed(door("OPEN", 9), device="living"), "bad_signature"),
        (signed(door("OPEN", 9, ts=T0 - 31)), "stale"),
        (signed(door("OPEN", 9, ts=T0 + 31)), "stale"),
        (signed({"state": "OPEN", "seq": 9}), "malformed_signed"),
    ],
    ids=["plain", "no-sig", "wrong-secret", "other-device", "old", "future", "no-ts"],
)
def test_refused_messages_change_nothing_and_are_security_events(
    rig: Rig, payload: bytes, reason: str, caplog: pytest.LogCaptureFixture
) -> None:
    before = rig.controller.panel
    for topic in (FRONT_TOPIC, "home/security/door"):  # the short form reaches front too
        rig.send(topic, payload)
    assert rig.controller.panel == before
    events = rig.security_events()
    assert [e["reason"] for e in events] == [reason, reason]
    assert {e["sensor"] for e in events} == {"front"}
    assert rig.controller.stats.rejected[reason] == 2
    published = [json.loads(p) for t, p in rig.client.published if t == "home/alarm/event"]
    assert [p["event"] for p in published if p["event"] == "security"] == ["security"] * 2
    shown = caplog.text + json.dumps(events) + json.dumps(published)
    assert FRONT.decode() not in shown
    if b"sig" in payload:
        assert json.loads(payload)["sig"] not in shown


def test_replays_are_refused_also_after_a_restart(rig: Rig, tmp_path: Path) -> None:
    rig.send(FRONT_TOPIC, signed(door("OPEN", 7)))
    rig.send(FRONT_TOPIC, signed(door("CLOSED", 8)))
    rig.send(FRONT_TOPIC, signed(door("OPEN", 7)))  # replayed
    rig.send(FRONT_TOPIC, signed(door("OPEN", 8)))  # a new message with an old seq
    assert rig.controller.panel.sensor("front").state is SensorState.CLOSED
    assert [e["reason"] for e in rig.security_events()] == ["replayed", "replayed"]
    rig.store.close()
    again = Rig(house(tmp_path), tmp_path / "data")  # a restarted controller
    try:
        assert again.controller.panel.message_seqs == {"front": 8}
        again.send(FRONT_TOPIC, signed(door("OPEN", 8)))
        assert again.controller.panel.sensor("front").state is SensorState.CLOSED
        again.send(FRONT_TOPIC, signed(door("OPEN", 9)))
        assert again.controller.panel.sensor("front").state is SensorState.OPEN
    finally:
        again.store.close()


def test_an_invalid_state_in_a_signed_message_does_not_spend_its_seq(rig: Rig) -> None:
    rig.send(FRONT_TOPIC, signed(door("MOTION", 3)))
    assert rig.controller.stats.rejected["unknown_state"] == 1
    assert rig.controller.panel.message_seqs == {}
    rig.send(FRONT_TOPIC, signed(door("OPEN", 3)))
    assert rig.controller.panel.sensor("front").state is SensorState.OPEN


def test_signed_heartbeats_count_as_messages(rig: Rig) -> None:
    rig.send(FRONT_TOPIC, signed({"seq": 1, "ts": T0, "battery": 90}))
    assert rig.controller.panel.sensor("front").last_seen == T0
    assert rig.controller.panel.message_seqs == {"front": 1}


def test_an_unsigned_sensor_is_unaffected(rig: Rig) -> None:
    rig.send("home/security/window/living", "OPEN")
    assert rig.controller.panel.sensor("living").state is SensorState.OPEN


def test_encrypted_messages(rig: Rig) -> None:
    topic = "home/security/door/cellar"
    inner = signed(door("OPEN", 1), secret=CELLAR, device="cellar")
    rig.send(topic, inner)  # signed but not encrypted
    rig.send(topic, seal(b"other", inner, T0))
    rig.send(topic, seal(CELLAR, signed(door("OPEN", 1), device="cellar"), T0))  # wrong sig
    assert rig.controller.panel.sensor("cellar").state is None
    assert [e["reason"] for e in rig.security_events()] == [
        "bad_encryption",
        "bad_encryption",
        "bad_signature",
    ]
    token = seal(CELLAR, inner, T0)
    assert b"OPEN" not in token
    rig.send(topic, token)
    assert rig.controller.panel.sensor("cellar").state is SensorState.OPEN
    rig.send(topic, token)  # the same token again: a replay
    assert rig.security_events()[-1]["reason"] == "replayed"


def test_simulated_sensors_sign_and_seal_when_configured(rig: Rig) -> None:
    for sensor_id in ("front", "cellar"):
        spec = rig.controller._settings.sensor(sensor_id)
        assert spec is not None
        client = FakeClient()
        sensor = SimulatedSensor(
            spec,
            topics=SiteTopics("home"),
            client=client,  # type: ignore[arg-type]
            settings=SimulationSettings(),
            clock=lambda: rig.now,
            rng=random.Random(1),
            signer=DeviceSigner(sensor_id, rig.security.keys[sensor_id]),
        )
        sensor.report(SensorState.OPEN)
        sensor.report(None)
        for topic, payload in client.published:
            rig.send(topic, payload)
        assert rig.controller.panel.sensor(sensor_id).state is SensorState.OPEN
    assert rig.security_events() == []
    # Counted from the clock in milliseconds: a restarted device stays above its past.
    assert rig.controller.panel.message_seqs["front"] == int(T0 * 1000) + 1


# ------------------------------------------------------------------ the command topic


def test_code_mode_needs_a_code_on_mqtt(rig: Rig) -> None:
    rig.send("home/alarm/set", "ARM_HOME")
    assert rig.panel_state is PanelState.DISARMED
    rig.send("home/alarm/set", json.dumps({"action": "ARM_HOME", "code": PIN}))
    assert rig.panel_state is PanelState.ARMED_HOME


def test_trusted_mode_takes_mqtt_commands_without_a_code(tmp_path: Path) -> None:
    rig = Rig(house(tmp_path, "trusted"), tmp_path / "data")
    try:
        rig.send("home/alarm/set", "ARM_HOME")
        assert rig.panel_state is PanelState.ARMED_HOME
        rig.send("home/alarm/set", json.dumps({"action": "DISARM", "code": "0000"}))
        assert rig.panel_state is PanelState.ARMED_HOME  # a code given is still checked
        assert len(rig.controller.panel.code_lock.failures) == 1
        rig.send("home/alarm/set", "DISARM")
        assert rig.panel_state is PanelState.DISARMED
    finally:
        rig.store.close()


# ------------------------------------------------------------------------- secrets


def test_secrets_come_inline_or_from_the_provisioned_files(tmp_path: Path) -> None:
    security = load_security(house(tmp_path), tmp_path / "data")
    assert security.keys == {
        "front": DeviceKey(FRONT),
        "cellar": DeviceKey(CELLAR, encrypted=True),
    }
    assert FRONT.decode() not in repr(security) and CELLAR.decode() not in repr(security)
    assert security.window == 30 and not security.trusted_commands


def test_a_missing_provisioned_secret_is_a_config_error(tmp_path: Path) -> None:
    config = house(tmp_path)
    (tmp_path / "data" / "security" / "devices" / "cellar.json").unlink()
    with pytest.raises(ConfigError, match=r"'cellar' is signed but .*cellar\.json does not exist"):
        load_security(config, tmp_path / "data")
    (tmp_path / "data" / "security" / "devices" / "cellar.json").write_text('{"secret": 5}')
    with pytest.raises(ConfigError, match='no "secret"'):
        load_security(config, tmp_path / "data")


@pytest.mark.parametrize(
    ("sensor", "complaint"),
    [
        ("{id: a, type: door, family: tasmota, signed: true}", "only homeguard-family"),
        ("{id: a, type: door, encrypted: true}", "encrypted needs signed"),
        ('{id: a, type: door, secret: "x"}', "only used with signed"),
        ('{id: a, type: door, signed: true, secret: ""}', "must not be empty"),
    ],
)
def test_signing_config_mistakes(sensor: str, complaint: str) -> None:
    with pytest.raises(ConfigError, match=complaint):
        parse_config(f"sensors:\n  - {sensor}\n")


def test_the_secret_is_never_printed() -> None:
    config = parse_config('sensors:\n  - {id: a, type: door, signed: true, secret: "s3cr3t!"}\n')
    assert "s3cr3t!" not in repr(config) and "s3cr3t!" not in config.model_dump_json()
    with pytest.raises(ConfigError) as caught:
        parse_config('sensors:\n  - {id: a, type: door, signed: maybe, secret: "s3cr3t!"}\n')
    assert "s3cr3t!" not in str(caught.value)


def test_unsigned_sites_check_nothing() -> None:
    security = MessageSecurity()
    assert security.open_sensor("front", b"OPEN", None, T0) == (b"OPEN", None)
