"""Family ``shelly``: Gen1 ``shellies/<id>/...`` topics, Gen2/Gen3 (Plus, Pro, BLU
gateway) ``<id>/events/rpc`` and ``<id>/status/<component>``.

Gen1 (https://shelly-api-docs.shelly.cloud/gen1/#shelly-door-window-2-mqtt and the pages
of the flood, smoke and motion sensors): ``sensor/state`` ``open``/``close`` (or
``closed``) for door/window; ``true``/``false``, ``1``/``0``, ``on``/``off`` =
active/inactive for any type (``sensor/flood``, ``sensor/smoke``, inputs). The motion
sensor's ``status`` is JSON ``{"motion": bool, "vibration": bool, "bat": 87, ...}``.
The door/window's other topics feed the same sensor: ``sensor/battery`` (percent),
``sensor/tilt`` (degrees, kept as ``tilt``) and ``sensor/vibration`` (``1`` after a
knock, kept as ``vibration``; for a tamper sensor ``1`` is TAMPER).

Gen2+ (https://shelly-api-docs.shelly.cloud/gen2/General/Notifications and
.../ComponentsAndServices/Mqtt): the sensor names its ``component`` (``input:0``, or a
BLU device's ``bthomesensor:<id>``). ``events/rpc`` carries ``{"method":
"NotifyStatus", "params": {"ts": ..., "input:0": {"id": 0, "state": true}}}`` (also
``NotifyFullStatus``); ``status/<component>`` the component's whole status ``{"id": 0,
"state": true}``. An input's ``state`` or a BTHome sensor's ``value``: true = active
(OPEN, MOTION; set the input's own ``invert`` on the Shelly if your contact reports the
other way). ``devicepower:0``'s ``battery.percent`` is the battery. A message about
other components (``sys``, ``wifi``, another input) or a ``NotifyEvent`` is a
heartbeat. Without a component, JSON ``{"state": bool}`` is read as before.
"""

from __future__ import annotations

from typing import Any

from homeguard.core.model import SensorState, SensorType
from homeguard.errors import PayloadError

from .payload import (
    SWITCH_WORDS,
    Document,
    Hints,
    Reading,
    extra,
    flag,
    json_object,
    level,
    show,
    soft_battery,
    word,
)

_CONTACT_WORDS = {
    "OPEN": SensorState.OPEN,
    "CLOSE": SensorState.CLOSED,
    "CLOSED": SensorState.CLOSED,
}
_NOTIFY_STATUS = frozenset({"NotifyStatus", "NotifyFullStatus"})
_POWER = "devicepower:0"


def decode(kind: SensorType, doc: Document, hints: Hints) -> Reading:
    leaf = hints.topic.rpartition("/")[2]
    parent = hints.topic.rpartition("/")[0].rpartition("/")[2]
    if leaf == "rpc" and parent == "events":
        return _notification(kind, json_object(doc), hints.component)
    if parent == "status" and ":" in leaf:
        # The topic names the component, so a sensor bound to it needs no component.
        return _components(kind, {leaf: json_object(doc)}, hints.component or leaf)
    if parent == "sensor" and leaf in _GEN1_EXTRAS:
        return _GEN1_EXTRAS[leaf](kind, doc)
    if isinstance(doc, str):
        return Reading(state=_word_state(kind, doc))
    key = "motion" if kind is SensorType.MOTION and "motion" in doc else "state"
    value = flag(doc, key)
    battery = soft_battery(doc.get("bat", doc.get("battery")))
    return Reading(
        state=None if value is None else level(kind, value),
        battery=battery,
        extra=extra(doc, (key, "bat", "battery")),
    )


def _word_state(kind: SensorType, doc: str) -> SensorState:
    said = word(doc)
    if kind in (SensorType.DOOR, SensorType.WINDOW) and said in _CONTACT_WORDS:
        return _CONTACT_WORDS[said]
    if said not in SWITCH_WORDS:
        raise PayloadError("unknown_state", f"{show(doc)} for a {kind} sensor")
    return level(kind, SWITCH_WORDS[said])


def _number(doc: Document, what: str) -> float:
    text = doc if isinstance(doc, str) else None
    try:
        return float(text or "")
    except ValueError:
        raise PayloadError("bad_field", f"{what} must be a number, got {show(doc)}") from None


def _battery(kind: SensorType, doc: Document) -> Reading:
    del kind
    return Reading(battery=soft_battery(_number(doc, "battery")))


def _tilt(kind: SensorType, doc: Document) -> Reading:
    del kind
    return Reading(extra={"tilt": _number(doc, "tilt")})


def _vibration(kind: SensorType, doc: Document) -> Reading:
    if kind is SensorType.TAMPER:
        return Reading(state=_word_state(kind, doc if isinstance(doc, str) else ""))
    return Reading(extra={"vibration": _number(doc, "vibration") != 0})


_GEN1_EXTRAS = {"battery": _battery, "tilt": _tilt, "vibration": _vibration}


def _notification(kind: SensorType, frame: dict[str, Any], component: str | None) -> Reading:
    params = frame.get("params")
    if frame.get("method") not in _NOTIFY_STATUS or not isinstance(params, dict):
        return Reading()  # NotifyEvent, a reply: the device is alive
    return _components(kind, params, component)


def _components(kind: SensorType, status: dict[str, Any], component: str | None) -> Reading:
    state: SensorState | None = None
    mine = status.get(component) if component is not None else None
    if isinstance(mine, dict):
        value = mine.get("state", mine.get("value"))
        if value is not None and not isinstance(value, bool):
            raise PayloadError("bad_field", f"{component} state must be true or false")
        if value is not None:
            state = level(kind, value)
    power = status.get(_POWER)
    battery = None
    if isinstance(power, dict) and isinstance(power.get("battery"), dict):
        battery = soft_battery(power["battery"].get("percent"))
    return Reading(state=state, battery=battery)
