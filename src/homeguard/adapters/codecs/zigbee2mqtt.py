"""Family ``zigbee2mqtt``: the JSON object Zigbee2MQTT publishes on ``zigbee2mqtt/<name>``.

Source: the "Exposes" of each device page on zigbee2mqtt.io, e.g. a contact sensor
(https://www.zigbee2mqtt.io/devices/SNTZ007.html: ``contact``, ``battery_low``,
``tamper``, ``battery``). Door/window ``"contact"``: **false = OPEN**, true = CLOSED.
Motion ``"occupancy"``, smoke ``"smoke"``, water ``"water_leak"``, panic ``"action"`` of
emergency/panic/sos -> ON. The key absent or null (e.g. linkquality only) is a heartbeat;
a non-bool value is ``bad_field``.

``"tamper"`` is a signal of its own (:attr:`Reading.tamper`), not a state: Zigbee2MQTT
repeats the last value of every exposed property in each message, so after one tamper
alarm every later message says ``"tamper": true`` and the door's ``contact`` in it must
still be heard. Only a sensor of type tamper takes its state from it (TAMPER / OFF).
``"battery_low"`` is :attr:`Reading.battery_low`; ``"battery"`` a percentage (either,
when malformed, is dropped: it never costs the state).
"""

from __future__ import annotations

from homeguard.core.model import SensorState, SensorType

from .payload import Document, Hints, Reading, extra, flag, json_object, level, soft_battery, word

_KEYS = {
    SensorType.DOOR: "contact",
    SensorType.WINDOW: "contact",
    SensorType.MOTION: "occupancy",
    SensorType.SMOKE: "smoke",
    SensorType.WATER: "water_leak",
    SensorType.TAMPER: "tamper",
}


def decode(kind: SensorType, doc: Document, hints: Hints) -> Reading:
    del hints  # one topic per device, its name in the topic
    obj = json_object(doc)
    key = _KEYS.get(kind)
    state: SensorState | None = None
    tamper = flag(obj, "tamper")
    if kind is SensorType.PANIC:
        action = obj.get("action")
        if isinstance(action, str) and word(action) in {"EMERGENCY", "PANIC", "SOS"}:
            state = SensorState.ON
    elif key is not None and (value := flag(obj, key)) is not None:
        state = level(kind, not value if key == "contact" else value)
    skip = ("battery", "battery_low", "tamper", key or "")
    return Reading(
        state=state,
        battery=soft_battery(obj.get("battery")),
        extra=extra(obj, skip),
        tamper=None if kind is SensorType.TAMPER else tamper,
        battery_low=low if isinstance(low := obj.get("battery_low"), bool) else None,
    )
