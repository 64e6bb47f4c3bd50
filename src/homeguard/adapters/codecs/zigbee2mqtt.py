"""Family ``zigbee2mqtt``: the JSON object Zigbee2MQTT publishes on ``zigbee2mqtt/<name>``.

``"tamper": true`` wins -> TAMPER. Door/window ``"contact"``: **false = OPEN**, true =
CLOSED. Motion ``"occupancy"``, smoke ``"smoke"``, water ``"water_leak"``, tamper sensor
``"tamper"`` (false -> OFF), panic ``"action"`` of emergency/panic/sos -> ON. The key
absent or null (e.g. linkquality only) is a heartbeat; a non-bool value is ``bad_field``.
"""

from __future__ import annotations

from homeguard.core.model import SensorState, SensorType

from .payload import Document, Reading, extra, flag, json_object, level, soft_battery, word

_KEYS = {
    SensorType.DOOR: "contact",
    SensorType.WINDOW: "contact",
    SensorType.MOTION: "occupancy",
    SensorType.SMOKE: "smoke",
    SensorType.WATER: "water_leak",
    SensorType.TAMPER: "tamper",
}


def decode(kind: SensorType, doc: Document) -> Reading:
    obj = json_object(doc)
    key = _KEYS.get(kind)
    state: SensorState | None = None
    if flag(obj, "tamper"):
        state = SensorState.TAMPER
    elif kind is SensorType.PANIC:
        action = obj.get("action")
        if isinstance(action, str) and word(action) in {"EMERGENCY", "PANIC", "SOS"}:
            state = SensorState.ON
    elif key is not None and (value := flag(obj, key)) is not None:
        state = level(kind, not value if key == "contact" else value)
    skip = ("battery", "tamper", key or "")
    return Reading(state=state, battery=soft_battery(obj.get("battery")), extra=extra(obj, skip))
