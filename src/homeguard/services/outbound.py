"""What the controller publishes, on which topic, with which QoS and retain flag."""

from __future__ import annotations

import heapq
import json
from collections.abc import Mapping, Sequence
from typing import Any

from homeguard.adapters.mqtt import MAX_PAYLOAD
from homeguard.adapters.topics import SiteTopics
from homeguard.core.model import PanelState
from homeguard.core.panel import Panel, SensorStatus
from homeguard.core.persistent_map import changed_keys
from homeguard.core.signals import ActuatorKind, Publish, RecordEvent
from homeguard.services.ports import Sink

COMMAND_QOS = 2  # siren and light commands: exactly once (see docs/performance.md)
# A message the client would refuse as too large stops the controller: the status lists
# at most this many sensors in trouble (and counts them all); an event that would not
# fit keeps EVENT_ITEMS of each of its lists and EVENT_TEXT characters of each text.
TROUBLES_LISTED = 1000
EVENT_ITEMS = 100
EVENT_TEXT = 2000


class _Troubles:
    """The sensors in trouble, by id, followed from one panel's sensors to the next by
    the sensors that changed (core.persistent_map): a state restated for one sensor's
    trouble does not look at every sensor. Used from the controller thread."""

    def __init__(self) -> None:
        self._sensors: Mapping[str, SensorStatus] | None = None
        self._names: dict[str, str] = {}
        # What `listed` last gave, until a trouble comes, goes or changes: sorting
        # 100,000 sensors in trouble took 12 ms for every state said.
        self._listed: tuple[dict[str, str], int] | None = None

    def listed(self, sensors: Mapping[str, SensorStatus]) -> tuple[dict[str, str], int]:
        """The first :data:`TROUBLES_LISTED` by sensor id, and how many there are (not
        to be changed: the same may be given again)."""
        self._follow(sensors)
        if self._listed is None:
            first = heapq.nsmallest(TROUBLES_LISTED, self._names.items())
            self._listed = dict(first), len(self._names)
        return self._listed

    def _follow(self, sensors: Mapping[str, SensorStatus]) -> None:
        if sensors is self._sensors:
            return
        changed = None if self._sensors is None else changed_keys(self._sensors, sensors)
        if changed is None:
            changed = set(sensors)
            self._names, self._listed = {}, None
        for sensor_id in changed:
            status = sensors.get(sensor_id)
            name = None if status is None else status.trouble_name
            if name == self._names.get(sensor_id):
                continue
            self._listed = None
            if name is None:
                del self._names[sensor_id]
            else:
                self._names[sensor_id] = name
        self._sensors = sensors


class Outbound:
    """The controller's side of the topic contract."""

    def __init__(
        self,
        sink: Sink,
        topics: SiteTopics,
        actuator_topics: Mapping[ActuatorKind, Sequence[str]] | None = None,
    ) -> None:
        self._sink = sink
        self._topics = topics
        self._troubles = _Troubles()
        self._actuators = dict(actuator_topics or {})
        for kind in ActuatorKind:
            self._actuators.setdefault(kind, (topics.control(kind),))

    def actuator(self, kind: ActuatorKind, on: bool) -> None:
        for topic in self._actuators[kind]:
            # Alarms before bookkeeping: ahead of the events and retained states queued.
            self._sink.publish(topic, "ON" if on else "OFF", qos=COMMAND_QOS, urgent=True)

    def state(self, panel: Panel, now: float) -> None:
        self._sink.publish(self._topics.alarm_state, panel.state.value, qos=1, retain=True)
        triggered = panel.state is PanelState.TRIGGERED
        troubles, total = self._troubles.listed(panel.sensors)
        status = {
            "status": "BREACH" if triggered else "OK",
            "breaches": list(panel.triggered_by) if triggered else [],
            "state": panel.state.value,
            "system_troubles": sorted(part.value for part in panel.system_troubles),
            # Sensors in trouble (offline, supervision, no_report, low_battery), for
            # `homeguard status`; restated whenever a trouble comes or goes.
            "troubles": troubles,
            "troubles_total": total,
            "timestamp": now,
        }
        self._sink.publish(self._topics.status, json.dumps(status), qos=1, retain=True)

    def event(self, event: RecordEvent, now: float) -> None:
        body = {
            **event.data,
            "event": event.kind.value,
            "description": event.description,
            "timestamp": now,
        }
        payload = json.dumps(body)  # ASCII: its length is its size in bytes
        if len(payload) > MAX_PAYLOAD:  # e.g. every sensor of a large site open
            payload = json.dumps(_shortened(body))
        self._sink.publish(self._topics.alarm_event, payload, qos=1)

    def message(self, message: Publish) -> None:
        """A rule's message, on its own topic (never one of the panel's: see
        homeguard.config.rule_checks)."""
        self._sink.publish(message.topic, message.payload, qos=message.qos, retain=message.retain)

    def online(self) -> None:
        self._sink.publish(self._topics.controller_availability, "online", qos=1, retain=True)

    def sensor(
        self, sensor_id: str, status: SensorStatus, *, bypassed: bool, battery: int | None
    ) -> None:
        """What the panel knows of one sensor, retained on ``<base>/alarm/sensors/<id>``:
        bookkeeping, after every other message waiting (100,000 sensors restated after a
        start do not hold up the answer to a command), and only its latest state if
        several wait."""
        body = {
            "sensor": sensor_id,
            "state": None if status.state is None else status.state.value,
            "active": status.active,
            "trouble": None if status.trouble is None else status.trouble.value,
            "bypassed": bypassed,
            "battery": battery,
        }
        topic = self._topics.sensor_state(sensor_id)
        self._sink.publish(topic, json.dumps(body), retain=True, replaceable=True)

    def discovery(self, configs: Mapping[str, bytes]) -> None:
        """Home Assistant discovery configs (topic to JSON), retained."""
        for topic, payload in configs.items():
            self._sink.publish(topic, payload, qos=1, retain=True)

    def clear_retained(self, topic: str) -> None:
        """An empty retained message: the broker forgets the topic's retained one."""
        self._sink.publish(topic, b"", qos=1, retain=True)


def _shortened(body: Mapping[str, Any]) -> dict[str, Any]:
    """``body`` with each of its lists cut to :data:`EVENT_ITEMS` items and each of its
    texts (a description naming every open sensor) to :data:`EVENT_TEXT` characters,
    and ``"truncated": true``."""
    return {**{key: _cut(value) for key, value in body.items()}, "truncated": True}


def _cut(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return value[:EVENT_ITEMS]
    if isinstance(value, str) and len(value) > EVENT_TEXT:
        return value[: EVENT_TEXT - 3] + "..."
    return value
