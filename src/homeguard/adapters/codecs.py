"""Payload codecs: the bytes of every MQTT message the controller receives, made typed.

Each decoder returns a value or raises :class:`~homeguard.errors.PayloadError` whose
``reason`` is a short tag (``empty``, ``too_large``, ``not_utf8``, ``bad_json``,
``unknown_state``, ``no_state``, ``missing_field``, ``bad_field``, ``unknown_action``,
``device_mismatch``, ``unknown_family``, ``unknown_type``); no other exception leaves
this module, whatever the bytes. Payloads over :data:`MAX_PAYLOAD` bytes are refused
before decoding; a UTF-8 BOM and surrounding whitespace are dropped; words are matched
case-insensitively (JSON keys are not, except Tasmota's). A payload starting with ``{``
or ``[`` is JSON and must be an object; a JSON string literal (``"OPEN"``) counts as the
plain word. JSON must be standard (no ``NaN``/``Infinity``), nest at most 16 deep, and
hold no lone surrogates, so whatever lands in ``extra``/``info`` can be re-encoded.

Sensor families. "active" is OPEN for a door/window, MOTION for motion, ON for
smoke/water/panic and TAMPER for a tamper sensor; "inactive" is CLOSED, NO_MOTION, OFF.

homeguard (native)
    ``OPEN``/``CLOSED`` (door, window), ``MOTION``/``NO_MOTION`` (motion), ``ON``/``OFF``
    (smoke, water, panic, tamper), ``TAMPER`` (any type); a word of another type is
    ``unknown_state``. JSON ``{"state", "seq", "ts", "battery"}`` is checked strictly:
    seq an int in [0, 2**63), ts epoch seconds in [0, 1e11) (so a millisecond epoch is
    refused), battery an int 0..100. A missing or null state is a heartbeat when seq, ts
    or battery is present, else ``missing_field``.
zigbee2mqtt
    A JSON object. ``"tamper": true`` wins -> TAMPER. Door/window ``"contact"``:
    **false = OPEN**, true = CLOSED. Motion ``"occupancy"``, smoke ``"smoke"``, water
    ``"water_leak"``, tamper sensor ``"tamper"`` (false -> OFF), panic ``"action"`` of
    emergency/panic/sos -> ON. The key absent or null (e.g. linkquality only) is a
    heartbeat; a non-bool value is ``bad_field``.
tasmota
    ``ON`` = active, ``OFF`` = inactive; for a door ON means OPEN, so configure the
    switch to report ON when the contact is open. Plain, or JSON with the first of
    ``POWER``, ``POWER1``, ``Switch1``, ``Switch`` (keys in any case; the value may be
    ``{"Action": "ON"}``). JSON with none of them (tele STATE, SENSOR) is a heartbeat.
shelly
    Gen1 ``open``/``close`` (or ``closed``) for door/window; ``true``/``false``,
    ``1``/``0``, ``on``/``off`` = active/inactive for any type (Gen1 flood, smoke,
    inputs). JSON: Gen1 motion ``{"motion": bool}`` for a motion sensor, otherwise Gen2
    ``{"state": bool}`` (true = active); battery from ``bat`` or ``battery``.
esphome, homeassistant
    binary_sensor ``ON``/``OFF`` (HA statestream: ``on``/``off``); ON = active. HA's
    ``unavailable``/``unknown`` are ``no_state``.

Foreign families never lose a state over bad metadata: a battery that is not a number
in 0..100 is dropped (rounded when fractional). ``extra`` keeps other top-level scalar
fields (at most 16, strings up to 128 characters), e.g. linkquality.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from homeguard.core.model import Action, SensorState, SensorType
from homeguard.core.signals import Command
from homeguard.errors import PayloadError

__all__ = [
    "MAX_PAYLOAD",
    "Announcement",
    "Family",
    "Reading",
    "decode_announce",
    "decode_availability",
    "decode_command",
    "decode_sensor",
    "decode_switch",
]

MAX_PAYLOAD = 4096  # bytes; anything larger is refused before decoding
_MAX_DEPTH = 16
_MAX_EXTRA = 16
_MAX_TEXT = 128
_MAX_CODE = 64
_SEQ_LIMIT = 2**63  # fits a signed 64-bit column
_TS_LIMIT = 1e11  # seconds; a millisecond epoch is far above it
_EMPTY: Mapping[str, Any] = MappingProxyType({})


class Family(StrEnum):
    """A device family: how its payloads read (chosen per sensor in the config)."""

    HOMEGUARD = "homeguard"
    ZIGBEE2MQTT = "zigbee2mqtt"
    TASMOTA = "tasmota"
    SHELLY = "shelly"
    ESPHOME = "esphome"
    HOMEASSISTANT = "homeassistant"


@dataclass(frozen=True, slots=True)
class Reading:
    """One sensor message: a state, or ``None`` when it only says the device is alive."""

    state: SensorState | None = None
    seq: int | None = None
    ts: float | None = None
    battery: int | None = None  # percent, 0..100
    extra: Mapping[str, Any] = field(default_factory=lambda: _EMPTY, hash=False)


@dataclass(frozen=True, slots=True)
class Announcement:
    """A device introducing itself on ``<base>/devices/<id>/announce``."""

    device_id: str
    type: str
    capabilities: tuple[str, ...] = ()
    timestamp: float | None = None
    info: Mapping[str, Any] = field(default_factory=lambda: _EMPTY, hash=False)


# ------------------------------------------------------------------------ decoders


def decode_sensor(family: str, sensor_type: SensorType | str, payload: bytes) -> Reading:
    """Decode a sensor message of ``family`` for a sensor of ``sensor_type``."""
    fam = _FAMILIES.get(str(family).lower())
    if fam is None:
        raise PayloadError("unknown_family", _show(family))
    kind = _TYPES.get(str(sensor_type).lower())
    if kind is None:
        raise PayloadError("unknown_type", _show(sensor_type))
    return _SENSOR_DECODERS[fam](kind, _document(payload))


def decode_command(payload: bytes) -> Command:
    """``ARM_AWAY`` ... ``TRIGGER``, or JSON ``{"action", "code", "force"}``.

    ``code`` may be a string or a non-negative integer (leading zeros cannot survive
    JSON numbers: send PINs as strings); an empty or null code means none. A refusal's
    detail never quotes the payload: it may hold a code.
    """
    try:
        return _command(payload)
    except PayloadError as exc:
        raise PayloadError(exc.reason, _COMMAND_DETAILS.get(exc.reason, exc.detail)) from None


_COMMAND_DETAILS = {
    "unknown_action": "expected " + ", ".join(Action),
    "bad_json": "expected a command word or a JSON object",
    "unknown_state": "expected a command word or a JSON object",
}


def _command(payload: bytes) -> Command:
    doc = _document(payload)
    if isinstance(doc, str):
        return Command(action=_action(doc))
    raw = doc.get("action")
    if raw is None:
        raise PayloadError("missing_field", "action")
    action = _action(_string(raw, "action"))
    code = doc.get("code")
    if code is None or code == "":
        code = None
    elif isinstance(code, int) and not isinstance(code, bool) and 0 <= code < 10**_MAX_CODE:
        code = str(code)
    elif not isinstance(code, str) or len(code) > _MAX_CODE:
        raise PayloadError("bad_field", "code must be a string or an integer")
    force = doc.get("force")
    if force is not None and not isinstance(force, bool):
        raise PayloadError("bad_field", "force must be true or false")
    return Command(action=action, code=code, force=bool(force), source="mqtt")


def decode_announce(device_id: str, payload: bytes) -> Announcement:
    """JSON ``{"device_id", "type", "capabilities", "timestamp"}``; other keys go to
    ``info``. A ``device_id`` in the payload must equal the topic's. ``type`` is lower
    cased. An empty payload (a retained announce being cleared) is ``empty``."""
    obj = _object(_document(payload))
    claimed = obj.get("device_id")
    if claimed is not None and claimed != device_id:
        raise PayloadError("device_mismatch", f"{_show(claimed)} on {_show(device_id)}'s topic")
    kind = obj.get("type")
    if kind is None:
        raise PayloadError("missing_field", "type")
    kind = _string(kind, "type").strip().lower()
    if not kind or len(kind) > _MAX_TEXT:
        raise PayloadError("bad_field", "type must be a short non-empty string")
    caps = obj.get("capabilities")
    if caps is None:
        caps = []
    if not isinstance(caps, list) or len(caps) > _MAX_EXTRA * 4:
        raise PayloadError("bad_field", "capabilities must be a list of strings")
    for cap in caps:
        if not isinstance(cap, str) or len(cap) > _MAX_TEXT:
            raise PayloadError("bad_field", "capabilities must be a list of strings")
    info = {k: v for k, v in obj.items() if k not in _ANNOUNCE_KEYS}
    return Announcement(
        device_id=device_id,
        type=kind,
        capabilities=tuple(caps),
        timestamp=_time(obj, "timestamp"),
        info=MappingProxyType(info) if info else _EMPTY,
    )


def decode_availability(payload: bytes) -> bool:
    """True for ``online``, ``true``, ``1``, ``ON``; False for ``offline``, ``false``,
    ``0``, ``OFF``; also Zigbee2MQTT's ``{"state": "online"}`` (or a bool there)."""
    return _binary(payload, _AVAILABILITY_WORDS, ("state",))


def decode_switch(payload: bytes) -> bool:
    """A siren, light or actuator state: ``ON``/``OFF`` (also ``true``/``false``,
    ``1``/``0``), plain or as JSON ``{"state": ...}`` or Tasmota ``{"POWER": ...}``."""
    return _binary(payload, _SWITCH_WORDS, ("state", "POWER"))


# ----------------------------------------------------------------- per family


def _native(kind: SensorType, doc: str | dict[str, Any]) -> Reading:
    if isinstance(doc, str):
        return Reading(state=_native_state(kind, doc))
    raw = doc.get("state")
    state = None if raw is None else _native_state(kind, _string(raw, "state"))
    seq = _integer(doc, "seq", _SEQ_LIMIT)
    ts = _time(doc, "ts")
    battery = _integer(doc, "battery", 101)
    if state is None and seq is None and ts is None and battery is None:
        raise PayloadError("missing_field", "state (or seq, ts or battery for a heartbeat)")
    return Reading(state, seq, ts, battery, _extra(doc, ("state", "seq", "ts", "battery")))


def _zigbee2mqtt(kind: SensorType, doc: str | dict[str, Any]) -> Reading:
    obj = _object(doc)
    key = _Z2M_KEYS.get(kind)
    state: SensorState | None = None
    if _flag(obj, "tamper"):
        state = SensorState.TAMPER
    elif kind is SensorType.PANIC:
        action = obj.get("action")
        if isinstance(action, str) and _word(action) in {"EMERGENCY", "PANIC", "SOS"}:
            state = SensorState.ON
    elif key is not None and (value := _flag(obj, key)) is not None:
        state = _level(kind, not value if key == "contact" else value)
    skip = ("battery", "tamper", key or "")
    return Reading(state=state, battery=_soft_battery(obj.get("battery")), extra=_extra(obj, skip))


def _tasmota(kind: SensorType, doc: str | dict[str, Any]) -> Reading:
    if isinstance(doc, str):
        return Reading(state=_on_off(kind, doc))
    upper = {key.upper(): (key, value) for key, value in doc.items()}
    for name in ("POWER", "POWER1", "SWITCH1", "SWITCH"):
        if name in upper:
            key, value = upper[name]
            if isinstance(value, dict):  # SetOption114: {"Switch1": {"Action": "ON"}}
                value = {k.upper(): v for k, v in value.items()}.get("ACTION")
            state = _on_off(kind, _string(value, key))
            return Reading(state=state, extra=_extra(doc, (key,)))
    return Reading(extra=_extra(doc, ()))


def _shelly(kind: SensorType, doc: str | dict[str, Any]) -> Reading:
    if isinstance(doc, str):
        word = _word(doc)
        if kind in (SensorType.DOOR, SensorType.WINDOW) and word in _CONTACT_WORDS:
            return Reading(state=_CONTACT_WORDS[word])
        if word not in _SWITCH_WORDS:
            raise PayloadError("unknown_state", f"{_show(doc)} for a {kind} sensor")
        return Reading(state=_level(kind, _SWITCH_WORDS[word]))
    key = "motion" if kind is SensorType.MOTION and "motion" in doc else "state"
    value = _flag(doc, key)
    battery = _soft_battery(doc.get("bat", doc.get("battery")))
    return Reading(
        state=None if value is None else _level(kind, value),
        battery=battery,
        extra=_extra(doc, (key, "bat", "battery")),
    )


def _binary_sensor(kind: SensorType, doc: str | dict[str, Any]) -> Reading:
    if not isinstance(doc, str):
        raise PayloadError("unknown_state", "expected ON or OFF, got a JSON object")
    if _word(doc) in {"UNAVAILABLE", "UNKNOWN"}:
        raise PayloadError("no_state", _show(doc))
    return Reading(state=_on_off(kind, doc))


_SENSOR_DECODERS: Mapping[Family, Callable[[SensorType, str | dict[str, Any]], Reading]] = {
    Family.HOMEGUARD: _native,
    Family.ZIGBEE2MQTT: _zigbee2mqtt,
    Family.TASMOTA: _tasmota,
    Family.SHELLY: _shelly,
    Family.ESPHOME: _binary_sensor,
    Family.HOMEASSISTANT: _binary_sensor,
}

# ------------------------------------------------------------------- vocabulary

_FAMILIES = {f.value: f for f in Family}
_TYPES = {t.value: t for t in SensorType}
_ACTIONS = {a.value: a for a in Action}
_ACTIVE = {
    SensorType.DOOR: (SensorState.OPEN, SensorState.CLOSED),
    SensorType.WINDOW: (SensorState.OPEN, SensorState.CLOSED),
    SensorType.MOTION: (SensorState.MOTION, SensorState.NO_MOTION),
    SensorType.TAMPER: (SensorState.TAMPER, SensorState.OFF),
    SensorType.PANIC: (SensorState.ON, SensorState.OFF),
    SensorType.SMOKE: (SensorState.ON, SensorState.OFF),
    SensorType.WATER: (SensorState.ON, SensorState.OFF),
}


def _native_words(kind: SensorType) -> dict[str, SensorState]:
    active, inactive = _ACTIVE[kind]
    words = {active.value: active, inactive.value: inactive, "TAMPER": SensorState.TAMPER}
    if inactive is SensorState.OFF:
        words["ON"] = active
    return words


_NATIVE_WORDS = {kind: _native_words(kind) for kind in SensorType}
_Z2M_KEYS = {
    SensorType.DOOR: "contact",
    SensorType.WINDOW: "contact",
    SensorType.MOTION: "occupancy",
    SensorType.SMOKE: "smoke",
    SensorType.WATER: "water_leak",
    SensorType.TAMPER: "tamper",
}
_CONTACT_WORDS = {
    "OPEN": SensorState.OPEN,
    "CLOSE": SensorState.CLOSED,
    "CLOSED": SensorState.CLOSED,
}
_SWITCH_WORDS = {"ON": True, "OFF": False, "TRUE": True, "FALSE": False, "1": True, "0": False}
_AVAILABILITY_WORDS = {**_SWITCH_WORDS, "ONLINE": True, "OFFLINE": False}
_ANNOUNCE_KEYS = frozenset({"device_id", "type", "capabilities", "timestamp"})

# ---------------------------------------------------------------------- helpers


def _document(payload: bytes) -> str | dict[str, Any]:
    """The payload as a plain word (stripped, not yet upper-cased) or a JSON object."""
    if len(payload) > MAX_PAYLOAD:
        raise PayloadError("too_large", f"{len(payload)} bytes, limit {MAX_PAYLOAD}")
    try:
        text = payload.decode("utf-8-sig").strip()
    except UnicodeDecodeError as exc:
        raise PayloadError("not_utf8", f"{exc.reason} at byte {exc.start}") from None
    if not text:
        raise PayloadError("empty", "no payload")
    if text[0] not in '{["':
        return text
    try:
        doc = json.loads(text, parse_float=_finite, parse_constant=_finite)
    except (ValueError, RecursionError) as exc:
        raise PayloadError("bad_json", str(exc)[:100]) from None
    _check_tree(doc, 0)
    if isinstance(doc, str):
        return doc.strip()
    if not isinstance(doc, dict):
        raise PayloadError("bad_json", "expected a JSON object")
    return doc


def _finite(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(f"number out of range: {text[:20]}")
    return number


def _check_tree(value: Any, depth: int) -> None:
    if depth > _MAX_DEPTH:
        raise PayloadError("bad_json", f"nested deeper than {_MAX_DEPTH}")
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise PayloadError("bad_json", "lone surrogate in a string") from None
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_tree(key, depth)
            _check_tree(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _check_tree(item, depth + 1)


def _object(doc: str | dict[str, Any]) -> dict[str, Any]:
    if isinstance(doc, str):
        raise PayloadError("bad_json", f"expected a JSON object, got {_show(doc)}")
    return doc


def _word(text: str) -> str:
    """Upper-cased and stripped; non-ASCII never matches (Unicode would map long s to S)."""
    return text.strip().upper() if text.isascii() else ""


def _show(value: object) -> str:
    return repr(value)[:40]


def _string(value: Any, key: str) -> str:
    if not isinstance(value, str):
        raise PayloadError("bad_field", f"{key} must be a string")
    return value


def _native_state(kind: SensorType, text: str) -> SensorState:
    state = _NATIVE_WORDS[kind].get(_word(text))
    if state is None:
        raise PayloadError("unknown_state", f"{_show(text)} for a {kind} sensor")
    return state


def _on_off(kind: SensorType, text: str) -> SensorState:
    word = _word(text)
    if word not in {"ON", "OFF"}:
        raise PayloadError("unknown_state", f"{_show(text)} for a {kind} sensor, expected ON/OFF")
    return _level(kind, word == "ON")


def _level(kind: SensorType, active: bool) -> SensorState:
    return _ACTIVE[kind][0 if active else 1]


def _action(text: str) -> Action:
    action = _ACTIONS.get(_word(text))
    if action is None:
        raise PayloadError("unknown_action", _show(text))
    return action


def _binary(payload: bytes, words: Mapping[str, bool], keys: Collection[str]) -> bool:
    doc = _document(payload)
    if isinstance(doc, dict):
        key = next((k for k in keys if doc.get(k) is not None), None)
        if key is None:
            raise PayloadError("missing_field", " or ".join(keys))
        value = doc[key]
        if isinstance(value, bool):
            return value
        doc = _string(value, key)
    found = words.get(_word(doc))
    if found is None:
        raise PayloadError("unknown_state", _show(doc))
    return found


def _flag(obj: Mapping[str, Any], key: str) -> bool | None:
    value = obj.get(key)
    if value is None or isinstance(value, bool):
        return value
    raise PayloadError("bad_field", f"{key} must be true or false")


def _integer(obj: Mapping[str, Any], key: str, limit: int) -> int | None:
    value = obj.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < limit:
        raise PayloadError("bad_field", f"{key} must be an integer in [0, {limit})")
    return value


def _time(obj: Mapping[str, Any], key: str) -> float | None:
    value = obj.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < _TS_LIMIT:
        raise PayloadError("bad_field", f"{key} must be epoch seconds")
    return float(value)


def _soft_battery(value: Any) -> int | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value <= 100:
        return round(value)
    return None


def _small(value: Any) -> bool:
    if isinstance(value, str):
        return len(value) <= _MAX_TEXT
    if isinstance(value, int) and not isinstance(value, bool):
        return abs(value) < _SEQ_LIMIT
    return value is None or isinstance(value, bool | float)


def _extra(obj: Mapping[str, Any], skip: Collection[str]) -> Mapping[str, Any]:
    kept: dict[str, Any] = {}
    for key, value in obj.items():
        if len(kept) < _MAX_EXTRA and key not in skip and len(key) <= _MAX_TEXT and _small(value):
            kept[key] = value
    return MappingProxyType(kept) if kept else _EMPTY
