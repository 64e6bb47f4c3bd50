"""Records waiting for the event store: kept in order, bounded, and every loss counted.

The controller decides in real time whatever the store does; what it has to store waits
here until the store takes it (at once, normally; for as long as the disk is full or the
file read-only, otherwise). The bound is on sensor events, the only records that come at
the rate of the sensors: past :attr:`Backlog.limit` of them the oldest are dropped and
counted (:meth:`Backlog.take_dropped`), so that the loss can be reported once the store
works again. System events (alarms, arming, codes, troubles) and silent alerts are never
dropped: people and timers make them, a few a minute at most; nor are the
notifications queued with them. Devices, the panel snapshot and each of its sensors'
rows are kept in their latest version only, as the store keeps them (last one wins).

Each record set comes with what to do once it is committed (acknowledge its messages to
the broker) and whom to answer (a request's reply: after the commit, or as soon as a
write fails, since the decision stands either way).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from homeguard.core.records import (
    Batch,
    DeviceRecord,
    NotificationRecord,
    SensorRecord,
    SystemRecord,
)

Thunk = Callable[[], None]

DEFAULT_LIMIT = 10_000  # sensor events held while the store cannot write


@dataclass
class Pending:
    """Everything taken from a backlog for one write, in order."""

    sensor_events: list[SensorRecord] = field(default_factory=list)
    system_events: list[SystemRecord] = field(default_factory=list)
    devices: dict[str, DeviceRecord] = field(default_factory=dict)
    snapshot: str | None = None
    silent_alerts: list[SystemRecord] = field(default_factory=list)
    notifications: list[NotificationRecord] = field(default_factory=list)
    panel_sensors: dict[str, str | None] = field(default_factory=dict)
    after_commit: list[Thunk] = field(default_factory=list)  # acknowledgements
    answers: list[Thunk] = field(default_factory=list)  # replies to requests

    def batch(self) -> Batch:
        return Batch(
            sensor_events=self.sensor_events,
            system_events=self.system_events,
            devices=list(self.devices.values()),
            snapshot=self.snapshot,
            silent_alerts=self.silent_alerts,
            notifications=self.notifications,
            panel_sensors=self.panel_sensors,
        )


class Backlog:
    """What waits for the store; not thread-safe (its owner holds a lock)."""

    def __init__(self, limit: int = DEFAULT_LIMIT) -> None:
        if limit < 1:
            raise ValueError("the backlog limit must be at least 1")
        self.limit = limit
        self._sensor: deque[SensorRecord] = deque()
        self._system: list[SystemRecord] = []
        self._devices: dict[str, DeviceRecord] = {}
        self._snapshot: str | None = None
        self._silent: list[SystemRecord] = []
        self._notifications: list[NotificationRecord] = []
        self._panel_sensors: dict[str, str | None] = {}
        self._after_commit: list[Thunk] = []
        self._answers: list[Thunk] = []
        self._dropped = 0

    def __len__(self) -> int:
        """Sensor and system events waiting."""
        return len(self._sensor) + len(self._system)

    @property
    def empty(self) -> bool:
        return not (
            self._sensor
            or self._system
            or self._devices
            or self._silent
            or self._notifications
            or self._panel_sensors
            or self._after_commit
            or self._answers
        ) and (self._snapshot is None)

    @property
    def dropped(self) -> int:
        """Records dropped since :meth:`take_dropped` was last called."""
        return self._dropped

    def add(
        self,
        *,
        sensor_events: Iterable[SensorRecord] = (),
        system_events: Iterable[SystemRecord] = (),
        devices: Iterable[DeviceRecord] = (),
        snapshot: str | None = None,
        silent_alerts: Iterable[SystemRecord] = (),
        notifications: Iterable[NotificationRecord] = (),
        after_commit: Iterable[Thunk] = (),
        answers: Iterable[Thunk] = (),
        panel_sensors: Mapping[str, str | None] | None = None,
    ) -> None:
        """Queue records after those already waiting; drop the oldest sensor events
        beyond the limit."""
        self._sensor.extend(sensor_events)
        self._system.extend(system_events)
        self._devices.update((d.device_id, d) for d in devices)
        if snapshot is not None:
            self._snapshot = snapshot
        self._silent.extend(silent_alerts)
        self._notifications.extend(notifications)
        self._panel_sensors.update(panel_sensors or {})
        self._after_commit.extend(after_commit)
        self._answers.extend(answers)
        self._enforce_limit()

    def take(self) -> Pending | None:
        """Everything waiting, for one write; None when nothing waits."""
        if self.empty:
            return None
        pending = Pending(
            list(self._sensor),
            self._system,
            self._devices,
            self._snapshot,
            self._silent,
            self._notifications,
            self._panel_sensors,
            self._after_commit,
            self._answers,
        )
        self._sensor = deque()
        self._system, self._devices, self._snapshot, self._silent = [], {}, None, []
        self._notifications, self._panel_sensors = [], {}
        self._after_commit, self._answers = [], []
        return pending

    def give_back(self, pending: Pending) -> None:
        """A write failed: put ``pending`` back in front of what came meanwhile."""
        self._sensor.extendleft(reversed(pending.sensor_events))
        self._system[:0] = pending.system_events
        self._devices = {**pending.devices, **self._devices}
        if self._snapshot is None:
            self._snapshot = pending.snapshot
        self._silent[:0] = pending.silent_alerts
        self._notifications[:0] = pending.notifications
        self._panel_sensors = {**pending.panel_sensors, **self._panel_sensors}
        self._after_commit[:0] = pending.after_commit
        self._answers[:0] = pending.answers
        self._enforce_limit()

    def take_answers(self) -> list[Thunk]:
        """The replies waiting, to give them now (the store fails: no use waiting)."""
        answers, self._answers = self._answers, []
        return answers

    def count_dropped(self, records: int) -> None:
        """Count records given up elsewhere (ones the store refuses), to report them."""
        self._dropped += records

    def take_dropped(self) -> int:
        """How many sensor events were dropped since the last call; resets the count."""
        dropped, self._dropped = self._dropped, 0
        return dropped

    def _enforce_limit(self) -> None:
        excess = len(self._sensor) - self.limit
        for _ in range(max(0, excess)):
            self._sensor.popleft()
        self._dropped += max(0, excess)
