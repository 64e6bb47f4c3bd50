"""Home Assistant MQTT discovery: what the site looks like to Home Assistant.

Pure functions of the config (no files, no sockets, no clock): :func:`discovery`
returns every retained config message, ``<prefix>/<component>/<node>/<object>/config``
(docs/home-assistant.md); :meth:`HomeAssistantTopics.is_ours` tells which topics of a
discovery prefix belong to this site, so that a retained config of ours that is no
longer in the list (a sensor deleted from the config) can be cleared. The
controller publishes them on every (re)connection and when Home Assistant's birth
message (``<prefix>/status`` = ``online``) arrives.

What appears, one Home Assistant device per physical device:

* the panel (device ``<node>``): an ``alarm_control_panel`` on ``<base>/alarm/state``
  and ``<base>/alarm/set``, the modes of ``panel.modes`` (all four when none are
  given) and ``trigger``, with ``code: REMOTE_CODE`` and a command template that puts
  the code typed on Home Assistant's keypad into homeguard's JSON command, so that
  homeguard checks it (lockout and duress included);
* every sensor (device ``<node>_<id>``, via the panel): a ``binary_sensor`` of its
  type's device class, a ``problem`` one (trouble), a ``connectivity`` one and a
  battery ``sensor``, all read from the retained ``<base>/alarm/sensors/<id>``;
* every actuator (device ``<node>_<id>``): its state from ``<base>/control/<id>/state``
  as a ``binary_sensor`` (``sound``, ``light``); with ``control_actuators``, a ``siren``
  or a ``light`` that switches it on its ON/OFF topic instead (the ACL then lets the
  ``security.clients`` logins do so).

Everything is available while homeguard is (``<base>/alarm/availability``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from homeguard import __version__
from homeguard.adapters.topics import HomeAssistantTopics, SiteTopics
from homeguard.config import ActuatorConfig, Config, SensorConfig
from homeguard.core.model import ArmMode, SensorType
from homeguard.core.signals import ActuatorKind
from homeguard.errors import ConfigError

__all__ = [
    "COMMAND_TEMPLATE",
    "DiscoveryMessage",
    "discovery",
    "home_assistant_topics",
]

# What Home Assistant's MQTT alarm panel publishes: its template rendered with
# ``action`` (payload_arm_away ...) and ``code`` (what was typed; None when nothing).
# ``tojson`` quotes the code as JSON (null when none), so any text typed stays a string.
COMMAND_TEMPLATE = '{"action": "{{ action }}", "code": {{ code | tojson }}}'

_DEVICE_CLASS: Mapping[SensorType, str] = {
    SensorType.DOOR: "door",
    SensorType.WINDOW: "window",
    SensorType.MOTION: "motion",
    SensorType.TAMPER: "tamper",
    SensorType.PANIC: "safety",
    SensorType.SMOKE: "smoke",
    SensorType.WATER: "moisture",
}
_FEATURE: Mapping[ArmMode, str] = {
    ArmMode.AWAY: "arm_away",
    ArmMode.HOME: "arm_home",
    ArmMode.NIGHT: "arm_night",
    ArmMode.VACATION: "arm_vacation",
}
# The sensor's state on <base>/alarm/sensors/<id> (Outbound.sensor); "None" is
# Home Assistant's word for unknown.
_ACTIVE = "{{ 'None' if value_json.state is none else 'ON' if value_json.active else 'OFF' }}"
_TROUBLE = "{{ 'OFF' if value_json.trouble is none else 'ON' }}"
_ONLINE = "{{ 'OFF' if value_json.trouble == 'offline' else 'ON' }}"
_BATTERY = "{{ 'None' if value_json.battery is none else value_json.battery }}"


@dataclass(frozen=True, slots=True)
class DiscoveryMessage:
    """One retained discovery config: its topic and JSON payload."""

    topic: str
    config: Mapping[str, Any]

    @property
    def payload(self) -> str:
        return json.dumps(self.config, sort_keys=True)


def home_assistant_topics(config: Config) -> HomeAssistantTopics | None:
    """The site's discovery topics; None when discovery is switched off."""
    section = config.home_assistant
    if not section.discovery:
        return None
    return HomeAssistantTopics(section.prefix, section.node(config.mqtt.base_topic))


def discovery(config: Config) -> list[DiscoveryMessage]:
    """Every discovery config of the site, panel first; empty when switched off."""
    where = home_assistant_topics(config)
    if where is None:
        return []
    site = SiteTopics(config.mqtt.base_topic)
    panel_device = {
        "identifiers": [where.node],
        "name": "homeguard" if site.base == "home" else f"homeguard {site.base}",
        "manufacturer": "homeguard",
        "model": "Alarm panel",
        "sw_version": __version__,
    }
    common = {
        "availability_topic": site.controller_availability,
        "payload_available": "online",
        "payload_not_available": "offline",
        "origin": {"name": "homeguard", "sw_version": __version__},
        "qos": 1,
    }
    messages = [
        DiscoveryMessage(
            where.config("alarm_control_panel", "panel"),
            {**common, **_panel(config, site, where.node), "device": panel_device},
        )
    ]
    for sensor in config.sensors:
        device = _child_device(where.node, sensor.id, sensor.name or sensor.id)
        device["model"] = f"{sensor.family} {sensor.type.value} sensor"
        for component, object_id, entity in _sensor_entities(sensor, site, where.node):
            body = {**common, **entity, "device": device}
            messages.append(DiscoveryMessage(where.config(component, object_id), body))
    for actuator in config.actuators:
        device = _child_device(where.node, actuator.id, actuator.id)
        device["model"] = actuator.type.value
        control = config.home_assistant.control_actuators
        component, entity = _actuator_entity(actuator, site, where.node, control=control)
        body = {**common, **entity, "device": device}
        messages.append(DiscoveryMessage(where.config(component, actuator.id), body))
    seen: set[str] = set()
    for message in messages:
        if message.topic in seen:  # e.g. sensors "door" and "door_battery"
            raise ConfigError(
                f"two Home Assistant entities on {message.topic}: rename one of the "
                "devices whose ids make it"
            )
        seen.add(message.topic)
    return messages


def _panel(config: Config, site: SiteTopics, node: str) -> dict[str, Any]:
    modes = [mode for mode in ArmMode if mode in config.panel.modes] or list(ArmMode)
    codes = bool(config.users)
    by_code = config.panel.mqtt_commands == "code"
    entity: dict[str, Any] = {
        "name": None,  # the entity takes the device's name
        "unique_id": f"{node}_panel",
        "state_topic": site.alarm_state,
        "command_topic": site.alarm_set,
        "command_template": COMMAND_TEMPLATE,
        "json_attributes_topic": site.status,
        "supported_features": [_FEATURE[mode] for mode in modes] + ["trigger"],
        "payload_arm_away": "ARM_AWAY",
        "payload_arm_home": "ARM_HOME",
        "payload_arm_night": "ARM_NIGHT",
        "payload_arm_vacation": "ARM_VACATION",
        "payload_disarm": "DISARM",
        "payload_trigger": "TRIGGER",
        "code_arm_required": codes and by_code and config.panel.code_arm_required,
        "code_disarm_required": codes and by_code,
        "code_trigger_required": False,
    }
    if codes:
        # Home Assistant shows its keypad and passes what was typed on, unchecked:
        # homeguard checks it (and counts wrong codes towards the lockout).
        entity["code"] = "REMOTE_CODE"
    return entity


def _child_device(node: str, device_id: str, name: str) -> dict[str, Any]:
    return {
        "identifiers": [f"{node}_{device_id}"],
        "name": name,
        "manufacturer": "homeguard",
        "via_device": node,
    }


def _sensor_entities(
    sensor: SensorConfig, site: SiteTopics, node: str
) -> list[tuple[str, str, dict[str, Any]]]:
    state = site.sensor_state(sensor.id)
    unique = f"{node}_{sensor.id}"
    detector = {
        "name": None,
        "unique_id": unique,
        "device_class": _DEVICE_CLASS[sensor.type],
        "state_topic": state,
        "value_template": _ACTIVE,
        "json_attributes_topic": state,
    }
    trouble = {
        "name": "Trouble",
        "unique_id": f"{unique}_trouble",
        "device_class": "problem",
        "entity_category": "diagnostic",
        "state_topic": state,
        "value_template": _TROUBLE,
    }
    online = {
        "name": "Connectivity",
        "unique_id": f"{unique}_connectivity",
        "device_class": "connectivity",
        "entity_category": "diagnostic",
        "state_topic": state,
        "value_template": _ONLINE,
    }
    battery = {
        "name": "Battery",
        "unique_id": f"{unique}_battery",
        "device_class": "battery",
        "state_class": "measurement",
        "unit_of_measurement": "%",
        "entity_category": "diagnostic",
        "state_topic": state,
        "value_template": _BATTERY,
    }
    return [
        ("binary_sensor", sensor.id, detector),
        ("binary_sensor", f"{sensor.id}_trouble", trouble),
        ("binary_sensor", f"{sensor.id}_connectivity", online),
        ("sensor", f"{sensor.id}_battery", battery),
    ]


def _actuator_entity(
    actuator: ActuatorConfig, site: SiteTopics, node: str, *, control: bool
) -> tuple[str, dict[str, Any]]:
    entity: dict[str, Any] = {
        "name": None,
        "unique_id": f"{node}_{actuator.id}",
        "state_topic": site.actuator_state(actuator.id),
        "payload_on": "ON",
        "payload_off": "OFF",
    }
    if not control:  # what the actuator reports, without a switch
        sound = actuator.type is ActuatorKind.SIREN
        return "binary_sensor", entity | {"device_class": "sound" if sound else "light"}
    entity["command_topic"] = actuator.topic or site.control(actuator.type)
    if actuator.type is ActuatorKind.SIREN:
        entity |= {
            "state_on": "ON",
            "state_off": "OFF",
            "support_duration": False,
            "support_volume_set": False,
        }
        return "siren", entity
    return "light", entity
