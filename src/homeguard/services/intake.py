"""The intake: what one MQTT message yields, decided without I/O.

:func:`intake` is the controller's whole reading of a message, as one pure function of
the message, the site's :class:`Setup`, the panel, the known devices and ``now``:

1. route the topic (:meth:`~homeguard.adapters.topics.TopicMap.route`);
2. open a signing sensor's payload, checking signature, seq and time
   (:meth:`~homeguard.services.message_security.MessageSecurity.open_sensor`, against
   the last seq the panel accepted);
3. decode the payload (:mod:`homeguard.adapters.codecs`);
4. build what the controller carries out, as a :class:`Taken`: the engine inputs, the
   sensor records (with their dedup key) and device records to store, the security
   refusals, and the few messages that are not the panel's business (clear a retained
   command or a stale Home Assistant config, say the discovery configs again).

Nothing here publishes, stores, logs or changes the panel: the engine alone changes the
panel (a message's seq reaches it in the :class:`~homeguard.core.signals.SensorReport`),
and the controller stores, publishes and acknowledges what the intake yields. A message
that cannot be read yields a ``rejection`` (a :class:`~homeguard.errors.PayloadError`
with its reason), with whatever it yielded before the rejection: on a topic shared by
several sensors, the sensors that did read it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

from homeguard.adapters.codecs import (
    Reading,
    decode_announce,
    decode_availability,
    decode_command,
    decode_sensor,
    decode_switch,
)
from homeguard.adapters.mqtt import Message
from homeguard.adapters.topics import (
    ActuatorStateRoute,
    AnnounceRoute,
    AvailabilityRoute,
    CommandRoute,
    DiscoveryConfigRoute,
    HomeAssistantStatusRoute,
    IgnoredRoute,
    Route,
    SensorRoute,
    SharedRoute,
    TopicMap,
)
from homeguard.core.model import PanelSettings
from homeguard.core.panel import Panel
from homeguard.core.records import DeviceRecord, SensorRecord
from homeguard.core.signals import (
    Availability,
    EventKind,
    Input,
    RecordEvent,
    SensorReport,
)
from homeguard.errors import PayloadError, SecurityRejected
from homeguard.services.message_security import MessageSecurity

__all__ = ["Refusal", "Setup", "Taken", "intake"]

RETAINED_COMMAND = "retained_command"  # the rejection of a command kept by the broker


@dataclass(frozen=True)
class Setup:
    """What messages are read against; fixed for the life of a controller."""

    topics: TopicMap
    settings: PanelSettings
    security: MessageSecurity = field(default_factory=MessageSecurity)
    # Our Home Assistant discovery configs (topic to payload): heard back, not news.
    discovery: Mapping[str, bytes] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True, slots=True)
class Refusal:
    """A signing sensor's message that failed its checks: a security event that names
    the reason, never the payload."""

    sensor_id: str
    reason: str
    detail: str

    @property
    def event(self) -> RecordEvent:
        return RecordEvent(
            EventKind.SECURITY,
            f"message from {self.sensor_id} refused: {self.reason}",
            {"sensor": self.sensor_id, "reason": self.reason, "detail": self.detail},
        )


@dataclass(frozen=True)
class Taken:
    """What one message yields for the controller to carry out."""

    inputs: tuple[Input, ...] = ()  # for the engine, in order
    sensor_events: tuple[SensorRecord, ...] = ()  # to store
    devices: tuple[DeviceRecord, ...] = ()  # what is now known of a device, to store
    events: tuple[RecordEvent, ...] = ()  # system events to store and publish
    refusals: tuple[Refusal, ...] = ()  # security events (at once, or summarised)
    actuators: tuple[tuple[str, bool], ...] = ()  # an actuator's reported state
    clear_retained: tuple[str, ...] = ()  # topics whose retained message must go
    restate_discovery: bool = False  # Home Assistant restarted: configs again
    rejection: PayloadError | None = None  # why (the rest of) it was not read
    echo: bool = False  # our own discovery config heard back: not a message to count


def intake(
    message: Message,
    setup: Setup,
    panel: Panel,
    devices: Mapping[str, DeviceRecord],
    now: float,
    *,
    surplus: bool = False,
) -> Taken:
    """What ``message`` yields; see the module docstring. ``surplus`` (a message over
    its device's budget) reaches the engine all the same, but its sensor record is left
    to the flood summary. Never raises for what a message holds."""
    if setup.discovery.get(message.topic) == message.payload:
        return Taken(echo=True)
    reader = _Reader(message, setup, panel, devices, now, surplus)
    try:
        reader.route(setup.topics.route(message.topic))
    except PayloadError as exc:  # SecurityRejected included
        return reader.taken(exc)
    return reader.taken(None)


@dataclass
class _Reader:
    """One call of :func:`intake`: the message, what it is read against, and what it
    has yielded so far."""

    message: Message
    setup: Setup
    panel: Panel
    known: Mapping[str, DeviceRecord]
    now: float
    surplus: bool
    inputs: list[Input] = field(default_factory=list)
    sensor_events: list[SensorRecord] = field(default_factory=list)
    devices: dict[str, DeviceRecord] = field(default_factory=dict)  # as it leaves them
    device_writes: list[DeviceRecord] = field(default_factory=list)
    events: list[RecordEvent] = field(default_factory=list)
    refusals: list[Refusal] = field(default_factory=list)
    actuators: list[tuple[str, bool]] = field(default_factory=list)
    clear: list[str] = field(default_factory=list)
    restate_discovery: bool = False

    def taken(self, rejection: PayloadError | None) -> Taken:
        return Taken(
            inputs=tuple(self.inputs),
            sensor_events=tuple(self.sensor_events),
            devices=tuple(self.device_writes),
            events=tuple(self.events),
            refusals=tuple(self.refusals),
            actuators=tuple(self.actuators),
            clear_retained=tuple(self.clear),
            restate_discovery=self.restate_discovery,
            rejection=rejection,
        )

    def route(self, route: Route) -> None:
        payload = self.message.payload
        match route:
            case SensorRoute():
                self.sensor(route)
            case SharedRoute(routes=routes):
                self.shared(routes)
            case CommandRoute():
                self.command()
            case AnnounceRoute(device_id=device_id):
                self.announce(device_id)
            case AvailabilityRoute(device_id=device_id):
                self.availability(device_id, decode_availability(payload))
            case ActuatorStateRoute(actuator_id=actuator_id):
                self.actuators.append((actuator_id, decode_switch(payload)))
            case HomeAssistantStatusRoute():
                # Home Assistant (re)started: it forgets entities not announced again.
                self.restate_discovery = payload.strip().lower() == b"online"
            case DiscoveryConfigRoute(topic=topic):  # under our node id: cleared if stale
                if payload and topic not in self.setup.discovery:
                    self.clear.append(topic)
            case IgnoredRoute():
                pass

    def shared(self, routes: tuple[SensorRoute | AvailabilityRoute, ...]) -> None:
        """A topic one device speaks on for several sensors: each sensor's codec reads
        the message; it is rejected only when it is none of theirs (an unknown RF code)."""
        unmatched: PayloadError | None = None
        heard = False
        for route in routes:
            if isinstance(route, AvailabilityRoute):
                self.availability(route.device_id, decode_availability(self.message.payload))
                heard = True
                continue
            try:
                self.sensor(route)
                heard = True
            except PayloadError as exc:
                if exc.reason != "unmatched":
                    raise
                unmatched = exc
        if not heard and unmatched is not None:
            raise unmatched

    def sensor(self, route: SensorRoute) -> None:
        sensor_id = route.sensor_id
        security = self.setup.security
        last = self.panel.message_seqs.get(sensor_id)
        try:
            # A signed payload opens to its verified fields, seq included.
            payload, seq = security.open_sensor(sensor_id, self.message.payload, last, self.now)
        except SecurityRejected as exc:
            self.refusals.append(Refusal(sensor_id, exc.reason, exc.detail))
            raise
        reading = decode_sensor(route.family, route.sensor_type, payload, route.hints)
        if reading.online is not None and reading.state is None:
            # Availability said on the state topic (Home Assistant's "unavailable").
            self.availability(sensor_id, reading.online)
            return
        # Surplus goes to the panel all the same; only its row is left to the flood event.
        if reading.state is not None and not self.surplus:
            self.sensor_events.append(self.record(sensor_id, route.sensor_type.value, reading))
        # The engine remembers the last seq (the snapshot keeps it) and reports gaps.
        self.inputs.append(
            SensorReport(
                sensor_id,
                reading.state,
                seq=reading.seq if seq is None else seq,
                tamper=reading.tamper,
                battery=reading.battery,
                battery_low=reading.battery_low,
            )
        )

    def record(self, sensor_id: str, sensor_type: str, reading: Reading) -> SensorRecord:
        assert reading.state is not None
        metadata: dict[str, Any] = {"topic": self.message.topic, **reading.extra}
        for name in ("seq", "ts", "battery"):
            if (value := getattr(reading, name)) is not None:
                metadata[name] = value
        # A payload that carries seq or ts names one event: the same bytes again are a
        # redelivery. Plain words cannot be told apart and are stored each time.
        dedup_key = None
        if reading.seq is not None or reading.ts is not None:
            digest = hashlib.sha256(self.message.payload).hexdigest()[:24]
            dedup_key = f"{sensor_id}:{digest}"
        return SensorRecord(
            self.now, sensor_type, sensor_id, reading.state.value, metadata, dedup_key
        )

    def command(self) -> None:
        """A command kept by the broker would be carried out again at every new
        subscription (a restart, a session taken over): never act on one. Clear it (an
        empty retained message) and say so; the payload, which may hold a code, is not
        quoted."""
        topic = self.message.topic
        if not self.message.retain:
            self.inputs.append(self.setup.security.command(decode_command(self.message.payload)))
            return
        self.clear.append(topic)
        self.events.append(
            RecordEvent(
                EventKind.COMMAND_REJECTED,
                f"retained command on {topic} refused and cleared",
                {"reason": RETAINED_COMMAND, "topic": topic},
            )
        )
        raise PayloadError(RETAINED_COMMAND, "a command the broker kept: refused and cleared")

    def announce(self, device_id: str) -> None:
        announcement = decode_announce(device_id, self.message.payload)
        known = self.device(device_id)
        self.remember(
            DeviceRecord(
                device_id=device_id,
                type=announcement.type,
                capabilities=announcement.capabilities,
                online=known.online if known else None,
                last_seen=known.last_seen if known else None,
                announced_at=announcement.timestamp or self.now,
                info=dict(announcement.info) or None,
            )
        )

    def availability(self, device_id: str, online: bool) -> None:
        if device_id in self.setup.security.revoked:  # it cannot clear its trouble
            raise SecurityRejected("revoked", "the device's login was revoked")
        base = self.device(device_id) or DeviceRecord(device_id, "unknown", (), None, None, None)
        last_seen = self.now if online else base.last_seen
        self.remember(replace(base, online=online, last_seen=last_seen))
        if self.setup.settings.sensor(device_id) is not None:
            self.inputs.append(Availability(device_id, online))

    def device(self, device_id: str) -> DeviceRecord | None:
        return self.devices.get(device_id) or self.known.get(device_id)

    def remember(self, device: DeviceRecord) -> None:
        self.devices[device.device_id] = device
        self.device_writes.append(device)
