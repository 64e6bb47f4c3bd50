"""What the event log keeps: sensor and system events, known devices, the panel snapshot.

Plain values with no behaviour and no I/O; :mod:`homeguard.adapters.store` writes and
reads them. Timestamps are Unix seconds. ``id`` is None until the store has assigned one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class SensorRecord:
    """A sensor reported a state.

    ``dedup_key`` identifies one delivery (a QoS 1 message can arrive twice); records with
    a key already stored are skipped. None means "never a duplicate".
    """

    ts: float
    sensor_type: str
    device_id: str
    state: str
    metadata: Mapping[str, Any] | None = None
    dedup_key: str | None = None
    id: int | None = None


@dataclass(frozen=True, slots=True)
class SystemRecord:
    """Something the system did or saw: arming, an alarm, a wrong code, a trouble."""

    ts: float
    event_type: str
    description: str
    data: Mapping[str, Any] | None = None
    id: int | None = None


EventRecord = SensorRecord | SystemRecord


@dataclass(frozen=True, slots=True)
class EventQuery:
    """Which events to read from the log, sensor and system events merged.

    ``since`` is inclusive, ``until`` exclusive. A sensor filter (``device``,
    ``sensor_type``, ``state``) selects sensor events only; a system filter
    (``event_type``: one type or several) selects system events only; ``sensor`` or
    ``system`` False leaves that kind out.
    """

    since: float | None = None
    until: float | None = None
    device: str | None = None
    sensor_type: str | None = None
    state: str | None = None
    event_type: str | tuple[str, ...] | None = None
    sensor: bool = True
    system: bool = True

    @property
    def wants_sensor(self) -> bool:
        return self.sensor and self.event_type is None

    @property
    def wants_system(self) -> bool:
        sensor_filter = (self.device, self.sensor_type, self.state)
        return self.system and all(value is None for value in sensor_filter)


@dataclass(frozen=True, slots=True)
class DeviceRecord:
    """What the controller knows about one device; stored by ``device_id``, last one wins."""

    device_id: str
    type: str
    capabilities: tuple[str, ...]
    online: bool | None  # None: never heard about its availability
    last_seen: float | None
    announced_at: float | None
    info: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class NotificationRecord:
    """A notification to deliver to one target of one route (the outbox's row), queued
    in the same commit as the event that caused it (core.notifications decides them).

    ``due``: not before (the end of quiet hours); ``urgent`` (alarm, duress): past quiet
    hours and rate limits; ``silent`` (duress): never listed where the panel is shown;
    ``snapshot``: attach a camera snapshot when sending."""

    ts: float
    route: str
    target: str
    kind: str
    title: str
    body: str
    due: float
    urgent: bool = False
    silent: bool = False
    snapshot: bool = False


@dataclass(frozen=True, slots=True)
class Delivery:
    """A stored notification and where its delivery stands: ``state`` is ``pending``
    (waiting or retrying), ``delivered``, ``failed`` (given up) or ``suppressed`` (told
    as "and N more" by another, under a rate limit). ``last_error`` holds no secret."""

    id: int
    record: NotificationRecord
    state: str
    attempts: int
    last_error: str | None
    finished: float | None  # when delivered, suppressed or given up


@dataclass(frozen=True, slots=True)
class Batch:
    """Everything to make durable in one transaction.

    ``snapshot`` is the serialised panel state; when not None it replaces the stored one.
    ``panel_sensors`` are the sensors' rows of it that changed (core.snapshot.sensor_rows),
    by sensor id: each replaces the stored one; None removes it.
    ``silent_alerts`` (duress) are kept apart from the system events that anyone
    watching the panel can read; ``notifications`` join the outbox with the events that
    caused them.
    """

    sensor_events: Sequence[SensorRecord] = ()
    system_events: Sequence[SystemRecord] = ()
    devices: Sequence[DeviceRecord] = ()
    snapshot: str | None = None
    silent_alerts: Sequence[SystemRecord] = ()
    notifications: Sequence[NotificationRecord] = ()
    panel_sensors: Mapping[str, str | None] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not (
            self.sensor_events
            or self.system_events
            or self.devices
            or self.silent_alerts
            or self.notifications
            or self.panel_sensors
        ) and (self.snapshot is None)


@dataclass(frozen=True, slots=True)
class WriteResult:
    """What a committed batch stored; ``duplicates`` were skipped sensor events."""

    sensor_stored: int
    duplicates: int
    system_stored: int
