"""The topic contract's own messages that are not sensor readings: commands on
``<base>/alarm/set``, announcements, availability, and actuator states."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from homeguard.core.model import Action
from homeguard.core.signals import Command
from homeguard.errors import PayloadError

from .payload import (
    EMPTY,
    MAX_EXTRA,
    MAX_TEXT,
    SWITCH_WORDS,
    document,
    epoch,
    json_object,
    show,
    string,
    word,
)

_MAX_CODE = 64
_ACTIONS = {a.value: a for a in Action}
_AVAILABILITY_WORDS = {**SWITCH_WORDS, "ONLINE": True, "OFFLINE": False}
_ANNOUNCE_KEYS = frozenset({"device_id", "type", "capabilities", "timestamp"})


@dataclass(frozen=True, slots=True)
class Announcement:
    """A device introducing itself on ``<base>/devices/<id>/announce``."""

    device_id: str
    type: str
    capabilities: tuple[str, ...] = ()
    timestamp: float | None = None
    info: Mapping[str, Any] = field(default_factory=lambda: EMPTY, hash=False)


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
    doc = document(payload)
    if isinstance(doc, str):
        return Command(action=_action(doc))
    raw = doc.get("action")
    if raw is None:
        raise PayloadError("missing_field", "action")
    action = _action(string(raw, "action"))
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


def _action(text: str) -> Action:
    action = _ACTIONS.get(word(text))
    if action is None:
        raise PayloadError("unknown_action", show(text))
    return action


def decode_announce(device_id: str, payload: bytes) -> Announcement:
    """JSON ``{"device_id", "type", "capabilities", "timestamp"}``; other keys go to
    ``info``. A ``device_id`` in the payload must equal the topic's. ``type`` is lower
    cased. An empty payload (a retained announce being cleared) is ``empty``."""
    obj = json_object(document(payload))
    claimed = obj.get("device_id")
    if claimed is not None and claimed != device_id:
        raise PayloadError("device_mismatch", f"{show(claimed)} on {show(device_id)}'s topic")
    kind = obj.get("type")
    if kind is None:
        raise PayloadError("missing_field", "type")
    kind = string(kind, "type").strip().lower()
    if not kind or len(kind) > MAX_TEXT:
        raise PayloadError("bad_field", "type must be a short non-empty string")
    caps = obj.get("capabilities")
    if caps is None:
        caps = []
    if not isinstance(caps, list) or len(caps) > MAX_EXTRA * 4:
        raise PayloadError("bad_field", "capabilities must be a list of strings")
    for cap in caps:
        if not isinstance(cap, str) or len(cap) > MAX_TEXT:
            raise PayloadError("bad_field", "capabilities must be a list of strings")
    info = {k: v for k, v in obj.items() if k not in _ANNOUNCE_KEYS}
    return Announcement(
        device_id=device_id,
        type=kind,
        capabilities=tuple(caps),
        timestamp=epoch(obj, "timestamp"),
        info=MappingProxyType(info) if info else EMPTY,
    )


def decode_availability(payload: bytes) -> bool:
    """True for ``online``, ``true``, ``1``, ``ON``; False for ``offline``, ``false``,
    ``0``, ``OFF``; also Zigbee2MQTT's ``{"state": "online"}`` (or a bool there)."""
    return _binary(payload, _AVAILABILITY_WORDS, ("state",))


def decode_switch(payload: bytes) -> bool:
    """A siren, light or actuator state: ``ON``/``OFF`` (also ``true``/``false``,
    ``1``/``0``), plain or as JSON ``{"state": ...}`` or Tasmota ``{"POWER": ...}``."""
    return _binary(payload, SWITCH_WORDS, ("state", "POWER"))


def _binary(payload: bytes, words: Mapping[str, bool], keys: Collection[str]) -> bool:
    doc = document(payload)
    if isinstance(doc, dict):
        key = next((k for k in keys if doc.get(k) is not None), None)
        if key is None:
            raise PayloadError("missing_field", " or ".join(keys))
        value = doc[key]
        if isinstance(value, bool):
            return value
        doc = string(value, key)
    found = words.get(word(doc))
    if found is None:
        raise PayloadError("unknown_state", show(doc))
    return found
