"""Each family's own documented payloads, decoded as its owners publish them (issue 10).

Sources: zigbee2mqtt.io device pages ("Exposes"), shelly-api-docs.shelly.cloud (Gen1
Door/Window 2 MQTT; Gen2 Notifications and MQTT), tasmota.github.io (Sonoff RF Bridge
433, MQTT LWT), esphome.io (MQTT client), home-assistant.io (mqtt_statestream).
"""

from __future__ import annotations

import json
from types import MappingProxyType

import pytest

from homeguard.adapters.codecs import Hints, Reading, RfSignal, decode_sensor
from homeguard.adapters.topics import (
    AvailabilityRoute,
    SensorBinding,
    SensorRoute,
    SharedRoute,
    TopicMap,
)
from homeguard.core.model import SensorState, SensorType
from homeguard.errors import ConfigError, PayloadError

S = SensorState
DOOR, WINDOW, MOTION, TAMPER = (
    SensorType.DOOR,
    SensorType.WINDOW,
    SensorType.MOTION,
    SensorType.TAMPER,
)


# ------------------------------------------------------------------ zigbee2mqtt


def test_z2m_tamper_is_a_signal_and_the_contact_still_counts() -> None:
    # zigbee2mqtt.io/devices/SNTZ007.html: exposes contact, battery_low, tamper, battery.
    payload = b'{"battery":100,"battery_low":false,"contact":false,"linkquality":87,"tamper":true}'
    reading = decode_sensor("zigbee2mqtt", DOOR, payload)
    assert reading.state is S.OPEN
    assert reading.tamper is True
    assert reading.battery_low is False
    assert reading.battery == 100


def test_z2m_battery_low() -> None:
    reading = decode_sensor("zigbee2mqtt", DOOR, b'{"battery_low": true, "contact": true}')
    assert (reading.state, reading.battery_low) == (S.CLOSED, True)


def test_z2m_malformed_battery_low_never_costs_the_state() -> None:
    reading = decode_sensor("zigbee2mqtt", DOOR, b'{"battery_low": "yes", "contact": false}')
    assert (reading.state, reading.battery_low) == (S.OPEN, None)


def test_z2m_tamper_sensor_keeps_tamper_as_its_state() -> None:
    assert decode_sensor("zigbee2mqtt", TAMPER, b'{"tamper": true}').state is S.TAMPER
    assert decode_sensor("zigbee2mqtt", TAMPER, b'{"tamper": true}').tamper is None


# ---------------------------------------------------------------- home assistant


def test_home_assistant_unavailable_is_availability_not_a_rejection() -> None:
    # home-assistant.io/integrations/mqtt_statestream: the entity's state string.
    assert decode_sensor("homeassistant", DOOR, b"unavailable") == Reading(online=False)
    assert decode_sensor("homeassistant", DOOR, b"unknown") == Reading()
    assert decode_sensor("homeassistant", DOOR, b"on").state is S.OPEN


# ------------------------------------------------------------------------ shelly


def _shelly(kind: SensorType, topic: str, payload: bytes, component: str | None = None) -> Reading:
    return decode_sensor("shelly", kind, payload, Hints(topic, component))


def test_shelly_gen2_notify_status() -> None:
    # shelly-api-docs.shelly.cloud/gen2/General/Notifications
    frame = {
        "src": "shellyplusi4-a8032ab12345",
        "dst": "shellyplusi4-a8032ab12345/events",
        "method": "NotifyStatus",
        "params": {"ts": 1631266595.43, "input:0": {"id": 0, "state": True}},
    }
    topic = "shellyplusi4-a8032ab12345/events/rpc"
    payload = json.dumps(frame).encode()
    assert _shelly(DOOR, topic, payload, "input:0").state is S.OPEN
    assert _shelly(DOOR, topic, payload, "input:1") == Reading()  # another input: alive
    frame["params"] = {"ts": 1.0, "input:0": {"id": 0, "state": False}}
    assert _shelly(DOOR, topic, json.dumps(frame).encode(), "input:0").state is S.CLOSED
    event = {"method": "NotifyEvent", "params": {"events": [{"component": "input:0"}]}}
    assert _shelly(DOOR, topic, json.dumps(event).encode(), "input:0") == Reading()


def test_shelly_gen2_bthome_window_and_battery() -> None:
    # .../gen2/DynamicComponents/BTHome/BTHomeSensor: status {"id", "value", ...}
    status = {"ts": 1.0, "bthomesensor:200": {"id": 200, "value": True, "last_updated_ts": 1}}
    frame = {"method": "NotifyStatus", "params": status}
    reading = _shelly(WINDOW, "gw/events/rpc", json.dumps(frame).encode(), "bthomesensor:200")
    assert reading.state is S.OPEN
    power = b'{"id": 0, "battery": {"V": 5.2, "percent": 64}, "external": {"present": false}}'
    assert _shelly(DOOR, "ht/status/devicepower:0", power, "input:0").battery == 64


def test_shelly_gen2_status_component_topic() -> None:
    # .../gen2/ComponentsAndServices/Mqtt: <prefix>/status/<component:id>, status_ntf
    payload = b'{"id": 0, "state": true}'
    assert _shelly(DOOR, "dev/status/input:0", payload).state is S.OPEN  # the topic names it
    assert _shelly(DOOR, "dev/status/input:0", payload, "input:0").state is S.OPEN


def test_shelly_gen1_door_window_topics() -> None:
    # shelly-api-docs.shelly.cloud/gen1/#shelly-door-window-2-mqtt
    base = "shellies/shellydw2-8CAAB5/sensor/"
    assert _shelly(DOOR, base + "state", b"open").state is S.OPEN
    assert _shelly(DOOR, base + "battery", b"87") == Reading(battery=87)
    assert _shelly(DOOR, base + "tilt", b"12") == Reading(extra=MappingProxyType({"tilt": 12.0}))
    assert _shelly(DOOR, base + "vibration", b"1").extra == {"vibration": True}
    assert _shelly(TAMPER, base + "vibration", b"1").state is S.TAMPER
    with pytest.raises(PayloadError) as caught:
        _shelly(DOOR, base + "battery", b"full")
    assert caught.value.reason == "bad_field"


# ----------------------------------------------------------------------- tasmota

CODES = MappingProxyType(
    {"80650A": RfSignal.ACTIVE, "80650E": RfSignal.INACTIVE, "806507": RfSignal.TAMPER}
)


def _rf(data: str) -> bytes:
    # tasmota.github.io/docs/devices/Sonoff-RF-Bridge-433 (tele/<topic>/RESULT)
    received = {"Sync": 14080, "Low": 470, "High": 1380, "Data": data, "RfKey": "None"}
    return json.dumps({"RfReceived": received}).encode()


def test_tasmota_rf_codes() -> None:
    hints = Hints("tele/rfbridge/RESULT", rf_codes=CODES)
    assert decode_sensor("tasmota", WINDOW, _rf("80650A"), hints).state is S.OPEN
    assert decode_sensor("tasmota", WINDOW, _rf("80650e"), hints).state is S.CLOSED
    assert decode_sensor("tasmota", WINDOW, _rf("806507"), hints).tamper is True
    with pytest.raises(PayloadError) as caught:
        decode_sensor("tasmota", WINDOW, _rf("123456"), hints)
    assert caught.value.reason == "unmatched"


# ------------------------------------------------------------------------ routing


def test_one_rf_bridge_topic_reaches_all_its_sensors() -> None:
    bindings = [
        SensorBinding("kitchen", WINDOW, "tasmota", device="rfbridge", rf_codes=CODES),
        SensorBinding("porch", WINDOW, "tasmota", device="rfbridge", rf_codes=CODES),
    ]
    topics = TopicMap.build("home", bindings, [])
    shared = topics.route("tele/rfbridge/RESULT")
    assert isinstance(shared, SharedRoute)
    assert [r.sensor_id for r in shared.routes if isinstance(r, SensorRoute)] == [
        "kitchen",
        "porch",
    ]
    lwt = topics.route("tele/rfbridge/LWT")
    assert isinstance(lwt, SharedRoute)
    assert lwt.routes == (AvailabilityRoute("kitchen"), AvailabilityRoute("porch"))


def test_two_plain_sensors_on_one_topic_are_still_an_error() -> None:
    bindings = [
        SensorBinding("a", DOOR, "zigbee2mqtt", topic="zigbee2mqtt/x"),
        SensorBinding("b", DOOR, "zigbee2mqtt", topic="zigbee2mqtt/x"),
    ]
    with pytest.raises(ConfigError, match="bound twice"):
        TopicMap.build("home", bindings, [])


@pytest.mark.parametrize(
    ("binding", "heard", "available"),
    [
        (
            SensorBinding("dw", DOOR, "shelly", device="shellydw2-8CAAB5"),
            "shellies/shellydw2-8CAAB5/sensor/battery",
            "shellies/shellydw2-8CAAB5/online",
        ),
        (
            SensorBinding("cellar", DOOR, "shelly", device="shellyplusi4-1", component="input:0"),
            "shellyplusi4-1/events/rpc",
            "shellyplusi4-1/online",
        ),
        (SensorBinding("plug", DOOR, "tasmota"), "stat/plug/POWER", "tele/plug/LWT"),
        (
            SensorBinding("hall", MOTION, "esphome", device="hall-node", object_id="pir"),
            "hall-node/binary_sensor/pir/state",
            "hall-node/status",
        ),
        (SensorBinding("hall", MOTION, "esphome"), "hall/binary_sensor/hall/state", "hall/status"),
        (
            SensorBinding("two", DOOR, "shelly", topic=["a/state", "a/battery"]),
            "a/battery",
            "shellies/two/online",
        ),
    ],
)
def test_family_default_topics(binding: SensorBinding, heard: str, available: str) -> None:
    topics = TopicMap.build("home", [binding], [])
    route = topics.route(heard)
    assert isinstance(route, SensorRoute) and route.sensor_id == binding.sensor_id
    assert route.hints.topic == heard
    assert topics.route(available) == AvailabilityRoute(binding.sensor_id)


def test_the_inputs_of_one_shelly_share_its_topics() -> None:
    bindings = [
        SensorBinding("cellar", DOOR, "shelly", device="shellyplusi4-1", component="input:0"),
        SensorBinding("garage", DOOR, "shelly", device="shellyplusi4-1", component="input:1"),
    ]
    topics = TopicMap.build("home", bindings, [])
    for topic in ("shellyplusi4-1/events/rpc", "shellyplusi4-1/status/devicepower:0"):
        shared = topics.route(topic)
        assert isinstance(shared, SharedRoute)
        assert [r.sensor_id for r in shared.routes if isinstance(r, SensorRoute)] == [
            "cellar",
            "garage",
        ]
    own = topics.route("shellyplusi4-1/status/input:1")
    assert isinstance(own, SensorRoute) and own.sensor_id == "garage"
