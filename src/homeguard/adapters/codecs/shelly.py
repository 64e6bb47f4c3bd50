"""Family ``shelly``: Gen1 ``shellies/<id>/...`` topics and Gen2 ``{"state": ...}``.

Gen1 ``open``/``close`` (or ``closed``) for door/window; ``true``/``false``, ``1``/``0``,
``on``/``off`` = active/inactive for any type (Gen1 flood, smoke, inputs). JSON: Gen1
motion ``{"motion": bool}`` for a motion sensor, otherwise Gen2 ``{"state": bool}`` (true
= active); battery from ``bat`` or ``battery``.
"""

from __future__ import annotations

from homeguard.core.model import SensorState, SensorType
from homeguard.errors import PayloadError

from .payload import SWITCH_WORDS, Document, Reading, extra, flag, level, show, soft_battery, word

_CONTACT_WORDS = {
    "OPEN": SensorState.OPEN,
    "CLOSE": SensorState.CLOSED,
    "CLOSED": SensorState.CLOSED,
}


def decode(kind: SensorType, doc: Document) -> Reading:
    if isinstance(doc, str):
        said = word(doc)
        if kind in (SensorType.DOOR, SensorType.WINDOW) and said in _CONTACT_WORDS:
            return Reading(state=_CONTACT_WORDS[said])
        if said not in SWITCH_WORDS:
            raise PayloadError("unknown_state", f"{show(doc)} for a {kind} sensor")
        return Reading(state=level(kind, SWITCH_WORDS[said]))
    key = "motion" if kind is SensorType.MOTION and "motion" in doc else "state"
    value = flag(doc, key)
    battery = soft_battery(doc.get("bat", doc.get("battery")))
    return Reading(
        state=None if value is None else level(kind, value),
        battery=battery,
        extra=extra(doc, (key, "bat", "battery")),
    )
