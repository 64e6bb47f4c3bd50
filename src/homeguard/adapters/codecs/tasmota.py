"""Family ``tasmota``: ``stat/<topic>/POWER``, switch messages, and RF bridge codes.

Source: https://tasmota.github.io/docs/ (Commands: ``POWER``, ``SetOption114`` switch
messages; MQTT: ``tele/<topic>/LWT`` ``Online``/``Offline``; Sonoff RF Bridge 433:
``tele/<topic>/RESULT`` ``{"RfReceived": {"Sync": 14080, "Low": 470, "High": 1380,
"Data": "80650A", "RfKey": "None"}}``).

``ON`` = active, ``OFF`` = inactive; for a door ON means OPEN, so configure the switch to
report ON when the contact is open. Plain, or JSON with the first of ``POWER``,
``POWER1``, ``Switch1``, ``Switch`` (keys in any case; the value may be ``{"Action":
"ON"}``). JSON with none of them (tele STATE, SENSOR) is a heartbeat.

A sensor with ``rf_codes`` hears an RF bridge: the ``Data`` of ``RfReceived`` (hex, any
case) is looked up in its codes (active, inactive, tamper). A code that is
not this sensor's is ``unmatched`` (the bridge's topic is shared by all its sensors). A
tamper code is a tamper; the sensor's next open or closed code ends it.
"""

from __future__ import annotations

from typing import Any

from homeguard.core.model import SensorType
from homeguard.errors import PayloadError

from .payload import Document, Hints, Reading, RfSignal, extra, level, on_off, show, string


def decode(kind: SensorType, doc: Document, hints: Hints) -> Reading:
    if hints.rf_codes:
        return _rf(kind, doc, hints)
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


def _rf(kind: SensorType, doc: Document, hints: Hints) -> Reading:
    received = _key(doc, "RfReceived") if isinstance(doc, dict) else None
    if not isinstance(received, dict):
        raise PayloadError("missing_field", "RfReceived")
    data = _key(received, "Data")
    if isinstance(data, int) and not isinstance(data, bool):
        data = f"{data:X}"
    code = string(data, "Data").strip().upper().removeprefix("0X")
    signal = hints.rf_codes.get(code)
    if signal is None:
        raise PayloadError("unmatched", f"RF code {show(code)}")
    info = extra(received, ("Data",))
    if signal is RfSignal.TAMPER:
        return Reading(tamper=True, extra=info)
    # A sensor sends no "tamper over" code: its next open or closed code ends it.
    return Reading(state=level(kind, signal is RfSignal.ACTIVE), tamper=False, extra=info)


def _key(obj: dict[str, Any], name: str) -> Any:
    """Tasmota's keys in any case."""
    wanted = name.upper()
    return next((value for key, value in obj.items() if key.upper() == wanted), None)
