"""Family ``homeassistant``: a binary_sensor's state as Home Assistant's statestream
publishes it (https://www.home-assistant.io/integrations/mqtt_statestream/: the entity's
state on ``homeassistant/binary_sensor/<object_id>/state``), ``on``/``off`` (on = active).

HA's own words for a device it cannot reach are availability, not states:
``unavailable`` is the device offline (:attr:`Reading.online` False); ``unknown`` (HA has
no state yet, e.g. just after it started) says nothing of the device: a message with no
state, as a heartbeat.
"""

from __future__ import annotations

from homeguard.core.model import SensorType
from homeguard.errors import PayloadError

from .payload import Document, Hints, Reading, on_off, word


def decode(kind: SensorType, doc: Document, hints: Hints) -> Reading:
    del hints  # one topic per entity
    if not isinstance(doc, str):
        raise PayloadError("unknown_state", "expected on or off, got a JSON object")
    said = word(doc)
    if said == "UNAVAILABLE":
        return Reading(online=False)
    if said == "UNKNOWN":
        return Reading()
    return Reading(state=on_off(kind, doc))
