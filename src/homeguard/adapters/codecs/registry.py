"""The device families and which codec reads each one's sensor payloads."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

from homeguard.core.model import SensorType
from homeguard.errors import PayloadError

from . import esphome, homeassistant, native, shelly, tasmota, zigbee2mqtt
from .payload import Hints, Reading, SensorDecoder, document, show


class Family(StrEnum):
    """A device family: how its payloads read (chosen per sensor in the config)."""

    HOMEGUARD = "homeguard"
    ZIGBEE2MQTT = "zigbee2mqtt"
    TASMOTA = "tasmota"
    SHELLY = "shelly"
    ESPHOME = "esphome"
    HOMEASSISTANT = "homeassistant"


_DECODERS: Mapping[Family, SensorDecoder] = {
    Family.HOMEGUARD: native.decode,
    Family.ZIGBEE2MQTT: zigbee2mqtt.decode,
    Family.TASMOTA: tasmota.decode,
    Family.SHELLY: shelly.decode,
    Family.ESPHOME: esphome.decode,
    Family.HOMEASSISTANT: homeassistant.decode,
}
_FAMILIES = {f.value: f for f in Family}
_TYPES = {t.value: t for t in SensorType}


_NO_HINTS = Hints()


def decode_sensor(
    family: str, sensor_type: SensorType | str, payload: bytes, hints: Hints = _NO_HINTS
) -> Reading:
    """Decode a sensor message of ``family`` for a sensor of ``sensor_type``; ``hints``
    say which topic it came on and what the config says of the device."""
    fam = _FAMILIES.get(str(family).lower())
    if fam is None:
        raise PayloadError("unknown_family", show(family))
    kind = _TYPES.get(str(sensor_type).lower())
    if kind is None:
        raise PayloadError("unknown_type", show(sensor_type))
    return _DECODERS[fam](kind, document(payload), hints)
