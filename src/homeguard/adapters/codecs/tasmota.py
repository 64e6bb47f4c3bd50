"""Family ``tasmota``: ``stat/<topic>/POWER`` and switch messages.

``ON`` = active, ``OFF`` = inactive; for a door ON means OPEN, so configure the switch to
report ON when the contact is open. Plain, or JSON with the first of ``POWER``,
``POWER1``, ``Switch1``, ``Switch`` (keys in any case; the value may be ``{"Action":
"ON"}``). JSON with none of them (tele STATE, SENSOR) is a heartbeat.
"""

from __future__ import annotations

from homeguard.core.model import SensorType

from .payload import Document, Reading, extra, on_off, string


def decode(kind: SensorType, doc: Document) -> Reading:
    if isinstance(doc, str):
        return Reading(state=on_off(kind, doc))
    upper = {key.upper(): (key, value) for key, value in doc.items()}
    for name in ("POWER", "POWER1", "SWITCH1", "SWITCH"):
        if name in upper:
            key, value = upper[name]
            if isinstance(value, dict):  # SetOption114: {"Switch1": {"Action": "ON"}}
                value = {k.upper(): v for k, v in value.items()}.get("ACTION")
            state = on_off(kind, string(value, key))
            return Reading(state=state, extra=extra(doc, (key,)))
    return Reading(extra=extra(doc, ()))
