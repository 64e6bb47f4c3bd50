"""Where the sensors of each device family are heard by default, and their availability.

Each sensor of a foreign family is heard on its ``topic`` (one or a list), by default
its family's usual ones, where ``<dev>`` is the sensor's ``device`` (its name in its
family; default: its id); docs/topics.md has the payloads and their sources:
``zigbee2mqtt/<dev>``; tasmota ``stat/<dev>/POWER``, or with ``rf_codes``
``tele/<dev>/RESULT`` (the RF bridge's); shelly Gen1 door/window
``shellies/<dev>/sensor/state``, ``.../sensor/battery``, ``.../sensor/tilt`` and
``.../sensor/vibration`` (motion: ``shellies/<dev>/status``; water:
``.../sensor/flood``; smoke: ``.../sensor/smoke``; both also ``.../sensor/battery``),
shelly Gen2+ (a ``component`` is set) ``<dev>/events/rpc``,
``<dev>/status/<component>`` and ``<dev>/status/devicepower:0``; esphome
``<dev>/binary_sensor/<object_id>/state`` (``object_id`` default: the sensor id);
Home Assistant statestream ``homeassistant/binary_sensor/<dev>/state``.

Availability: the sensor's ``availability_topic`` when configured, else the family's
usual one:
``zigbee2mqtt/<dev>/availability``, tasmota ``tele/<dev>/LWT`` (``Online``/``Offline``),
shelly Gen1 ``shellies/<dev>/online`` and Gen2+ ``<dev>/online`` (``true``/``false``),
esphome ``<dev>/status`` (``online``/``offline``). Home Assistant says ``unavailable`` on
the state topic instead.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

from homeguard.adapters.codecs import Family, RfSignal
from homeguard.core.model import SensorType
from homeguard.errors import ConfigError

__all__ = [
    "NO_RF_CODES",
    "SensorBinding",
    "availability_topics",
    "default_topic",
    "family_and_type",
    "sensor_topics",
]


# Shared by every binding without codes (nearly all): not one empty mapping per sensor.
NO_RF_CODES: Mapping[str, RfSignal] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class SensorBinding:
    """Where a configured sensor publishes, and in which family's language."""

    sensor_id: str
    sensor_type: SensorType
    family: str = Family.HOMEGUARD
    # None: the family's default (see the module docstring); several: all feed the sensor
    topic: str | Sequence[str] | None = None
    availability_topic: str | None = None  # None: the family's default, if it has one
    device: str | None = None  # its name in its family's topics; None: the sensor id
    object_id: str | None = None  # ESPHome: the binary_sensor's object id; None: the id
    component: str | None = None  # Shelly Gen2+: "input:0", "bthomesensor:200"
    rf_codes: Mapping[str, RfSignal] = field(default_factory=lambda: NO_RF_CODES)


_DEFAULT_TOPICS: Mapping[Family, str] = {
    Family.ZIGBEE2MQTT: "zigbee2mqtt/{id}",
    Family.TASMOTA: "stat/{id}/POWER",
    Family.SHELLY: "shellies/{id}/sensor/state",
    Family.ESPHOME: "{id}/binary_sensor/{object_id}/state",
    Family.HOMEASSISTANT: "homeassistant/binary_sensor/{id}/state",
}
_SHELLY_TOPICS: Mapping[SensorType, str] = {
    SensorType.MOTION: "shellies/{id}/status",
    SensorType.WATER: "shellies/{id}/sensor/flood",
    SensorType.SMOKE: "shellies/{id}/sensor/smoke",
}
# Shelly Gen1 battery devices report more on topics of their own (module docstring).
_SHELLY_MORE: Mapping[SensorType, tuple[str, ...]] = {
    SensorType.DOOR: ("battery", "tilt", "vibration"),
    SensorType.WINDOW: ("battery", "tilt", "vibration"),
    SensorType.WATER: ("battery",),
    SensorType.SMOKE: ("battery",),
}
_DEFAULT_AVAILABILITY: Mapping[Family, str] = {
    Family.ZIGBEE2MQTT: "zigbee2mqtt/{id}/availability",
    Family.TASMOTA: "tele/{id}/LWT",
    Family.SHELLY: "shellies/{id}/online",
    Family.ESPHOME: "{id}/status",
}


def default_topic(
    family: Family, sensor_type: SensorType, sensor_id: str, object_id: str | None = None
) -> str | None:
    """The topic a sensor of a foreign family publishes its state on by default; None
    for native."""
    if family is Family.SHELLY and sensor_type in _SHELLY_TOPICS:
        return _SHELLY_TOPICS[sensor_type].format(id=sensor_id)
    template = _DEFAULT_TOPICS.get(family)
    if template is None:
        return None
    return template.format(id=sensor_id, object_id=object_id or sensor_id)


def sensor_topics(binding: SensorBinding) -> tuple[str, ...]:
    """Every topic a foreign-family sensor is heard on (its own or its family's); empty
    for a native sensor without a topic (it uses the contract's)."""
    if isinstance(binding.topic, str):
        return (binding.topic,)
    if binding.topic is not None:
        return tuple(binding.topic)
    family, kind = family_and_type(binding)
    device = binding.device or binding.sensor_id
    if family is Family.TASMOTA and binding.rf_codes:
        return (f"tele/{device}/RESULT",)
    if family is Family.SHELLY and binding.component is not None:
        status = f"{device}/status/"
        return (f"{device}/events/rpc", status + binding.component, status + "devicepower:0")
    topic = default_topic(family, kind, device, binding.object_id or binding.sensor_id)
    if topic is None:
        return ()
    more = _SHELLY_MORE.get(kind, ()) if family is Family.SHELLY else ()
    return (topic, *(f"shellies/{device}/sensor/{leaf}" for leaf in more))


def availability_topics(binding: SensorBinding) -> tuple[str, ...]:
    """The topic of the sensor's own online/offline messages, if it has one besides
    ``<base>/devices/<id>/availability``."""
    if binding.availability_topic is not None:
        return (binding.availability_topic,)
    family, _kind = family_and_type(binding)
    device = binding.device or binding.sensor_id
    if family is Family.ZIGBEE2MQTT and binding.topic is not None:
        return (f"{sensor_topics(binding)[0]}/availability",)  # next to its state topic
    if family is Family.SHELLY and binding.component is not None:
        return (f"{device}/online",)
    template = _DEFAULT_AVAILABILITY.get(family)
    return () if template is None else (template.format(id=device),)


def family_and_type(binding: SensorBinding) -> tuple[Family, SensorType]:
    if isinstance(binding.family, Family) and isinstance(binding.sensor_type, SensorType):
        return binding.family, binding.sensor_type  # from the config: checked already
    try:
        family = Family(str(binding.family).lower())
    except ValueError:
        raise ConfigError(
            f"sensor {binding.sensor_id!r}: unknown family {binding.family!r}"
            f" (known: {', '.join(Family)})"
        ) from None
    try:
        return family, SensorType(str(binding.sensor_type).lower())
    except ValueError:
        raise ConfigError(
            f"sensor {binding.sensor_id!r}: unknown type {binding.sensor_type!r}"
        ) from None
