"""The state document as JSON, rendered again after a change at the cost of the change.

At 100,000 sensors the document is 18 MB of JSON, and building it whole (a pydantic
model per sensor, and what blocks arming in each mode from every sensor) takes seconds.
A :class:`StateRenderer` keeps each sensor's row, and its entry in what blocks each mode,
as JSON, and renders again only those of the sensors whose parts changed since the last
render: their status, device record, bypass or stored battery level, found from what
the panel's maps do not share (core.persistent_map), not by a walk over every sensor.
The rest of the document is small and rendered whole each time.

The JSON is the one ``json.dumps(state_document(...).model_dump(mode="json"))`` gives
(tests/web/test_rendering.py checks it against that), though not always the same text:
the rows are pydantic's JSON, which leaves non-ASCII characters as they are and may
write a float's exponent differently.
"""

from __future__ import annotations

import bisect
import json
from collections.abc import Collection, Iterable, Mapping, Sequence

from homeguard.core.health import DeviceHealth, assess
from homeguard.core.model import ArmMode, PanelSettings
from homeguard.core.panel import SensorStatus, block_reason
from homeguard.core.persistent_map import differing_keys
from homeguard.core.records import DeviceRecord
from homeguard.core.signals import ActuatorKind

from .backend import PanelView
from .documents import sensor_document, state_document
from .schemas import SystemFigures

SEPARATORS = (",", ":")


def every_health(sensor_ids: Iterable[str], reported: Iterable[DeviceHealth]) -> str:
    """The health of each of ``sensor_ids`` as a JSON list, in their order:
    ``reported``'s own for those that reported, "never reported" for the others, as
    ``json.dumps([h.as_dict() ...])`` gives it. The others share one rendering but their
    id: a site of 100,000 sensors of which few have reported took 230 ms to build and
    encode a health each (docs/performance.md)."""
    known = {health.device_id: health for health in reported}
    never = json.dumps(assess("", (), 0.0).as_dict(), separators=SEPARATORS)
    head, tail = never.split('""', 1)  # around the empty device id, which comes first
    encode = json.encoder.encode_basestring_ascii  # json.dumps's own, for a str
    rows = [
        head + encode(device_id) + tail
        if (health := known.get(device_id)) is None
        else json.dumps(health.as_dict(), separators=SEPARATORS, allow_nan=False)
        for device_id in sensor_ids
    ]
    return f"[{','.join(rows)}]"


# What a sensor's row is made of, for the whole panel: its sensors, devices, bypassed
# sensors and the stored battery levels.
_Parts = tuple[
    Mapping[str, SensorStatus], Mapping[str, DeviceRecord], frozenset[str], Mapping[str, float]
]


class StateRenderer:
    """The state document of a view, rendered from the last one; for one settings.
    Not thread-safe: the caller renders one at a time."""

    def __init__(self, settings: PanelSettings) -> None:
        self._settings = settings
        self._rank = {spec.id: rank for rank, spec in enumerate(settings.sensors)}
        self._rows = [""] * len(settings.sensors)  # each sensor's row, in config order
        self._blocking = {mode: _Blockers() for mode in ArmMode}
        self._parts: _Parts | None = None  # what the rows were rendered from

    def render(
        self,
        view: PanelView,
        actuators: Sequence[tuple[str, ActuatorKind]],
        battery: Mapping[str, float],
        system: SystemFigures,
    ) -> str:
        settings, panel = self._settings, view.panel
        for sensor_id in self._changed((panel.sensors, view.devices, panel.bypassed, battery)):
            rank = self._rank.get(sensor_id)
            if rank is None:  # not configured (any more)
                continue
            spec, status = settings.sensors[rank], panel.sensor(sensor_id)
            row = sensor_document(
                spec, status, view.devices.get(sensor_id), sensor_id in panel.bypassed, battery
            )
            self._rows[rank] = row.model_dump_json()  # compact; half json.dumps' time
            for mode, blockers in self._blocking.items():
                reason = block_reason(panel, spec, mode)
                blockers.put(
                    rank, None if reason is None else _entry(sensor_id, json.dumps(reason))
                )
        document = state_document(
            view, settings, actuators, battery, system, sensors=[], blocking={}
        )
        shown = document.model_dump(mode="json")
        texts = {name: json.dumps(value, separators=SEPARATORS) for name, value in shown.items()}
        texts["blocking"] = _object(
            _entry(mode.value, blockers.text()) for mode, blockers in self._blocking.items()
        )
        fields = [_entry(name, text) for name, text in texts.items()]
        at = list(texts).index("sensors")  # the rows go in there: copied once, at the end
        head = "{" + "".join(f"{field}," for field in fields[:at]) + '"sensors":['
        tail = "]" + "".join(f",{field}" for field in fields[at + 1 :]) + "}"
        return _joined(head, self._rows, tail)

    def sensors(self) -> str:
        """The rows of the last render, as the JSON list of the document's ``sensors``."""
        return _joined("[", self._rows, "]")

    def _changed(self, parts: _Parts) -> Collection[str]:
        """The sensors whose rows may differ from those rendered (all at the first)."""
        before, self._parts = self._parts, parts
        if before is None:
            return self._rank
        sensors, devices, bypassed, battery = before
        return (
            differing_keys(sensors, parts[0])
            | differing_keys(devices, parts[1])
            | (bypassed ^ parts[2])
            | differing_keys(battery, parts[3])
        )


class _Blockers:
    """The sensors that block one mode, as JSON entries in config order."""

    def __init__(self) -> None:
        self._ranks: list[int] = []  # sorted
        self._entries: dict[int, str] = {}
        self._text: str | None = "{}"  # None: to join again

    def put(self, rank: int, entry: str | None) -> None:
        """The sensor's entry (None: it does not block)."""
        before = self._entries.get(rank)
        if entry == before:
            return
        if entry is None:
            del self._entries[rank]
            del self._ranks[bisect.bisect_left(self._ranks, rank)]
        else:
            if before is None:
                bisect.insort(self._ranks, rank)
            self._entries[rank] = entry
        self._text = None

    def text(self) -> str:
        if self._text is None:
            self._text = _object(self._entries[rank] for rank in self._ranks)
        return self._text


def _entry(key: str, text: str) -> str:
    """A JSON object's entry: ``key``, quoted, and ``text``, a value already JSON."""
    return f"{json.dumps(key)}:{text}"


def _object(entries: Iterable[str]) -> str:
    return "{" + ",".join(entries) + "}"


def _joined(head: str, rows: list[str], tail: str) -> str:
    """``head + ",".join(rows) + tail``, copying the rows once (18 MB at 100,000)."""
    if len(rows) < 2:
        return head + ",".join(rows) + tail
    return ",".join([head + rows[0], *rows[1:-1], rows[-1] + tail])
