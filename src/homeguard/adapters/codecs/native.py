"""Family ``homeguard``: the topic contract's own sensor payloads.

``OPEN``/``CLOSED`` (door, window), ``MOTION``/``NO_MOTION`` (motion), ``ON``/``OFF``
(smoke, water, panic, tamper), ``TAMPER`` (any type); a word of another type is
``unknown_state``. JSON ``{"state", "seq", "ts", "battery"}`` is checked strictly: seq an
int in [0, 2**63), ts epoch seconds in [0, 1e11) (so a millisecond epoch is refused),
battery an int 0..100. A missing or null state is a heartbeat when seq, ts or battery is
present, else ``missing_field``.
"""

from __future__ import annotations

from homeguard.core.model import SensorState, SensorType
from homeguard.errors import PayloadError

from .payload import (
    ACTIVE,
    SEQ_LIMIT,
    Document,
    Hints,
    Reading,
    epoch,
    extra,
    integer,
    show,
    string,
    word,
)


def decode(kind: SensorType, doc: Document, hints: Hints) -> Reading:
    del hints  # the contract's topics say nothing more
    if isinstance(doc, str):
        return Reading(state=_state(kind, doc))
    raw = doc.get("state")
    state = None if raw is None else _state(kind, string(raw, "state"))
    seq = integer(doc, "seq", SEQ_LIMIT)
    ts = epoch(doc, "ts")
    battery = integer(doc, "battery", 101)
    if state is None and seq is None and ts is None and battery is None:
        raise PayloadError("missing_field", "state (or seq, ts or battery for a heartbeat)")
    return Reading(state, seq, ts, battery, extra(doc, ("state", "seq", "ts", "battery")))


def _words(kind: SensorType) -> dict[str, SensorState]:
    active, inactive = ACTIVE[kind]
    words = {active.value: active, inactive.value: inactive, "TAMPER": SensorState.TAMPER}
    if inactive is SensorState.OFF:
        words["ON"] = active
    return words


_WORDS = {kind: _words(kind) for kind in SensorType}


def _state(kind: SensorType, text: str) -> SensorState:
    state = _WORDS[kind].get(word(text))
    if state is None:
        raise PayloadError("unknown_state", f"{show(text)} for a {kind} sensor")
    return state
