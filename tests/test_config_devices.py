"""The config keys of real devices: device names, topic lists, Shelly components, RF codes,
event-only sensors and the report grace period (docs/topics.md)."""

from __future__ import annotations

import pytest

from homeguard.adapters.codecs import RfSignal
from homeguard.adapters.topics import SensorBinding, TopicMap, availability_topics, sensor_topics
from homeguard.config import parse_config
from homeguard.core.model import SensorType
from homeguard.errors import ConfigError


def _config(sensor: str, panel: str = "") -> str:
    return f"panel: {{{panel}}}\nsensors:\n  - {sensor}\n"


def test_rf_codes_become_the_bindings_code_map() -> None:
    config = parse_config(
        _config(
            "{id: kitchen, type: window, family: tasmota, device: rfbridge, "
            'rf_codes: {open: "80650a", closed: "0x80650E", tamper: "806507"}}'
        ),
        "t.yaml",
    )
    binding = config.sensors[0].binding()
    assert dict(binding.rf_codes) == {
        "80650A": RfSignal.ACTIVE,
        "80650E": RfSignal.INACTIVE,
        "806507": RfSignal.TAMPER,
    }
    assert sensor_topics(binding) == ("tele/rfbridge/RESULT",)
    assert availability_topics(binding) == ("tele/rfbridge/LWT",)


def test_topic_list_and_esphome_names() -> None:
    config = parse_config(
        "sensors:\n"
        "  - {id: dw, type: door, family: shelly, topic: [a/sensor/state, a/sensor/battery]}\n"
        "  - {id: hall, type: motion, family: esphome, device: hall-node, object_id: pir,"
        " event_only: true}\n",
        "t.yaml",
    )
    dw, hall = (sensor.binding() for sensor in config.sensors)
    assert sensor_topics(dw) == ("a/sensor/state", "a/sensor/battery")
    assert sensor_topics(hall) == ("hall-node/binary_sensor/pir/state",)
    assert config.panel_settings().sensors[1].event_only
    assert config.panel_settings().report_grace == 120.0
    TopicMap.build("home", [dw, hall], [])


def test_report_grace_can_be_switched_off() -> None:
    config = parse_config(_config("{id: d, type: door}", "report_grace: null"), "t.yaml")
    assert config.panel_settings().report_grace is None


@pytest.mark.parametrize(
    ("sensor", "complaint"),
    [
        ("{id: k, type: window, family: tasmota, rf_codes: {opened: '80650A'}}", "unknown signal"),
        ("{id: k, type: window, family: tasmota, rf_codes: {open: 'xyz'}}", "not a hex code"),
        ("{id: k, type: window, family: tasmota, rf_codes: {motion: '80650A'}}", "open, closed"),
        ("{id: k, type: door, family: tasmota, rf_codes: {open: 'A1', closed: 'a1'}}", "same code"),
        ("{id: k, type: door, family: zigbee2mqtt, rf_codes: {open: 'A1'}}", "tasmota-family"),
        ("{id: k, type: door, family: zigbee2mqtt, component: 'input:0'}", "shelly-family"),
        ("{id: k, type: door, family: shelly, component: input}", "component"),
        ("{id: k, type: door, family: shelly, object_id: x}", "esphome-family"),
        ("{id: k, type: door, device: x}", "named by its id"),
        ("{id: k, type: door, family: shelly, topic: []}", "at least one topic"),
        ("{id: k, type: door, family: shelly, topic: [a/#]}", "wildcard"),
        ('{id: k, type: door, family: shelly, topic: [a, "b\\u0000"]}', "U\\+0000"),
    ],
)
def test_device_keys_are_checked(sensor: str, complaint: str) -> None:
    with pytest.raises(ConfigError, match=complaint):
        parse_config(_config(sensor), "t.yaml")


@pytest.mark.parametrize(
    "binding",
    [
        SensorBinding("k", SensorType.DOOR, "zigbee2mqtt", "garden/gate\t"),
        SensorBinding("k", SensorType.DOOR, "zigbee2mqtt", device="gate\n"),
        SensorBinding("k", SensorType.DOOR, "esphome", availability_topic="node/\x7f"),
    ],
)
def test_topic_maps_refuse_topics_the_broker_would_drop_the_connection_for(
    binding: SensorBinding,
) -> None:
    # Mosquitto closes the connection of a client that subscribes with a control character.
    with pytest.raises(ConfigError, match="U\\+00"):
        TopicMap.build("home", [binding], [])


def test_sensors_without_rf_codes_share_one_empty_mapping() -> None:
    # Not one per sensor, kept in its topic routes for the life of the controller.
    config = parse_config("sensors:\n  - {id: a, type: door}\n  - {id: b, type: window}\n")
    a, b = (sensor.binding() for sensor in config.sensors)
    assert a.rf_codes == {} and a.rf_codes is b.rf_codes


def test_a_sensor_keeps_its_settings_in_slots() -> None:
    # A slotted dataclass, not a model with a __dict__ and a set of the keys given:
    # about 500 bytes less per sensor, for the life of the controller.
    config = parse_config("sensors:\n  - {id: a, type: door}\n")
    assert not hasattr(config.sensors[0], "__dict__")
