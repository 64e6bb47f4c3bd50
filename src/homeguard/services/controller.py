"""The controller: MQTT messages in, the panel engine, its effects out, every event stored.

One thread runs :meth:`Controller.run`. Each turn it takes what has arrived (up to
:data:`MAX_BATCH` messages), runs each through the panel, publishes the effects, writes
all the turn's events in one transaction and only then acknowledges the messages to the
broker: a crash at any point loses nothing the broker delivered, because whatever was
not acknowledged is delivered again and duplicates are recognised by the store.
"""

from __future__ import annotations

import hashlib
import logging
import queue
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

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
    SensorRoute,
    TopicMap,
)
from homeguard.core import snapshot
from homeguard.core.model import PanelSettings, PanelState
from homeguard.core.panel import Outcome, Panel, handle, new_panel, resume
from homeguard.core.records import Batch, DeviceRecord, SensorRecord, SystemRecord
from homeguard.core.signals import (
    ActuatorKind,
    Availability,
    EventKind,
    Input,
    Notify,
    PublishState,
    RecordEvent,
    SensorReport,
    SetActuator,
    Tick,
    WakeAt,
)
from homeguard.errors import PayloadError, SecurityRejected, StoreError
from homeguard.services.message_security import MessageSecurity
from homeguard.services.outbound import Outbound

log = logging.getLogger("homeguard.controller")

MAX_BATCH = 500  # messages per transaction
IDLE_WAKE = 0.5  # seconds between turns when nothing happens
STORE_RETRY = 1.0
PRUNE_EVERY = 3600.0  # seconds between retention clean-ups


class Publisher(Protocol):
    """The part of the MQTT client the controller uses."""

    @property
    def connection_count(self) -> int: ...
    def publish(
        self, topic: str, payload: bytes | str, qos: int = 1, retain: bool = False
    ) -> None: ...
    def ack(self, message: Message) -> None: ...


class EventLog(Protocol):
    """The part of the event store the controller uses."""

    def write(self, batch: Batch) -> object: ...
    def load_snapshot(self) -> str | None: ...
    def devices(self) -> list[DeviceRecord]: ...
    def prune(self, before: float) -> int: ...


@dataclass(frozen=True)
class Request:
    """Something another thread (the web server) asks of the panel, and its answer."""

    event: Input
    reply: Future[Outcome] = field(default_factory=Future)


Inbox = queue.Queue[Message | Request]


@dataclass(frozen=True)
class View:
    """What the panel looks like after a turn, for those watching (the dashboard)."""

    panel: Panel
    devices: Mapping[str, DeviceRecord]
    stats: Stats
    at: float


@dataclass
class Stats:
    """What the controller has seen since it started, for status and the dashboard."""

    started_at: float = 0.0
    messages: int = 0
    sensor_events: int = 0
    system_events: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    actuators: dict[str, bool] = field(default_factory=dict)


@dataclass
class _Turn:
    """What one turn has gathered for the store, and the messages to acknowledge after."""

    sensor_events: list[SensorRecord] = field(default_factory=list)
    system_events: list[SystemRecord] = field(default_factory=list)
    devices: dict[str, DeviceRecord] = field(default_factory=dict)
    messages: list[Message] = field(default_factory=list)


class Controller:
    """Runs the panel for one site; see the module docstring."""

    def __init__(
        self,
        *,
        settings: PanelSettings,
        topics: TopicMap,
        outbound: Outbound,
        client: Publisher,
        inbox: Inbox,
        store: EventLog,
        clock: Callable[[], float],
        notify: Callable[[Notify], None] | None = None,
        retention: float | None = None,
        security: MessageSecurity | None = None,
        discovery: Mapping[str, str] | None = None,
    ) -> None:
        self._settings = settings
        self._topics = topics
        self._out = outbound
        self._client = client
        self._inbox = inbox
        self._replies: list[tuple[Request, Outcome]] = []
        self._listeners: list[Callable[[View], None]] = []
        self._changed = True  # since the watchers were last told
        self._store = store
        self._clock = clock
        self._notify = notify or _log_notification
        self._retention = retention
        self._security = security or MessageSecurity()
        self._next_prune = 0.0
        self._panel: Panel = new_panel(clock())
        self._wake: float | None = None
        self._turn = _Turn()
        self._dirty = False
        self._connections = 0
        self._devices: dict[str, DeviceRecord] = {}
        # Home Assistant discovery configs (topic to payload), and what was last said
        # of each sensor on <base>/alarm/sensors/<id> (said again only when it changes).
        self._discovery = {t: p.encode() for t, p in (discovery or {}).items()}
        self._battery: dict[str, int] = {}
        self._sensors_said: dict[str, tuple[object, ...]] = {}
        self.stats = Stats(started_at=clock())

    @property
    def panel(self) -> Panel:
        return self._panel

    @property
    def devices(self) -> dict[str, DeviceRecord]:
        return dict(self._devices)

    @property
    def outbound(self) -> Outbound:
        """What the controller publishes through; thread-safe (manual siren and light)."""
        return self._out

    @property
    def client(self) -> Publisher:
        return self._client

    def request(self, event: Input, timeout: float = 10.0) -> Outcome:
        """From any thread: have the controller thread handle ``event``; its outcome once
        stored. Raises TimeoutError when the controller does not answer in time."""
        request = Request(event)
        self._inbox.put(request)
        return request.reply.result(timeout)

    def watch(self, listener: Callable[[View], None]) -> None:
        """Call ``listener`` (on the controller thread; keep it quick) after every turn
        that changed something, and once now-ish with the current view."""
        self._listeners.append(listener)
        self._changed = True

    def view(self) -> View:
        stats = replace(
            self.stats, rejected=Counter(self.stats.rejected), actuators=dict(self.stats.actuators)
        )
        return View(self._panel, dict(self._devices), stats, self._clock())

    # -------------------------------------------------------------------- the loop

    def start(self) -> None:
        """Resume the stored panel (or start disarmed) and restate it on the broker."""
        now = self._clock()
        self._devices = {d.device_id: d for d in self._store.devices()}
        saved = self._store.load_snapshot()
        panel = new_panel(now)
        if saved is not None:
            try:
                panel = snapshot.load(saved, self._settings)
            except PayloadError as exc:
                log.error("stored panel state unreadable (%s); starting disarmed", exc)
        self._panel = panel
        self._apply(resume(panel, self._settings, now), now)
        self._dirty = True
        self._flush()

    def run(self, stop: threading.Event) -> None:
        """Turn until ``stop`` is set; the current turn is always finished and stored."""
        self.start()
        while not stop.is_set():
            self.turn()
        self._flush()

    def turn(self) -> None:
        """Wait for messages or the next timer, handle them, store, then acknowledge."""
        now = self._clock()
        timeout = IDLE_WAKE if self._wake is None else min(IDLE_WAKE, self._wake - now)
        try:
            first = self._inbox.get(timeout=max(0.0, timeout))
        except queue.Empty:
            first = None
        if first is not None:
            self._take(first)
            for _ in range(MAX_BATCH - 1):
                try:
                    self._take(self._inbox.get_nowait())
                except queue.Empty:
                    break
        now = self._clock()
        if self._wake is not None and now >= self._wake:
            self._feed(Tick(), now)
        if self._retention is not None and now >= self._next_prune:
            self._prune(now)
        connections = self._client.connection_count
        if connections != self._connections:
            # A new connection (a broker restart may have lost what was retained).
            self._connections = connections
            self._announce(now)
        self._flush()
        self._tell_watchers()

    def _prune(self, now: float) -> None:
        assert self._retention is not None
        self._next_prune = now + PRUNE_EVERY
        try:
            removed = self._store.prune(now - self._retention)
        except StoreError as exc:
            log.error("could not remove old events: %s", exc)
            return
        if removed:
            log.info("removed %d events older than the retention period", removed)

    def _flush(self) -> None:
        """Commit the turn's events, then acknowledge its messages. Retries until stored."""
        turn = self._turn
        idle = not (turn.sensor_events or turn.system_events or turn.devices or turn.messages)
        # A request refused without an event (an unknown sensor) still needs its answer.
        if idle and not self._dirty and not self._replies:
            return
        batch = Batch(
            sensor_events=turn.sensor_events,
            system_events=turn.system_events,
            devices=list(turn.devices.values()),
            snapshot=snapshot.dump(self._panel) if self._dirty else None,
        )
        while True:
            try:
                self._store.write(batch)
                break
            except StoreError as exc:
                # Nothing is acknowledged until stored: the broker keeps the messages.
                log.error("event store write failed, retrying: %s", exc)
                time.sleep(STORE_RETRY)
        for message in turn.messages:
            self._client.ack(message)
        for request, outcome in self._replies:
            request.reply.set_result(outcome)
        self._replies.clear()
        self.stats.sensor_events += len(turn.sensor_events)
        self.stats.system_events += len(turn.system_events)
        self._turn = _Turn()
        self._dirty = False
        self._changed = True

    def _tell_watchers(self) -> None:
        if not (self._changed and self._listeners):
            return
        self._changed = False
        view = self.view()
        for listener in self._listeners:
            try:
                listener(view)
            except Exception:  # a watcher's bug must not stop the panel
                log.exception("panel watcher failed")

    # ------------------------------------------------------------------- messages

    def _take(self, item: Message | Request) -> None:
        if isinstance(item, Request):
            self._replies.append((item, self._command(item.event, self._clock())))
        else:
            self._message(item)

    def _message(self, message: Message) -> None:
        self._turn.messages.append(message)
        if self._discovery.get(message.topic) == message.payload:
            return  # our own discovery config, heard back: not news
        self.stats.messages += 1
        now = self._clock()
        try:
            self._route(message, now)
        except PayloadError as exc:
            self.stats.rejected[exc.reason] += 1
            log.warning(
                "rejected message on %s (%d bytes): %s", message.topic, len(message.payload), exc
            )

    def _route(self, message: Message, now: float) -> None:
        route = self._topics.route(message.topic)
        match route:
            case SensorRoute(sensor_id=sensor_id, family=family, sensor_type=sensor_type):
                payload, seq = self._open_signed(sensor_id, message, now)
                reading = decode_sensor(family, sensor_type, payload)
                if seq is not None:
                    seqs = {**self._panel.message_seqs, sensor_id: seq}
                    self._panel = replace(self._panel, message_seqs=seqs)
                    self._dirty = True
                self._sensor(sensor_id, sensor_type.value, reading, message, now)
            case CommandRoute():
                self._command(self._security.command(decode_command(message.payload)), now)
            case AnnounceRoute(device_id=device_id):
                announcement = decode_announce(device_id, message.payload)
                known = self._devices.get(device_id)
                self._remember(
                    DeviceRecord(
                        device_id=device_id,
                        type=announcement.type,
                        capabilities=announcement.capabilities,
                        online=known.online if known else None,
                        last_seen=known.last_seen if known else None,
                        announced_at=announcement.timestamp or now,
                        info=dict(announcement.info) or None,
                    )
                )
            case AvailabilityRoute(device_id=device_id):
                online = decode_availability(message.payload)
                known = self._devices.get(device_id)
                base = known or DeviceRecord(device_id, "unknown", (), None, None, None)
                self._remember(
                    replace(base, online=online, last_seen=now if online else base.last_seen)
                )
                if self._settings.sensor(device_id) is not None:
                    self._feed(Availability(device_id, online), now)
            case ActuatorStateRoute(actuator_id=actuator_id):
                self.stats.actuators[actuator_id] = decode_switch(message.payload)
            case HomeAssistantStatusRoute():
                # Home Assistant (re)started: it forgets entities not announced again.
                if message.payload.strip().lower() == b"online":
                    self._out.discovery(self._discovery)
            case DiscoveryConfigRoute(topic=topic):  # under our node id: cleared if stale
                if message.payload and topic not in self._discovery:
                    log.info("removing the Home Assistant entity of %s", topic)
                    self._out.clear_retained(topic)
            case IgnoredRoute():
                pass

    def _open_signed(
        self, sensor_id: str, message: Message, now: float
    ) -> tuple[bytes, int | None]:
        """The payload to decode; a signing sensor's message that fails its checks is
        refused and recorded as a security event (reason only: never the payload)."""
        last = self._panel.message_seqs.get(sensor_id)
        try:
            return self._security.open_sensor(sensor_id, message.payload, last, now)
        except SecurityRejected as exc:
            record = RecordEvent(
                EventKind.SECURITY,
                f"message from {sensor_id} refused: {exc.reason}",
                {"sensor": sensor_id, "reason": exc.reason, "detail": exc.detail},
            )
            self._turn.system_events.append(
                SystemRecord(now, record.kind.value, record.description, dict(record.data))
            )
            self._out.event(record, now)
            raise

    def _sensor(
        self, sensor_id: str, sensor_type: str, reading: Reading, message: Message, now: float
    ) -> None:
        if reading.state is not None:
            metadata: dict[str, Any] = {"topic": message.topic, **reading.extra}
            for name in ("seq", "ts", "battery"):
                if (value := getattr(reading, name)) is not None:
                    metadata[name] = value
            # A payload that carries seq or ts names one event: the same bytes again are
            # a redelivery. Plain words cannot be told apart and are stored each time.
            dedup_key = None
            if reading.seq is not None or reading.ts is not None:
                digest = hashlib.sha256(message.payload).hexdigest()[:24]
                dedup_key = f"{sensor_id}:{digest}"
            self._turn.sensor_events.append(
                SensorRecord(now, sensor_type, sensor_id, reading.state.value, metadata, dedup_key)
            )
        if reading.battery is not None:
            self._battery[sensor_id] = reading.battery
        self._feed(SensorReport(sensor_id, reading.state), now)

    def _command(self, command: Input, now: float) -> Outcome:
        outcome = self._feed(command, now)
        self._restate_if_unchanged(outcome, now)
        return outcome

    def _restate_if_unchanged(self, outcome: Outcome, now: float) -> None:
        """Accepted but nothing changed (arming the current mode, disarming while
        disarmed): restate the panel so whoever asked over MQTT gets an answer."""
        if outcome.rejection is None and not any(
            isinstance(e, PublishState) for e in outcome.effects
        ):
            self._out.state(self._panel, now)

    def _remember(self, device: DeviceRecord) -> None:
        self._devices[device.device_id] = device
        self._turn.devices[device.device_id] = device

    # -------------------------------------------------------------------- effects

    def _feed(self, event: Input, now: float) -> Outcome:
        outcome = handle(self._panel, self._settings, event, now)
        self._apply(outcome, now)
        return outcome

    def _apply(self, outcome: Outcome, now: float) -> None:
        if outcome.panel is not self._panel:
            self._panel = outcome.panel
            self._dirty = True
        self._wake = None
        for effect in outcome.effects:
            match effect:
                case SetActuator(actuator=actuator, on=on):
                    self._out.actuator(actuator, on)
                case PublishState():
                    self._out.state(self._panel, now)
                case RecordEvent(kind=kind, description=description, data=data):
                    self._turn.system_events.append(
                        SystemRecord(now, kind.value, description, dict(data))
                    )
                    self._out.event(effect, now)
                case Notify():
                    self._notify(effect)
                case WakeAt(at=at):
                    self._wake = at
        if outcome.rejection is not None:
            log.info("refused: %s", outcome.rejection.message)
        self._say_sensors()

    def _say_sensors(self) -> None:
        """Publish each sensor's state, trouble, bypass and battery when they changed."""
        panel = self._panel
        for spec in self._settings.sensors:
            status = panel.sensor(spec.id)
            bypassed = spec.id in panel.bypassed
            battery = self._battery.get(spec.id)
            said = (status.state, status.trouble, bypassed, battery)
            if self._sensors_said.get(spec.id) != said:
                self._sensors_said[spec.id] = said
                self._out.sensor(spec.id, status, bypassed=bypassed, battery=battery)

    def _announce(self, now: float) -> None:
        """After (re)connecting: say we are online and restate what is retained."""
        self._out.online()
        self._out.state(self._panel, now)
        self._out.actuator(ActuatorKind.SIREN, self._panel.state is PanelState.TRIGGERED)
        self._out.discovery(self._discovery)
        self._sensors_said.clear()
        self._say_sensors()


def _log_notification(note: Notify) -> None:
    logging.getLogger("homeguard.notify").warning("%s: %s", note.kind.value, note.message)


__all__ = ["Controller", "EventLog", "Publisher", "Stats"]
