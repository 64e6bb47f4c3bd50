"""One turn of the controller: what it gathered for the store, and what waits for the
commit.

A turn gathers the records of every message and timer it handles, the messages to
acknowledge and the requests to answer; :meth:`Turn.hand_over` gives them all to the
:class:`~homeguard.services.store_writer.StoreWriter` in one submission, the
acknowledgements to run once the records are committed (never before: a crash must lose
nothing the broker delivered) and the answers then, or as soon as the store fails.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field
from functools import partial

from homeguard.adapters.mqtt import Message
from homeguard.core.panel import Outcome
from homeguard.core.records import DeviceRecord, NotificationRecord, SensorRecord, SystemRecord
from homeguard.core.signals import Input, RecordEvent, SilentAlert
from homeguard.services.store_writer import StoreWriter

__all__ = ["Request", "Turn"]


@dataclass(frozen=True)
class Request:
    """Something another thread (the web server) asks of the panel, and its answer."""

    event: Input
    reply: Future[Outcome] = field(default_factory=Future)


@dataclass
class Turn:
    """What one turn has gathered for the store, and the messages to acknowledge after."""

    sensor_events: list[SensorRecord] = field(default_factory=list)
    system_events: list[SystemRecord] = field(default_factory=list)
    devices: dict[str, DeviceRecord] = field(default_factory=dict)
    messages: list[Message] = field(default_factory=list)
    silent_alerts: list[SystemRecord] = field(default_factory=list)
    notifications: list[NotificationRecord] = field(default_factory=list)
    replies: list[tuple[Request, Outcome]] = field(default_factory=list)
    device_writes: int = 0

    @property
    def records(self) -> tuple[int, int, int, int, int]:
        """How much waits for the store (grows with every record the turn gathers)."""
        return (
            len(self.sensor_events),
            len(self.system_events),
            len(self.silent_alerts),
            self.device_writes,
            len(self.notifications),
        )

    @property
    def idle(self) -> bool:
        """Nothing to store, acknowledge or answer."""
        return not (any(self.records) or self.messages or self.replies)

    def record(self, event: RecordEvent | SilentAlert, now: float) -> None:
        """Keep a system event (a silent alert apart) for the store."""
        record = SystemRecord(now, event.kind.value, event.description, dict(event.data))
        if isinstance(event, SilentAlert):
            self.silent_alerts.append(record)
        else:
            self.system_events.append(record)

    def remember(self, device: DeviceRecord) -> None:
        self.devices[device.device_id] = device
        self.device_writes += 1

    def hand_over(
        self,
        writer: StoreWriter,
        ack: Callable[..., None],
        snapshot: str | None,
        panel_sensors: Mapping[str, str | None] | None = None,
    ) -> None:
        """Submit the turn to ``writer`` with the panel's snapshot (its sensors' rows that
        changed apart): ``ack`` its messages (all in one call) once they are committed,
        answer each request then (or at once while the store fails)."""
        writer.submit(
            sensor_events=self.sensor_events,
            system_events=self.system_events,
            devices=list(self.devices.values()),
            snapshot=snapshot,
            panel_sensors=panel_sensors,
            silent_alerts=self.silent_alerts,
            notifications=self.notifications,
            after_commit=[partial(ack, *self.messages)] if self.messages else [],
            answers=[partial(req.reply.set_result, outcome) for req, outcome in self.replies],
        )
