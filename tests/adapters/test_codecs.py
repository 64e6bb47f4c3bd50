"""Payload codecs and topic routing: every family, every type, and fuzzing for crashes."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from homeguard.adapters.codecs import (
    MAX_PAYLOAD,
    Announcement,
    Family,
    Reading,
    decode_announce,
    decode_availability,
    decode_command,
    decode_sensor,
    decode_switch,
)
from homeguard.adapters.topics import (
    ActuatorStateRoute,
    AnnounceRoute,
    AvailabilityRoute,
    CommandRoute,
    IgnoredRoute,
    SensorBinding,
    SensorRoute,
    SiteTopics,
    TopicMap,
    default_topic,
)
from homeguard.core.model import Action, SensorState, SensorType
from homeguard.core.signals import ActuatorKind, Command
from homeguard.errors import ConfigError, PayloadError

T = SensorType
S = SensorState
DOOR, WINDOW, MOTION, TAMPER = T.DOOR, T.WINDOW, T.MOTION, T.TAMPER
PANIC, SMOKE, WATER = T.PANIC, T.SMOKE, T.WATER

REASONS = {
    "empty",
    "too_large",
    "not_utf8",
    "bad_json",
    "unknown_state",
    "no_state",
    "missing_field",
    "bad_field",
    "unknown_action",
    "device_mismatch",
    "unknown_family",
    "unknown_type",
    "unknown_topic",
}


def rejects(reason: str, call: Any, *args: Any) -> PayloadError:
    with pytest.raises(PayloadError) as info:
        call(*args)
    assert info.value.reason == reason, info.value
    return info.value


# ------------------------------------------------------------------ native family

NATIVE_PLAIN = [
    (DOOR, b"OPEN", S.OPEN),
    (DOOR, b"CLOSED", S.CLOSED),
    (DOOR, b"  open\r\n", S.OPEN),
    (DOOR, b"Closed", S.CLOSED),
    (DOOR, b"TAMPER", S.TAMPER),
    (DOOR, b'"OPEN"', S.OPEN),  # a JSON string literal is the plain word
    (DOOR, b"\xef\xbb\xbfOPEN", S.OPEN),  # UTF-8 BOM
    (WINDOW, b"OPEN", S.OPEN),
    (WINDOW, b"closed", S.CLOSED),
    (WINDOW, b"tamper", S.TAMPER),
    (MOTION, b"MOTION", S.MOTION),
    (MOTION, b"NO_MOTION", S.NO_MOTION),
    (MOTION, b"no_motion", S.NO_MOTION),
    (MOTION, b"TAMPER", S.TAMPER),
    (SMOKE, b"ON", S.ON),
    (SMOKE, b"off", S.OFF),
    (SMOKE, b"TAMPER", S.TAMPER),
    (WATER, b"ON", S.ON),
    (WATER, b"OFF", S.OFF),
    (PANIC, b"on", S.ON),
    (PANIC, b"OFF", S.OFF),
    (TAMPER, b"TAMPER", S.TAMPER),
    (TAMPER, b"ON", S.TAMPER),
    (TAMPER, b"OFF", S.OFF),
]


@pytest.mark.parametrize(("kind", "payload", "state"), NATIVE_PLAIN)
def test_native_plain_words(kind: SensorType, payload: bytes, state: SensorState) -> None:
    assert decode_sensor("homeguard", kind, payload) == Reading(state=state)


@pytest.mark.parametrize(
    ("kind", "payload"),
    [
        (DOOR, b"MOTION"),  # a motion word on a door
        (DOOR, b"ON"),
        (WINDOW, b"NO_MOTION"),
        (MOTION, b"OPEN"),
        (MOTION, b"ON"),
        (SMOKE, b"OPEN"),
        (TAMPER, b"CLOSED"),
        (DOOR, b"AJAR"),
        (DOOR, b"1"),
        (DOOR, "\u017fopen".encode()),  # long s upper-cases to S: must not sneak through
        (DOOR, "CLO\u017fED".encode()),
    ],
)
def test_native_word_that_does_not_fit_the_type(kind: SensorType, payload: bytes) -> None:
    rejects("unknown_state", decode_sensor, "homeguard", kind, payload)


def test_native_json_with_every_field() -> None:
    payload = b'{"state": "OPEN", "seq": 17, "ts": 1764288000.12, "battery": 87, "rssi": -61}'
    reading = decode_sensor("homeguard", DOOR, payload)
    assert reading == Reading(S.OPEN, 17, 1764288000.12, 87, {"rssi": -61})
    assert isinstance(reading.ts, float)
    assert hash(reading) == hash(Reading(S.OPEN, 17, 1764288000.12, 87))


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (b'{"seq": 18}', Reading(seq=18)),
        (b'{"state": null, "ts": 1764288000}', Reading(ts=1764288000.0)),
        (b'{"battery": 0}', Reading(battery=0)),
        (b'{"state": "closed", "seq": 0}', Reading(S.CLOSED, seq=0)),
        (b'{"state": "open", "battery": 100}', Reading(S.OPEN, battery=100)),
    ],
)
def test_native_json_heartbeats_and_bounds(payload: bytes, expected: Reading) -> None:
    assert decode_sensor("homeguard", DOOR, payload) == expected


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"{}", "missing_field"),
        (b'{"state": null}', "missing_field"),
        (b'{"linkquality": 5}', "missing_field"),
        (b'{"state": "MOTION"}', "unknown_state"),
        (b'{"state": 1}', "bad_field"),
        (b'{"state": true}', "bad_field"),
        (b'{"state": "OPEN", "seq": -1}', "bad_field"),
        (b'{"state": "OPEN", "seq": true}', "bad_field"),
        (b'{"state": "OPEN", "seq": 1.0}', "bad_field"),
        (b'{"state": "OPEN", "seq": "17"}', "bad_field"),
        (b'{"state": "OPEN", "seq": 9223372036854775808}', "bad_field"),
        (b'{"state": "OPEN", "ts": "now"}', "bad_field"),
        (b'{"state": "OPEN", "ts": false}', "bad_field"),
        (b'{"state": "OPEN", "ts": -1}', "bad_field"),
        (b'{"state": "OPEN", "ts": 1764288000120}', "bad_field"),  # milliseconds
        (b'{"state": "OPEN", "ts": NaN}', "bad_json"),
        (b'{"state": "OPEN", "ts": Infinity}', "bad_json"),
        (b'{"state": "OPEN", "ts": 1e999}', "bad_json"),
        (b'{"state": "OPEN", "battery": 101}', "bad_field"),
        (b'{"state": "OPEN", "battery": -1}', "bad_field"),
        (b'{"state": "OPEN", "battery": 87.5}', "bad_field"),
        (b'{"state": "OPEN", "battery": true}', "bad_field"),
        (b'{"state": "OPEN"', "bad_json"),
        (b'["OPEN"]', "bad_json"),
        (b'{"state": "\\ud800"}', "bad_json"),
        (b"[" * 20 + b"]" * 20, "bad_json"),
        (b"[" * 3000, "bad_json"),
        (b"", "empty"),
        (b" \t\r\n", "empty"),
        (b"\xff\xfe", "not_utf8"),
        (b"OPEN\xc3", "not_utf8"),
        (b"O" * (MAX_PAYLOAD + 1), "too_large"),
    ],
)
def test_native_rejections(payload: bytes, reason: str) -> None:
    rejects(reason, decode_sensor, "homeguard", DOOR, payload)


def test_payload_at_the_size_limit_is_still_decoded() -> None:
    payload = b"OPEN".ljust(MAX_PAYLOAD, b" ")
    assert decode_sensor("homeguard", DOOR, payload).state is S.OPEN


def test_unknown_family_and_type_are_payload_errors() -> None:
    rejects("unknown_family", decode_sensor, "zwave", DOOR, b"OPEN")
    rejects("unknown_type", decode_sensor, "homeguard", "garage", b"OPEN")
    assert decode_sensor("ZigBee2MQTT", "door", b'{"contact": false}').state is S.OPEN


def test_extra_keeps_small_scalars_only() -> None:
    payload = json.dumps(
        {"state": "OPEN", "rssi": -60, "fw": "1.0", "nested": {"a": 1}, "list": [1], "big": 2**70}
    ).encode()
    extra = decode_sensor("homeguard", DOOR, payload).extra
    assert dict(extra) == {"rssi": -60, "fw": "1.0"}
    with pytest.raises(TypeError):
        extra["x"] = 1  # type: ignore[index]


# -------------------------------------------------------------------- zigbee2mqtt

# Source: the "Exposes" of zigbee2mqtt.io's device pages: contact (false = open) e.g.
# zigbee2mqtt.io/devices/SNTZ007.html, occupancy (e.g. RTCGQ11LM), smoke, water_leak,
# tamper, action (SOS buttons), battery, linkquality.
Z2M = [
    (DOOR, {"contact": False}, S.OPEN),  # beware: false means OPEN
    (DOOR, {"contact": True}, S.CLOSED),
    (WINDOW, {"contact": False}, S.OPEN),
    (WINDOW, {"contact": True}, S.CLOSED),
    (DOOR, {"contact": True, "tamper": True}, S.CLOSED),  # tamper is a signal of its own
    (DOOR, {"contact": False, "tamper": False}, S.OPEN),
    (MOTION, {"occupancy": True}, S.MOTION),
    (MOTION, {"occupancy": False}, S.NO_MOTION),
    (MOTION, {"occupancy": False, "tamper": True}, S.NO_MOTION),
    (SMOKE, {"smoke": True}, S.ON),
    (SMOKE, {"smoke": False}, S.OFF),
    (WATER, {"water_leak": True}, S.ON),
    (WATER, {"water_leak": False}, S.OFF),
    (TAMPER, {"tamper": True}, S.TAMPER),
    (TAMPER, {"tamper": False}, S.OFF),
    (PANIC, {"action": "emergency"}, S.ON),
    (PANIC, {"action": "SOS"}, S.ON),
    (PANIC, {"action": "single"}, None),
    (DOOR, {"linkquality": 120}, None),  # heartbeat
    (DOOR, {"contact": None, "battery": 90}, None),
    (DOOR, {"occupancy": True}, None),  # another type's key
    (MOTION, {"contact": False}, None),
    (WATER, {"smoke": True}, None),
]


@pytest.mark.parametrize(("kind", "obj", "state"), Z2M)
def test_zigbee2mqtt(kind: SensorType, obj: dict[str, Any], state: SensorState | None) -> None:
    assert decode_sensor("zigbee2mqtt", kind, json.dumps(obj).encode()).state is state


def test_zigbee2mqtt_metadata() -> None:
    payload = b'{"contact": false, "battery": 91, "linkquality": 72, "voltage": 3000}'
    reading = decode_sensor("zigbee2mqtt", DOOR, payload)
    assert reading == Reading(S.OPEN, battery=91, extra={"linkquality": 72, "voltage": 3000})


@pytest.mark.parametrize(
    ("battery", "expected"),
    [(55.5, 56), (100, 100), (0, 0), (120, None), ("90", None), (True, None)],
)
def test_zigbee2mqtt_bad_battery_never_loses_the_state(battery: Any, expected: int | None) -> None:
    payload = json.dumps({"contact": False, "battery": battery}).encode()
    assert decode_sensor("zigbee2mqtt", DOOR, payload) == Reading(S.OPEN, battery=expected)


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b'{"contact": "false"}', "bad_field"),
        (b'{"contact": 0}', "bad_field"),
        (b'{"tamper": "yes", "contact": true}', "bad_field"),
        (b"OPEN", "bad_json"),
        (b"[]", "bad_json"),
    ],
)
def test_zigbee2mqtt_rejections(payload: bytes, reason: str) -> None:
    rejects(reason, decode_sensor, "zigbee2mqtt", DOOR, payload)


# ------------------------------------------------------------------------ tasmota

# Source: tasmota.github.io/docs/Commands (POWER, SetOption114: Switch1 with Action) and
# tasmota.github.io/docs/MQTT (stat/<topic>/POWER, stat/<topic>/RESULT).
TASMOTA = [
    (DOOR, b"ON", S.OPEN),
    (DOOR, b"OFF", S.CLOSED),
    (WINDOW, b"on", S.OPEN),
    (MOTION, b"ON", S.MOTION),
    (MOTION, b"off", S.NO_MOTION),
    (SMOKE, b"ON", S.ON),
    (WATER, b"OFF", S.OFF),
    (PANIC, b"ON", S.ON),
    (TAMPER, b"ON", S.TAMPER),
    (TAMPER, b"OFF", S.OFF),
    (DOOR, b'{"POWER": "ON"}', S.OPEN),
    (DOOR, b'{"POWER1": "OFF"}', S.CLOSED),
    (DOOR, b'{"Switch1": "ON"}', S.OPEN),
    (MOTION, b'{"switch1": "off"}', S.NO_MOTION),
    (DOOR, b'{"Switch1": {"Action": "ON"}}', S.OPEN),
    (DOOR, b'{"Time": "2025-11-28T00:00:00", "Uptime": "0T01:00:00"}', None),
]


@pytest.mark.parametrize(("kind", "payload", "state"), TASMOTA)
def test_tasmota(kind: SensorType, payload: bytes, state: SensorState | None) -> None:
    assert decode_sensor("tasmota", kind, payload).state is state


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"TOGGLE", "unknown_state"),
        (b"OPEN", "unknown_state"),
        (b'{"POWER": 1}', "bad_field"),
        (b'{"Switch1": {"Action": "HOLD"}}', "unknown_state"),
        (b'{"Switch1": {}}', "bad_field"),
    ],
)
def test_tasmota_rejections(payload: bytes, reason: str) -> None:
    rejects(reason, decode_sensor, "tasmota", DOOR, payload)


# ------------------------------------------------------------------------- shelly

# Source: shelly-api-docs.shelly.cloud/gen1 (Door/Window 2: sensor/state open/close;
# Flood, Smoke: sensor/flood, sensor/smoke true/false; Motion: status JSON with bat;
# inputs 0/1) and .../gen2/ComponentsAndServices/Input (status {"id", "state"}).
SHELLY = [
    (DOOR, b"open", S.OPEN),
    (DOOR, b"close", S.CLOSED),
    (WINDOW, b"closed", S.CLOSED),
    (WINDOW, b"OPEN", S.OPEN),
    (WATER, b"true", S.ON),  # shellies/<id>/sensor/flood
    (SMOKE, b"false", S.OFF),
    (DOOR, b"1", S.OPEN),  # Gen1 input
    (DOOR, b"0", S.CLOSED),
    (MOTION, b'{"motion": true, "vibration": false, "lux": 12}', S.MOTION),
    (MOTION, b'{"motion": false}', S.NO_MOTION),
    (DOOR, b'{"id": 0, "state": true}', S.OPEN),  # Gen2
    (DOOR, b'{"id": 0, "state": false}', S.CLOSED),
    (MOTION, b'{"id": 0, "state": true}', S.MOTION),
    (WATER, b'{"state": true}', S.ON),
    (DOOR, b'{"motion": true}', None),  # not a door's key: heartbeat
    (MOTION, b'{"lux": 4}', None),
]


@pytest.mark.parametrize(("kind", "payload", "state"), SHELLY)
def test_shelly(kind: SensorType, payload: bytes, state: SensorState | None) -> None:
    assert decode_sensor("shelly", kind, payload).state is state


def test_shelly_battery() -> None:
    reading = decode_sensor("shelly", MOTION, b'{"motion": true, "bat": 77, "lux": 3}')
    assert reading == Reading(S.MOTION, battery=77, extra={"lux": 3})


@pytest.mark.parametrize(
    ("kind", "payload", "reason"),
    [
        (SMOKE, b"open", "unknown_state"),  # open/close only for contacts
        (DOOR, b"ajar", "unknown_state"),
        (DOOR, b'{"state": "open"}', "bad_field"),
        (MOTION, b'{"motion": 1}', "bad_field"),
    ],
)
def test_shelly_rejections(kind: SensorType, payload: bytes, reason: str) -> None:
    rejects(reason, decode_sensor, "shelly", kind, payload)


# --------------------------------------------------- esphome and home assistant

# Sources: esphome.io/components/mqtt (a binary sensor's state topic: ON/OFF) and
# home-assistant.io/integrations/mqtt_statestream (the entity's state: on/off).


@pytest.mark.parametrize("family", ["esphome", "homeassistant"])
@pytest.mark.parametrize(
    ("kind", "active", "inactive"),
    [
        (DOOR, S.OPEN, S.CLOSED),
        (WINDOW, S.OPEN, S.CLOSED),
        (MOTION, S.MOTION, S.NO_MOTION),
        (SMOKE, S.ON, S.OFF),
        (WATER, S.ON, S.OFF),
        (PANIC, S.ON, S.OFF),
        (TAMPER, S.TAMPER, S.OFF),
    ],
)
def test_binary_sensor_families(
    family: str, kind: SensorType, active: SensorState, inactive: SensorState
) -> None:
    for word in (b"ON", b"on", b" On\n"):
        assert decode_sensor(family, kind, word) == Reading(state=active)
    for word in (b"OFF", b"off"):
        assert decode_sensor(family, kind, word) == Reading(state=inactive)
    assert active.active
    assert not inactive.active


@pytest.mark.parametrize(
    ("family", "payload", "reason"),
    [
        ("esphome", b"unavailable", "no_state"),
        ("esphome", b"OPEN", "unknown_state"),
        ("esphome", b'{"state": "ON"}', "unknown_state"),
        ("homeassistant", b"", "empty"),
    ],
)
def test_binary_sensor_rejections(family: str, payload: bytes, reason: str) -> None:
    rejects(reason, decode_sensor, family, DOOR, payload)


# ----------------------------------------------------------------------- commands


@pytest.mark.parametrize("action", list(Action))
def test_plain_commands(action: Action) -> None:
    for payload in (action.value, action.value.lower(), f"  {action.value.title()}\n"):
        assert decode_command(payload.encode()) == Command(action=action, source="mqtt")


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (b'{"action": "ARM_AWAY", "code": "1234"}', Command(Action.ARM_AWAY, "1234")),
        (b'{"action": "arm_home", "code": 1234}', Command(Action.ARM_HOME, "1234")),
        (b'{"action": "DISARM", "code": "0042"}', Command(Action.DISARM, "0042")),
        (
            b'{"action": "ARM_NIGHT", "code": "1", "force": true}',
            Command(Action.ARM_NIGHT, "1", force=True),
        ),
        (b'{"action": "ARM_VACATION", "force": false}', Command(Action.ARM_VACATION)),
        (b'{"action": "TRIGGER", "code": null, "force": null}', Command(Action.TRIGGER)),
        (b'{"action": "DISARM", "code": ""}', Command(Action.DISARM)),
    ],
)
def test_json_commands(payload: bytes, expected: Command) -> None:
    assert decode_command(payload) == expected
    assert expected.source == "mqtt"


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"ARM_CUSTOM_BYPASS", "unknown_action"),
        (b"ARM AWAY", "unknown_action"),
        (b'{"action": "ARM_MAYBE"}', "unknown_action"),
        (b"{}", "missing_field"),
        (b'{"code": "1234"}', "missing_field"),
        (b'{"action": 1}', "bad_field"),
        (b'{"action": "DISARM", "code": true}', "bad_field"),
        (b'{"action": "DISARM", "code": -5}', "bad_field"),
        (b'{"action": "DISARM", "code": 1.5}', "bad_field"),
        (b'{"action": "DISARM", "code": ["1"]}', "bad_field"),
        (b'{"action": "DISARM", "code": "' + b"1" * 65 + b'"}', "bad_field"),
        (b'{"action": "ARM_AWAY", "force": "yes"}', "bad_field"),
        (b'{"action": "ARM_AWAY", "force": 1}', "bad_field"),
        (b"", "empty"),
        (b"\x80", "not_utf8"),
    ],
)
def test_command_rejections(payload: bytes, reason: str) -> None:
    rejects(reason, decode_command, payload)


# ----------------------------------------------------- announce, availability, switch


def test_announce() -> None:
    payload = (
        b'{"device_id": "front", "type": "Door", "capabilities": ["battery", "tamper"],'
        b' "timestamp": 1764288000, "firmware": "1.2.0"}'
    )
    assert decode_announce("front", payload) == Announcement(
        "front", "door", ("battery", "tamper"), 1764288000.0, {"firmware": "1.2.0"}
    )


def test_announce_minimal() -> None:
    assert decode_announce("x", b'{"type": "siren"}') == Announcement("x", "siren")


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b'{"device_id": "other", "type": "door"}', "device_mismatch"),
        (b'{"device_id": 5, "type": "door"}', "device_mismatch"),
        (b'{"device_id": "front"}', "missing_field"),
        (b'{"type": 3}', "bad_field"),
        (b'{"type": " "}', "bad_field"),
        (b'{"type": "door", "capabilities": "battery"}', "bad_field"),
        (b'{"type": "door", "capabilities": [1]}', "bad_field"),
        (b'{"type": "door", "timestamp": "yesterday"}', "bad_field"),
        (b"door", "bad_json"),
        (b"", "empty"),  # a retained announce being cleared
    ],
)
def test_announce_rejections(payload: bytes, reason: str) -> None:
    rejects(reason, decode_announce, "front", payload)


@pytest.mark.parametrize(
    ("payload", "online"),
    [
        (b"online", True),
        (b"offline", False),
        (b"Online", True),  # Tasmota LWT (tasmota.github.io/docs/MQTT)
        (b"OFFLINE", False),
        (b"true", True),  # Shelly (shellies/<id>/online, shelly-api-docs Gen1 MQTT)
        (b"false", False),
        (b"1", True),
        (b"0", False),
        (b"ON", True),
        (b"off", False),
        (b'{"state": "online"}', True),  # Zigbee2MQTT (zigbee2mqtt.io, availability)
        (b'{"state": "offline"}', False),
        (b'{"state": true}', True),
    ],
)
def test_availability(payload: bytes, online: bool) -> None:
    assert decode_availability(payload) is online


@pytest.mark.parametrize(
    ("payload", "reason"),
    [(b"maybe", "unknown_state"), (b"{}", "missing_field"), (b'{"state": 1}', "bad_field")],
)
def test_availability_rejections(payload: bytes, reason: str) -> None:
    rejects(reason, decode_availability, payload)


@pytest.mark.parametrize(
    ("payload", "on"),
    [
        (b"ON", True),
        (b"OFF", False),
        (b"on", True),
        (b" off ", False),
        (b"true", True),
        (b"0", False),
        (b'{"state": "ON"}', True),
        (b'{"POWER": "OFF"}', False),
        (b'{"state": false}', False),
    ],
)
def test_switch(payload: bytes, on: bool) -> None:
    assert decode_switch(payload) is on


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"online", "unknown_state"),
        (b"TOGGLE", "unknown_state"),
        (b'{"power": "ON"}', "missing_field"),
    ],
)
def test_switch_rejections(payload: bytes, reason: str) -> None:
    rejects(reason, decode_switch, payload)


# ------------------------------------------------------------------------ routing

SITE = [
    SensorBinding("door", DOOR),
    SensorBinding("back", DOOR),
    SensorBinding("hall", MOTION),
    SensorBinding("kitchen", WINDOW),
    SensorBinding("lounge", WINDOW),
    SensorBinding("patio", DOOR, "zigbee2mqtt"),
    SensorBinding("garage", DOOR, "tasmota"),
    SensorBinding("bath", WATER, "shelly"),
    SensorBinding("porch", MOTION, "esphome"),
    SensorBinding("attic", SMOKE, "homeassistant"),
    SensorBinding("shed", DOOR, "zigbee2mqtt", topic="z2m/Shed Door"),
    SensorBinding(
        "sos", PANIC, "tasmota", topic="stat/sos/POWER", availability_topic="tele/sos/LWT"
    ),
]


@pytest.fixture
def topics() -> TopicMap:
    return TopicMap.build("home", SITE, ["alarm", "light"])


@pytest.mark.parametrize(
    ("topic", "route"),
    [
        ("home/security/door/door", SensorRoute("door", Family.HOMEGUARD, DOOR)),
        ("home/security/door/back", SensorRoute("back", Family.HOMEGUARD, DOOR)),
        ("home/security/motion/hall", SensorRoute("hall", Family.HOMEGUARD, MOTION)),
        # short form: the sensor named after the type, else the first one of the type
        ("home/security/door", SensorRoute("door", Family.HOMEGUARD, DOOR)),
        ("home/security/motion", SensorRoute("hall", Family.HOMEGUARD, MOTION)),
        ("home/security/window", SensorRoute("kitchen", Family.HOMEGUARD, WINDOW)),
        ("zigbee2mqtt/patio", SensorRoute("patio", Family.ZIGBEE2MQTT, DOOR)),
        ("zigbee2mqtt/patio/availability", AvailabilityRoute("patio")),
        ("stat/garage/POWER", SensorRoute("garage", Family.TASMOTA, DOOR)),
        ("shellies/bath/sensor/flood", SensorRoute("bath", Family.SHELLY, WATER)),
        ("porch/binary_sensor/porch/state", SensorRoute("porch", Family.ESPHOME, MOTION)),
        (
            "homeassistant/binary_sensor/attic/state",
            SensorRoute("attic", Family.HOMEASSISTANT, SMOKE),
        ),
        ("z2m/Shed Door", SensorRoute("shed", Family.ZIGBEE2MQTT, DOOR)),
        ("z2m/Shed Door/availability", AvailabilityRoute("shed")),
        ("stat/sos/POWER", SensorRoute("sos", Family.TASMOTA, PANIC)),
        ("tele/sos/LWT", AvailabilityRoute("sos")),
        ("home/alarm/set", CommandRoute()),
        ("home/devices/front/announce", AnnounceRoute("front")),
        ("home/devices/anything/availability", AvailabilityRoute("anything")),
        ("home/control/alarm/state", ActuatorStateRoute("alarm")),
        ("home/control/light/state", ActuatorStateRoute("light")),
    ],
)
def test_routes(topics: TopicMap, topic: str, route: object) -> None:
    assert topics.route(topic) == route


def test_own_status_is_ignored_not_an_error(topics: TopicMap) -> None:
    assert isinstance(topics.route("home/security/status"), IgnoredRoute)


@pytest.mark.parametrize(
    "topic",
    [
        "home/security/door/ghost",
        "home/security/smoke",  # the smoke sensor is not native
        "home/security/zigbee2mqtt/patio",
        "home/security",
        "home/security/door/door/extra",
        "home/control/siren/state",  # not a configured actuator
        "home/control/alarm",  # the controller's own command
        "home/alarm/state",
        "home/devices/x/y/announce",
        "home/devices//announce",
        "home/devices/x/status",
        "zigbee2mqtt/ghost",
        "stat/garage/POWER2",
        "office/security/door",
        "",
    ],
)
def test_unknown_topics(topics: TopicMap, topic: str) -> None:
    rejects("unknown_topic", topics.route, topic)


def test_tutorial_short_form_reaches_the_first_door() -> None:
    topics = TopicMap.build("home", [SensorBinding("front", DOOR), SensorBinding("back", DOOR)], [])
    route = topics.route("home/security/door")
    assert route == SensorRoute("front", Family.HOMEGUARD, DOOR)
    assert decode_sensor(route.family, route.sensor_type, b"OPEN").state is S.OPEN


def test_explicit_topic_wins_over_the_short_form() -> None:
    bindings = [
        SensorBinding("front", DOOR),
        SensorBinding("z", DOOR, "zigbee2mqtt", "home/security/door"),
    ]
    topics = TopicMap.build("home", bindings, [])
    assert topics.route("home/security/door") == SensorRoute("z", Family.ZIGBEE2MQTT, DOOR)


def test_subscriptions(topics: TopicMap) -> None:
    subs = topics.subscriptions()
    assert subs[:5] == [
        ("home/security/#", 1),
        ("home/devices/+/announce", 1),
        ("home/devices/+/availability", 1),
        ("home/alarm/set", 1),
        ("home/control/+/state", 1),
    ]
    extra = {f for f, _ in subs[5:]}
    assert extra == {
        "zigbee2mqtt/patio",
        "zigbee2mqtt/patio/availability",
        "stat/garage/POWER",
        "shellies/bath/sensor/flood",
        "porch/binary_sensor/porch/state",
        "homeassistant/binary_sensor/attic/state",
        "z2m/Shed Door",
        "z2m/Shed Door/availability",
        "stat/sos/POWER",
        "tele/sos/LWT",
        # the families' own availability topics and a Shelly's battery (issue 10)
        "shellies/bath/online",
        "shellies/bath/sensor/battery",
        "porch/status",
        "tele/garage/LWT",
    }
    assert all(qos == 1 for _, qos in subs)
    assert len(subs) == len(set(subs))


def test_other_base_topic_and_trailing_slash() -> None:
    topics = TopicMap.build("site7/", [SensorBinding("door", DOOR)], [])
    assert topics.route("site7/security/door/door").sensor_id == "door"  # type: ignore[union-attr]
    assert topics.subscriptions()[0] == ("site7/security/#", 1)
    rejects("unknown_topic", topics.route, "home/security/door/door")


def test_site_topics_follow_the_contract() -> None:
    site = SiteTopics("home")
    assert site.alarm_set == "home/alarm/set"
    assert site.alarm_state == "home/alarm/state"
    assert site.alarm_event == "home/alarm/event"
    assert site.controller_availability == "home/alarm/availability"
    assert site.status == "home/security/status"
    assert site.sensor("door", "front") == "home/security/door/front"
    assert site.announce("front") == "home/devices/front/announce"
    assert site.availability("front") == "home/devices/front/availability"
    assert site.control(ActuatorKind.SIREN) == "home/control/alarm"
    assert site.control(ActuatorKind.LIGHT) == "home/control/light"
    assert site.actuator_state("alarm") == "home/control/alarm/state"


def test_what_devices_publish_routes_back(topics: TopicMap) -> None:
    site = SiteTopics("home")
    assert topics.route(site.sensor("motion", "hall")) == SensorRoute(
        "hall", Family.HOMEGUARD, MOTION
    )
    assert topics.route(site.announce("hall")) == AnnounceRoute("hall")
    assert topics.route(site.availability("hall")) == AvailabilityRoute("hall")
    assert topics.route(site.alarm_set) == CommandRoute()
    assert isinstance(topics.route(site.status), IgnoredRoute)
    assert topics.route(site.actuator_state("light")) == ActuatorStateRoute("light")
    for own in (site.control(ActuatorKind.SIREN), site.alarm_state, site.alarm_event):
        rejects("unknown_topic", topics.route, own)  # not subscribed, never routed


@pytest.mark.parametrize(
    ("family", "kind", "topic"),
    [
        (Family.HOMEGUARD, DOOR, None),
        (Family.ZIGBEE2MQTT, DOOR, "zigbee2mqtt/x"),
        (Family.TASMOTA, DOOR, "stat/x/POWER"),
        (Family.SHELLY, DOOR, "shellies/x/sensor/state"),
        (Family.SHELLY, WINDOW, "shellies/x/sensor/state"),
        (Family.SHELLY, MOTION, "shellies/x/status"),
        (Family.SHELLY, WATER, "shellies/x/sensor/flood"),
        (Family.SHELLY, SMOKE, "shellies/x/sensor/smoke"),
        (Family.ESPHOME, MOTION, "x/binary_sensor/x/state"),
        (Family.HOMEASSISTANT, DOOR, "homeassistant/binary_sensor/x/state"),
    ],
)
def test_default_topics(family: Family, kind: SensorType, topic: str | None) -> None:
    assert default_topic(family, kind, "x") == topic


@pytest.mark.parametrize(
    ("base", "bindings", "actuators"),
    [
        ("", [], []),
        ("home/#", [], []),
        ("home/+", [], []),
        ("home", [SensorBinding("a", DOOR), SensorBinding("a", WINDOW)], []),
        ("home", [SensorBinding("a/b", DOOR)], []),
        ("home", [SensorBinding("a+", DOOR)], []),
        ("home", [SensorBinding("", DOOR)], []),
        ("home", [SensorBinding("a", DOOR, "zwave")], []),
        ("home", [SensorBinding("a", "garage")], []),  # type: ignore[arg-type]
        ("home", [SensorBinding("a", DOOR, "zigbee2mqtt", "zigbee2mqtt/+")], []),
        (
            "home",
            [SensorBinding("a", DOOR, "tasmota", "t"), SensorBinding("b", DOOR, "tasmota", "t")],
            [],
        ),
        (
            "home",
            [
                SensorBinding("a", DOOR, "zigbee2mqtt", "z"),
                SensorBinding("b", DOOR, "shelly", "z/availability"),
            ],
            [],
        ),
        ("home", [SensorBinding("a", DOOR, "shelly", "home/alarm/set")], []),
        ("home", [SensorBinding("a", DOOR, "shelly", "home/security/status")], []),
        ("home", [], ["siren/1"]),
        ("home", [], ["alarm", "alarm"]),
    ],
)
def test_bad_configuration(base: str, bindings: list[SensorBinding], actuators: list[str]) -> None:
    with pytest.raises(ConfigError):
        TopicMap.build(base, bindings, actuators)


# ------------------------------------------------------------------------ fuzzing
# Each generated payload (raw bytes, encoded text or JSON-shaped, a third each) goes
# through every decoder, and through decode_sensor for every family and type, so each
# decoder sees max_examples inputs.

WORDS = [
    *(s.value for s in SensorState),
    *(a.value for a in Action),
    *["open", "close", "closed", "true", "false", "1", "0", "online", "offline"],
    *["unavailable", "emergency", "TOGGLE", "\u017fopen", ""],
]
VARIANTS = sorted(
    {v for w in WORDS for v in (w, w.lower(), w.title(), f" {w.lower()}\n", f"\ufeff{w}")}
)
KEYS = [
    *["state", "seq", "ts", "battery", "bat", "contact", "occupancy", "tamper", "smoke"],
    *["water_leak", "motion", "action", "code", "force", "device_id", "type", "capabilities"],
    *["timestamp", "POWER", "power1", "Switch1", "Action", "linkquality", "id", "x"],
]
NUMBERS = [2**63, 2**63 - 1, 10**80, -(2**70), -1.5, 55.5, 100.4, 1e300, -0.0]
NUMBERS += [1764288000.12, 1764288000120, math.nan, math.inf, -math.inf]

words = st.sampled_from(VARIANTS)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 105),
    st.sampled_from(NUMBERS),
    words,
    st.text(max_size=4),
)
values = (
    scalars
    | st.lists(scalars, max_size=3)
    | st.dictionaries(st.sampled_from(KEYS), scalars | st.lists(scalars, max_size=2), max_size=2)
)
json_docs = st.one_of(
    st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=3), values, max_size=4),
    values,
).map(json.dumps)  # json.dumps writes NaN and Infinity, which must be refused
JSON_PAYLOADS = st.one_of(
    json_docs.map(str.encode),
    st.tuples(json_docs, st.integers(1, 6)).map(lambda t: t[0][: -t[1]].encode()),  # cut short
)
TEXT_PAYLOADS = st.one_of(
    st.text(max_size=24).map(str.encode),
    words.map(str.encode),
    st.text(max_size=8).map(lambda s: s.encode("utf-16")),
)
BINARY_PAYLOADS = st.binary(max_size=64)

FUZZ = settings(max_examples=10_000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FAMILIES = [*Family, "zwave", "SHELLY"]
KINDS = [*SensorType, "garage"]


def _refused(call: Any, *args: Any) -> Any:
    """The call's result, or None when it raised a PayloadError with a known reason."""
    try:
        return call(*args)
    except PayloadError as exc:
        reason = exc.reason
    assert reason in REASONS, reason
    return None


def _json_ready(mapping: Mapping[str, Any]) -> None:
    json.dumps(dict(mapping), allow_nan=False).encode("utf-8")


def _every_decoder(payload: bytes) -> None:
    for family in FAMILIES:
        for kind in KINDS:
            reading = _refused(decode_sensor, family, kind, payload)
            if reading is None:
                continue
            assert isinstance(reading, Reading)
            assert reading.state is None or isinstance(reading.state, SensorState)
            assert reading.battery is None or 0 <= reading.battery <= 100
            assert reading.seq is None or reading.seq >= 0
            assert reading.ts is None or math.isfinite(reading.ts)
            _json_ready(reading.extra)
    command = _refused(decode_command, payload)
    if command is not None:
        assert isinstance(command, Command)
        assert isinstance(command.action, Action)
        assert command.code is None or isinstance(command.code, str)
        assert isinstance(command.force, bool)
        assert command.source == "mqtt"
    announcement = _refused(decode_announce, "front", payload)
    if announcement is not None:
        assert isinstance(announcement, Announcement)
        assert announcement.device_id == "front"
        assert announcement.type
        assert all(isinstance(c, str) for c in announcement.capabilities)
        _json_ready(announcement.info)
    for decode in (decode_availability, decode_switch):
        assert _refused(decode, payload) in (True, False, None)


@FUZZ
@given(payload=st.one_of(BINARY_PAYLOADS, TEXT_PAYLOADS, JSON_PAYLOADS))
def test_fuzz_every_decoder(payload: bytes) -> None:
    _every_decoder(payload)


FUZZ_TOPICS = TopicMap.build("home", SITE, ["alarm", "light"])
ROUTES = (
    SensorRoute,
    CommandRoute,
    AnnounceRoute,
    AvailabilityRoute,
    ActuatorStateRoute,
    IgnoredRoute,
)
LEVELS = ["home", "security", "devices", "announce", "availability", "control", "alarm"]
LEVELS += ["state", "status", "set", "door", "motion", "hall", "+", "#", "", "zigbee2mqtt", "patio"]


@settings(max_examples=3_000, deadline=None)
@given(topic=st.lists(st.sampled_from(LEVELS) | st.text(max_size=3), max_size=5).map("/".join))
def test_fuzz_route(topic: str) -> None:
    try:
        route = FUZZ_TOPICS.route(topic)
    except PayloadError as exc:
        reason = exc.reason
    else:
        assert isinstance(route, ROUTES)
        return
    assert reason == "unknown_topic"


CASES = [("OPEN", "CLOSED"), ("MOTION", "NO_MOTION"), ("ON", "OFF"), ("TAMPER", "TAMPER")]


@settings(max_examples=300, deadline=None)
@given(
    kind=st.sampled_from(SensorType),
    flips=st.lists(st.booleans(), min_size=9, max_size=9),
    seq=st.integers(0, 2**63 - 1),
)
def test_native_plain_and_json_agree_in_any_case(
    kind: SensorType, flips: list[bool], seq: int
) -> None:
    for pair in CASES:
        for word in pair:
            cased = "".join(
                c.upper() if f else c.lower() for c, f in zip(word, flips, strict=False)
            )
            plain = _refused(decode_sensor, "homeguard", kind, cased.encode())
            as_json = json.dumps({"state": cased, "seq": seq}).encode()
            if plain is None:
                rejects("unknown_state", decode_sensor, "homeguard", kind, as_json)
                continue
            assert plain.state.active == (word in ("OPEN", "MOTION", "ON", "TAMPER"))
            assert decode_sensor("homeguard", kind, as_json) == Reading(plain.state, seq=seq)
