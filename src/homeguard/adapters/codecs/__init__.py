"""Payload codecs: the bytes of every MQTT message the controller receives, made typed.

Each decoder returns a value or raises :class:`~homeguard.errors.PayloadError` whose
``reason`` is a short tag (``empty``, ``too_large``, ``not_utf8``, ``bad_json``,
``unknown_state``, ``no_state``, ``missing_field``, ``bad_field``, ``unknown_action``,
``device_mismatch``, ``unknown_family``, ``unknown_type``, ``unmatched``: an RF code
of another sensor on a shared bridge topic); no other exception leaves
this package, whatever the bytes.

One module per job: :mod:`.payload` (bytes to a word or a JSON object, shared checks),
:mod:`.contract` (commands, announcements, availability, actuator states), one module
per device family (:mod:`.native`, :mod:`.zigbee2mqtt`, :mod:`.tasmota`, :mod:`.shelly`,
:mod:`.esphome`, :mod:`.homeassistant`, each documenting the payloads it reads), and
:mod:`.registry` (:class:`Family` and :func:`decode_sensor`).
"""

from .contract import (
    Announcement,
    decode_announce,
    decode_availability,
    decode_command,
    decode_switch,
)
from .payload import MAX_PAYLOAD, Hints, Reading, RfSignal
from .registry import Family, decode_sensor

__all__ = [
    "MAX_PAYLOAD",
    "Announcement",
    "Family",
    "Hints",
    "Reading",
    "RfSignal",
    "decode_announce",
    "decode_availability",
    "decode_command",
    "decode_sensor",
    "decode_switch",
]
