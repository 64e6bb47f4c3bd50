"""What every codec shares: the payload made a word or a JSON object, the decoded
:class:`Reading`, and small checked accessors.

:func:`document` refuses payloads over :data:`MAX_PAYLOAD` bytes before decoding, drops
a UTF-8 BOM and surrounding whitespace, and reads a payload starting with ``{`` or ``[``
as JSON, which must be an object (a JSON string literal, ``"OPEN"``, counts as the plain
word). JSON must be standard (no ``NaN``/``Infinity``), nest at most 16 deep, and hold no
lone surrogates, so whatever lands in ``extra``/``info`` can be re-encoded. Words are
matched case-insensitively (:func:`word`); JSON keys are not, unless a family says so.

Foreign families never lose a state over bad metadata: a battery that is not a number
in 0..100 is dropped (rounded when fractional, :func:`soft_battery`). ``extra`` keeps
other top-level scalar fields (at most 16, strings up to 128 characters), e.g.
linkquality.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from homeguard.core.model import SensorState, SensorType
from homeguard.errors import PayloadError

MAX_PAYLOAD = 4096  # bytes; anything larger is refused before decoding
MAX_DEPTH = 16
MAX_EXTRA = 16
MAX_TEXT = 128
SEQ_LIMIT = 2**63  # fits a signed 64-bit column
TS_LIMIT = 1e11  # seconds; a millisecond epoch is far above it
EMPTY: Mapping[str, Any] = MappingProxyType({})

Document = str | dict[str, Any]


@dataclass(frozen=True, slots=True)
class Reading:
    """One sensor message: a state, or ``None`` when it only says the device is alive.

    Besides the state, a message may carry signals of their own: ``tamper`` (the case
    is open: true, closed again: false), ``battery_low`` (the device says so), and
    ``online`` (False: the device is unreachable, as Home Assistant's ``unavailable``).
    ``None`` means the message did not say.
    """

    state: SensorState | None = None
    seq: int | None = None
    ts: float | None = None
    battery: int | None = None  # percent, 0..100
    extra: Mapping[str, Any] = field(default_factory=lambda: EMPTY, hash=False)
    tamper: bool | None = None
    battery_low: bool | None = None
    online: bool | None = None


class RfSignal(StrEnum):
    """What a 433 MHz code of an RF bridge means for its sensor."""

    ACTIVE = "active"  # open, motion, on
    INACTIVE = "inactive"  # closed, no motion, off
    TAMPER = "tamper"


@dataclass(frozen=True, slots=True)
class Hints:
    """What a codec needs besides the payload: the topic it came on and what the config
    says of the device (a Shelly Gen2+ component, an RF bridge's codes)."""

    topic: str = ""
    component: str | None = None  # Shelly Gen2+: "input:0", "bthomesensor:200"
    rf_codes: Mapping[str, RfSignal] = field(default_factory=lambda: EMPTY, hash=False)


SensorDecoder = Callable[[SensorType, Document, Hints], Reading]

# "active" is OPEN for a door/window, MOTION for motion, ON for smoke/water/panic and
# TAMPER for a tamper sensor; "inactive" is CLOSED, NO_MOTION, OFF.
ACTIVE = {
    SensorType.DOOR: (SensorState.OPEN, SensorState.CLOSED),
    SensorType.WINDOW: (SensorState.OPEN, SensorState.CLOSED),
    SensorType.MOTION: (SensorState.MOTION, SensorState.NO_MOTION),
    SensorType.TAMPER: (SensorState.TAMPER, SensorState.OFF),
    SensorType.PANIC: (SensorState.ON, SensorState.OFF),
    SensorType.SMOKE: (SensorState.ON, SensorState.OFF),
    SensorType.WATER: (SensorState.ON, SensorState.OFF),
}
SWITCH_WORDS = {"ON": True, "OFF": False, "TRUE": True, "FALSE": False, "1": True, "0": False}


def document(payload: bytes) -> Document:
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
        doc = _JSON.decode(text)
    except (ValueError, RecursionError) as exc:
        raise PayloadError("bad_json", str(exc)[:100]) from None
    # Only an escape can make a lone surrogate, and only that many brackets that deep a
    # tree: a sensor's flat object needs no walk.
    if "\\u" in text or text.count("{") + text.count("[") > MAX_DEPTH:
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


_JSON = json.JSONDecoder(parse_float=_finite, parse_constant=_finite)


def _check_tree(value: Any, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise PayloadError("bad_json", f"nested deeper than {MAX_DEPTH}")
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


def json_object(doc: Document) -> dict[str, Any]:
    if isinstance(doc, str):
        raise PayloadError("bad_json", f"expected a JSON object, got {show(doc)}")
    return doc


def word(text: str) -> str:
    """Upper-cased and stripped; non-ASCII never matches (Unicode would map long s to S)."""
    return text.strip().upper() if text.isascii() else ""


def show(value: object) -> str:
    return repr(value)[:40]


def string(value: Any, key: str) -> str:
    if not isinstance(value, str):
        raise PayloadError("bad_field", f"{key} must be a string")
    return value


def on_off(kind: SensorType, text: str) -> SensorState:
    found = word(text)
    if found not in {"ON", "OFF"}:
        raise PayloadError("unknown_state", f"{show(text)} for a {kind} sensor, expected ON/OFF")
    return level(kind, found == "ON")


def level(kind: SensorType, active: bool) -> SensorState:
    return ACTIVE[kind][0 if active else 1]


def flag(obj: Mapping[str, Any], key: str) -> bool | None:
    value = obj.get(key)
    if value is None or isinstance(value, bool):
        return value
    raise PayloadError("bad_field", f"{key} must be true or false")


def integer(obj: Mapping[str, Any], key: str, limit: int) -> int | None:
    value = obj.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < limit:
        raise PayloadError("bad_field", f"{key} must be an integer in [0, {limit})")
    return value


def epoch(obj: Mapping[str, Any], key: str) -> float | None:
    value = obj.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < TS_LIMIT:
        raise PayloadError("bad_field", f"{key} must be epoch seconds")
    return float(value)


def soft_battery(value: Any) -> int | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value <= 100:
        return round(value)
    return None


def _small(value: Any) -> bool:
    if isinstance(value, str):
        return len(value) <= MAX_TEXT
    if isinstance(value, int) and not isinstance(value, bool):
        return abs(value) < SEQ_LIMIT
    return value is None or isinstance(value, bool | float)


def extra(obj: Mapping[str, Any], skip: Collection[str]) -> Mapping[str, Any]:
    kept: dict[str, Any] = {}
    for key, value in obj.items():
        if len(kept) < MAX_EXTRA and key not in skip and len(key) <= MAX_TEXT and _small(value):
            kept[key] = value
    return MappingProxyType(kept) if kept else EMPTY
