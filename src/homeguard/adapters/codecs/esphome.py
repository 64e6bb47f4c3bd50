"""Family ``esphome``: a binary_sensor's state topic, ``ON``/``OFF`` (ON = active)."""

from __future__ import annotations

from homeguard.core.model import SensorType
from homeguard.errors import PayloadError

from .payload import Document, Reading, on_off, show, word


def decode(kind: SensorType, doc: Document) -> Reading:
    if not isinstance(doc, str):
        raise PayloadError("unknown_state", "expected ON or OFF, got a JSON object")
    if word(doc) in {"UNAVAILABLE", "UNKNOWN"}:
        raise PayloadError("no_state", show(doc))
    return Reading(state=on_off(kind, doc))
