"""The intake on its own: what one message yields, as a pure function of the message,
the site, the panel, the known devices and the time; nothing published, nothing stored,
the panel and the devices given untouched."""

from __future__ import annotations

import json
from dataclasses import replace
from types import MappingProxyType

from homeguard.adapters.codecs import RfSignal
from homeguard.adapters.mqtt import Message
from homeguard.adapters.topics import HomeAssistantTopics, SensorBinding, TopicMap
from homeguard.core import signing
from homeguard.core.model import Action, PanelSettings, SensorSpec, SensorState, SensorType
from homeguard.core.panel import Panel, new_panel
from homeguard.core.records import DeviceRecord
from homeguard.core.signals import Availability, Command, EventKind, SensorReport
from homeguard.errors import SecurityRejected
from homeguard.services.intake import Refusal, Setup, Taken, intake
from homeguard.services.message_security import DeviceKey, MessageSecurity

T0 = 1764288000.0
SECRET = b"cellar-secret-0123456789"
SETTINGS = PanelSettings(
    sensors=(
        SensorSpec("front", SensorType.DOOR),
        SensorSpec("cellar", SensorType.DOOR),
        SensorSpec("kitchen", SensorType.WINDOW),
        SensorSpec("porch", SensorType.WINDOW),
        SensorSpec("gone", SensorType.DOOR),
    )
)
BRIDGE = {"80650A": RfSignal.ACTIVE, "80650E": RfSignal.INACTIVE}
TOPICS = TopicMap.build(
    "home",
    [
        SensorBinding("front", SensorType.DOOR),
        SensorBinding("cellar", SensorType.DOOR),
        SensorBinding("gone", SensorType.DOOR),
        SensorBinding("kitchen", SensorType.WINDOW, "tasmota", device="rfbridge", rf_codes=BRIDGE),
        SensorBinding(
            "porch",
            SensorType.WINDOW,
            "tasmota",
            device="rfbridge",
            rf_codes={"A1B2C3": RfSignal.ACTIVE},
        ),
    ],
    ["siren"],
    discovery=HomeAssistantTopics("homeassistant", "homeguard_home"),
)
OURS = "homeassistant/alarm_control_panel/homeguard_home/panel/config"
SETUP = Setup(
    TOPICS,
    SETTINGS,
    MessageSecurity(keys={"cellar": DeviceKey(SECRET)}, revoked=frozenset({"gone"})),
    MappingProxyType({OURS: b'{"name": "panel"}'}),
)
PANEL = new_panel(T0)
NO_DEVICES: MappingProxyType[str, DeviceRecord] = MappingProxyType({})


def take(
    topic: str,
    payload: bytes | str,
    *,
    retain: bool = False,
    panel: Panel = PANEL,
    setup: Setup = SETUP,
    devices: MappingProxyType[str, DeviceRecord] = NO_DEVICES,
    surplus: bool = False,
) -> Taken:
    raw = payload.encode() if isinstance(payload, str) else payload
    message = Message(topic, raw, 1, retain, 1, False)
    return intake(message, setup, panel, devices, T0, surplus=surplus)


def test_a_door_word_yields_a_report_and_a_record_without_a_dedup_key() -> None:
    taken = take("home/security/door/front", "OPEN")
    assert taken.inputs == (SensorReport("front", SensorState.OPEN),)
    [record] = taken.sensor_events
    assert (record.ts, record.device_id, record.state, record.sensor_type) == (
        T0,
        "front",
        "OPEN",
        "door",
    )
    assert record.dedup_key is None  # plain words cannot be told apart
    assert record.metadata == {"topic": "home/security/door/front"}
    assert taken.rejection is None and not taken.events and not taken.devices


def test_a_json_report_carries_its_seq_to_the_engine_and_a_dedup_key_to_the_store() -> None:
    payload = json.dumps({"state": "CLOSED", "seq": 9, "ts": T0, "battery": 80})
    taken = take("home/security/door/front", payload)
    assert taken.inputs == (SensorReport("front", SensorState.CLOSED, seq=9, battery=80),)
    [record] = taken.sensor_events
    assert record.metadata is not None and record.metadata["seq"] == 9
    assert record.dedup_key is not None and record.dedup_key.startswith("front:")
    assert take("home/security/door/front", payload).sensor_events[0].dedup_key == (
        record.dedup_key
    )
    assert PANEL.message_seqs == {}  # the engine, not the intake, remembers the seq


def test_surplus_reaches_the_engine_but_leaves_its_record_to_the_flood_summary() -> None:
    taken = take("home/security/door/front", "OPEN", surplus=True)
    assert taken.inputs == (SensorReport("front", SensorState.OPEN),)
    assert taken.sensor_events == ()


def test_a_signed_message_opens_to_its_fields_and_a_replay_is_refused() -> None:
    fields = {"state": "OPEN", "seq": 4, "ts": T0}
    payload = json.dumps(signing.sign(SECRET, "cellar", fields))
    taken = take("home/security/door/cellar", payload)
    assert taken.inputs == (SensorReport("cellar", SensorState.OPEN, seq=4),)
    assert taken.sensor_events[0].metadata is not None
    assert "sig" not in taken.sensor_events[0].metadata

    seen = replace(PANEL, message_seqs={"cellar": 4})
    again = take("home/security/door/cellar", payload, panel=seen)
    assert again.inputs == () and again.sensor_events == ()
    assert isinstance(again.rejection, SecurityRejected)
    assert again.rejection.reason == "replayed"
    [refusal] = again.refusals
    assert refusal == Refusal("cellar", "replayed", refusal.detail)
    assert refusal.event.kind is EventKind.SECURITY
    assert payload not in json.dumps(dict(refusal.event.data))  # never the payload


def test_an_unsigned_message_for_a_signing_sensor_is_refused() -> None:
    taken = take("home/security/door/cellar", "OPEN")
    assert taken.inputs == ()
    assert taken.rejection is not None and taken.rejection.reason == "unsigned"
    assert [r.sensor_id for r in taken.refusals] == ["cellar"]


def test_availability_updates_the_device_and_reaches_the_engine_for_a_sensor() -> None:
    known = MappingProxyType(
        {"front": DeviceRecord("front", "door", ("state",), None, T0 - 100, T0 - 200)}
    )
    taken = take("home/devices/front/availability", "online", devices=known)
    assert taken.inputs == (Availability("front", True),)
    assert taken.devices == (replace(known["front"], online=True, last_seen=T0),)
    assert known["front"].online is None  # what it was given stays as it was

    stranger = take("home/devices/lamp/availability", "offline")
    assert stranger.inputs == ()  # not a sensor: known as a device, not for the panel
    assert stranger.devices == (DeviceRecord("lamp", "unknown", (), False, None, None),)

    revoked = take("home/devices/gone/availability", "online")
    assert revoked.rejection is not None and revoked.rejection.reason == "revoked"
    assert revoked.inputs == () and revoked.devices == ()


def test_an_announcement_keeps_what_was_known_of_the_device() -> None:
    known = MappingProxyType({"front": DeviceRecord("front", "unknown", (), True, T0 - 5, None)})
    body = {"device_id": "front", "type": "door", "capabilities": ["state"], "timestamp": T0 - 1}
    taken = take("home/devices/front/announce", json.dumps(body), devices=known)
    assert taken.devices == (DeviceRecord("front", "door", ("state",), True, T0 - 5, T0 - 1),)
    assert taken.inputs == ()


def test_commands_are_inputs_and_a_retained_one_is_cleared_and_refused() -> None:
    taken = take("home/alarm/set", json.dumps({"action": "DISARM", "code": "1234"}))
    assert taken.inputs == (Command(Action.DISARM, "1234"),)
    trusted = replace(SETUP, security=replace(SETUP.security, trusted_commands=True))
    assert take("home/alarm/set", "ARM_AWAY", setup=trusted).inputs == (
        Command(Action.ARM_AWAY, trusted=True),
    )

    kept = take("home/alarm/set", json.dumps({"action": "DISARM", "code": "1234"}), retain=True)
    assert kept.inputs == ()
    assert kept.clear_retained == ("home/alarm/set",)
    [event] = kept.events
    assert event.kind is EventKind.COMMAND_REJECTED and "1234" not in event.description
    assert kept.rejection is not None and kept.rejection.reason == "retained_command"


def test_a_shared_bridge_topic_is_read_by_the_sensor_whose_code_it_is() -> None:
    rf = {"RfReceived": {"Data": "80650A"}}
    taken = take("tele/rfbridge/RESULT", json.dumps(rf))
    assert taken.inputs == (SensorReport("kitchen", SensorState.OPEN, tamper=False),)
    assert taken.rejection is None
    nobody = take("tele/rfbridge/RESULT", json.dumps({"RfReceived": {"Data": "FFFFFF"}}))
    assert nobody.inputs == ()
    assert nobody.rejection is not None and nobody.rejection.reason == "unmatched"


def test_home_assistant_and_our_own_discovery_configs() -> None:
    assert take("homeassistant/status", "online").restate_discovery
    assert not take("homeassistant/status", "offline").restate_discovery
    assert take(OURS, '{"name": "panel"}').echo  # heard back: not news
    stale = "homeassistant/binary_sensor/homeguard_home/old/config"
    assert take(stale, "{}").clear_retained == (stale,)
    assert take(stale, "").clear_retained == ()  # already cleared


def test_actuator_states_and_unknown_topics() -> None:
    assert take("home/control/siren/state", "ON").actuators == (("siren", True),)
    unknown = take("home/elsewhere", "OPEN")
    assert unknown.rejection is not None and unknown.rejection.reason == "unknown_topic"
    assert unknown == Taken(rejection=unknown.rejection)
