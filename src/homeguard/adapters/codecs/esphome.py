"""Family ``esphome``: a binary_sensor's state topic, ``ON``/``OFF`` (ON = active)."""

from __future__ import annotations

from homeguard.core.model import SensorType
from homeguard.errors import PayloadError

from .payload import Document, Hints, Reading, on_off, show, word


def decode(kind: SensorType, doc: Document, hints: Hints) -> Reading:
    del hints  # one topic per binary_sensor
    if not isinstance(doc, str):
        raise PayloadError("unknown_state", "expected ON or OFF, got a JSON object")
    if word(doc) in {"UNAVAILABLE", "UNKNOWN"}:
        raise PayloadError("no_state", show(doc))
    return Reading(state=on_off(kind, doc))
