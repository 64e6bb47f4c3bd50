"""The controller: MQTT messages in, the panel engine, its effects out, every event stored.

One thread runs :meth:`Controller.run`. Each turn it takes what has arrived (up to
:data:`MAX_BATCH` messages), runs each through the panel and publishes the effects at
once; then it hands the turn's events to the :class:`StoreWriter`, which commits them on
its own thread and only then acknowledges the messages to the broker: a crash at any
point loses nothing the broker delivered, because whatever was not acknowledged is
delivered again and duplicates are recognised by the store. The panel never waits for
the disk: while the store cannot write, the events wait in memory (bounded, see
:mod:`homeguard.core.backlog`) and the panel gets a ``storage`` trouble.

A device over its message budget (see :mod:`homeguard.services.inbox`) has its surplus
handled by the panel all the same but not stored message by message: it is counted and
summarised once per interval, as are refused messages (:mod:`homeguard.services.summaries`).
"""

from __future__ import annotations

import hashlib
import logging
import queue
import threading
from collections import Counter
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from functools import partial
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
    SharedRoute,
    TopicMap,
)
from homeguard.core import snapshot
from homeguard.core.backlog import DEFAULT_LIMIT, Thunk
from homeguard.core.flood import FloodPolicy
from homeguard.core.model import PanelSettings, PanelState
from homeguard.core.panel import Outcome, Panel, handle, new_panel, resume
from homeguard.core.records import Batch, DeviceRecord, SensorRecord, SystemRecord
from homeguard.core.signals import (
    ActuatorKind,
    Availability,
    ClockStep,
    EventKind,
    Input,
    Notify,
    PublishState,
    RecordEvent,
    Revoked,
    SensorReport,
    SetActuator,
    SilentAlert,
    SystemHealth,
    Tick,
    WakeAt,
)
from homeguard.errors import PayloadError, SecurityRejected
from homeguard.services.inbox import Surplus
from homeguard.services.message_security import MessageSecurity
from homeguard.services.outbound import Outbound
from homeguard.services.store_writer import StoreWriter
from homeguard.services.summaries import Summaries

log = logging.getLogger("homeguard.controller")

MAX_BATCH = 500  # messages per turn
IDLE_WAKE = 0.5  # seconds between turns when nothing happens
PRUNE_EVERY = 3600.0  # seconds between retention clean-ups
FINAL_WRITE = 2.0  # seconds a stopping controller tries to store what is left
_TROUBLE_EVENTS = frozenset({EventKind.TROUBLE, EventKind.RESTORED})
SESSION_TAKEN_OVER = "session_taken_over"  # the trouble of a contested MQTT session


class Publisher(Protocol):
    """The part of the MQTT client the controller uses."""

    @property
    def connection_count(self) -> int: ...
    @property
    def session_contested(self) -> bool: ...
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


Inbox = queue.Queue[Any]  # Message | Request | SystemHealth in; also Surplus out of a FairInbox


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
    # Filled in by Controller.view(), from the writer:
    store_waiting: int = 0  # events not committed yet (held while the store fails)
    store_dropped: int = 0  # sensor events dropped because the store could not take them


@dataclass
class _Turn:
    """What one turn has gathered for the store, and the messages to acknowledge after."""

    sensor_events: list[SensorRecord] = field(default_factory=list)
    system_events: list[SystemRecord] = field(default_factory=list)
    devices: dict[str, DeviceRecord] = field(default_factory=dict)
    messages: list[Message] = field(default_factory=list)
    silent_alerts: list[SystemRecord] = field(default_factory=list)
    device_writes: int = 0

    @property
    def records(self) -> tuple[int, int, int, int]:
        """How much waits for the store (grows with every record the turn gathers)."""
        return (
            len(self.sensor_events),
            len(self.system_events),
            len(self.silent_alerts),
            self.device_writes,
        )


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
        clock_steps: Callable[[], float] | None = None,
        notify: Callable[[Notify], None] | None = None,
        retention: float | None = None,
        security: MessageSecurity | None = None,
        backlog_limit: int = DEFAULT_LIMIT,
        flood: FloodPolicy | None = None,
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
        self._writer = StoreWriter(store, inbox.put, limit=backlog_limit)
        self._clock = clock
        self._clock_steps = clock_steps  # seconds the clock was set by since last asked
        self._notify = notify or _log_notification
        self._retention = retention
        self._security = security or MessageSecurity()
        self._next_prune = 0.0
        self._panel: Panel = new_panel(clock())
        self._wake: float | None = None
        self._turn = _Turn()
        self._dirty = False
        self._connections = 0
        self._contested = False  # another client keeps taking our MQTT session
        self._devices: dict[str, DeviceRecord] = {}
        # Home Assistant discovery configs (topic to payload), and what was last said
        # of each sensor on <base>/alarm/sensors/<id> (said again only when it changes).
        self._discovery = {t: p.encode() for t, p in (discovery or {}).items()}
        self._sensors_said: dict[str, tuple[object, ...]] = {}
        self.stats = Stats(started_at=clock())
        self._summaries = Summaries(flood or FloodPolicy())

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
        stored, or as soon as the store fails to write (the decision stands and is stored
        later). Raises TimeoutError when the controller does not answer in time."""
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
            self.stats,
            rejected=Counter(self.stats.rejected),
            actuators=dict(self.stats.actuators),
            store_waiting=self._writer.waiting,
            store_dropped=self._writer.dropped_total,
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
        for sensor_id in sorted(self._security.revoked):
            log.error("sensor %s was revoked but is still configured: remove it", sensor_id)
            self._feed(Revoked(sensor_id), now)
        self._dirty = True
        self._flush()

    def run(self, stop: threading.Event) -> None:
        """Turn until ``stop`` is set; the current turn is always finished, and stored
        unless the store still fails after :data:`FINAL_WRITE` seconds."""
        self._writer.start()
        try:
            self.start()
            while not stop.is_set():
                self.turn()
            for record in self._summaries.due(self._clock(), final=True):
                self._record(record, self._clock())
            self._flush()
        finally:
            self._writer.stop(FINAL_WRITE)

    def turn(self) -> None:
        """Wait for messages or the next timer, handle them, then hand the events to the
        writer (which acknowledges the messages once they are committed)."""
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
        now = self._clock_step(self._clock())
        if self._wake is not None and now >= self._wake:
            self._feed(Tick(), now)
        if self._retention is not None and now >= self._next_prune:
            self._prune(now)
        for record in self._summaries.due(now):
            self._record(record, now)
        connections = self._client.connection_count
        if connections != self._connections:
            # A new connection (a broker restart may have lost what was retained).
            self._connections = connections
            self._announce(now)
        if self._client.session_contested != self._contested:
            self._session_trouble(not self._contested, now)
        self._flush()
        self._tell_watchers()

    def _session_trouble(self, contested: bool, now: float) -> None:
        """Another client keeps taking our MQTT session (a second controller for the
        site, or a takeover: what it takes is ours) or has stopped: a trouble, loudly,
        and its end."""
        self._contested = contested
        if contested:
            record = RecordEvent(
                EventKind.TROUBLE,
                "another MQTT client keeps taking the controller's session (same client "
                "id): a second controller for this site, or a takeover",
                {"trouble": SESSION_TAKEN_OVER},
            )
            self._notify(Notify(EventKind.TROUBLE, record.description))
        else:
            record = RecordEvent(
                EventKind.RESTORED,
                "the controller's MQTT session is its own again",
                {"trouble": SESSION_TAKEN_OVER},
            )
        self._turn.system_events.append(
            SystemRecord(now, record.kind.value, record.description, dict(record.data))
        )
        self._out.event(record, now)

    def _prune(self, now: float) -> None:
        assert self._retention is not None
        self._next_prune = now + PRUNE_EVERY
        self._writer.prune(now - self._retention)

    def _flush(self) -> None:
        """Hand the turn's events to the writer, which acknowledges the turn's messages
        once they are committed and answers its requests."""
        turn = self._turn
        idle = not (
            turn.sensor_events
            or turn.system_events
            or turn.devices
            or turn.messages
            or turn.silent_alerts
        )
        # A request refused without an event (an unknown sensor) still needs its answer.
        if idle and not self._dirty and not self._replies:
            return
        acks: list[Thunk] = [partial(self._client.ack, message) for message in turn.messages]
        answers: list[Thunk] = [
            partial(request.reply.set_result, outcome) for request, outcome in self._replies
        ]
        self._replies = []
        self._turn = _Turn()
        self.stats.sensor_events += len(turn.sensor_events)
        self.stats.system_events += len(turn.system_events)
        dirty, self._dirty = self._dirty, False
        self._changed = True
        self._writer.submit(
            sensor_events=turn.sensor_events,
            system_events=turn.system_events,
            devices=list(turn.devices.values()),
            snapshot=snapshot.dump(self._panel) if dirty else None,
            silent_alerts=turn.silent_alerts,
            after_commit=acks,
            answers=answers,
        )

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

    def _take(self, item: Message | Request | SystemHealth | Surplus) -> None:
        if isinstance(item, Request):
            self._replies.append((item, self._command(item.event, self._clock())))
        elif isinstance(item, SystemHealth):  # from the writer: the store fails or works
            self._feed(item, self._clock())
        elif isinstance(item, Surplus):
            self._turn.messages.extend(item.replaced)  # acknowledged after the commit
            self.stats.messages += item.coalesced
            self._summaries.surplus(item.device, item.coalesced, self._clock())
            self._message(item.message, surplus=True)
        else:
            self._message(item)

    def _message(self, message: Message, *, surplus: bool = False) -> None:
        self._turn.messages.append(message)
        if self._discovery.get(message.topic) == message.payload:
            return  # our own discovery config, heard back: not news
        self.stats.messages += 1
        now = self._clock()
        records = self._turn.records
        try:
            self._route(message, now, surplus)
        except PayloadError as exc:
            self.stats.rejected[exc.reason] += 1
            if self._summaries.rejected(exc.reason, now):
                log.warning(
                    "rejected message on %s (%d bytes): %s (more like it are summarised)",
                    message.topic,
                    len(message.payload),
                    exc,
                )
        if self._writer.failing and not surplus and self._turn.records == records:
            # Nothing of it waits for the store (a heartbeat, a refusal): acknowledge it
            # now. A broker delivers only so many unacknowledged messages (Mosquitto's
            # default: 20), and heartbeats held for a failing store would use them up
            # until the panel heard no door.
            self._turn.messages.pop()
            self._client.ack(message)

    def _record(self, record: RecordEvent, now: float) -> None:
        """Store ``record`` with the turn and publish it."""
        self._turn.system_events.append(
            SystemRecord(now, record.kind.value, record.description, dict(record.data))
        )
        self._out.event(record, now)

    def _route(self, message: Message, now: float, surplus: bool = False) -> None:
        route = self._topics.route(message.topic)
        match route:
            case SensorRoute():
                self._sensor_route(route, message, now, surplus)
            case SharedRoute(routes=routes):
                self._shared(routes, message, now, surplus)
            case CommandRoute():
                if message.retain:
                    self._refuse_retained_command(message, now)
                else:
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
                self._availability(device_id, decode_availability(message.payload), now)
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

    def _refuse_retained_command(self, message: Message, now: float) -> None:
        """A command kept by the broker would be carried out again at every new
        subscription (a restart, a session taken over): never act on one. Clear it (an
        empty retained message) and say so; the payload, which may hold a code, is not
        quoted."""
        self._client.publish(message.topic, b"", qos=1, retain=True)
        self.stats.rejected["retained_command"] += 1
        record = RecordEvent(
            EventKind.COMMAND_REJECTED,
            f"retained command on {message.topic} refused and cleared",
            {"reason": "retained_command", "topic": message.topic},
        )
        self._turn.system_events.append(
            SystemRecord(now, record.kind.value, record.description, dict(record.data))
        )
        self._out.event(record, now)
        log.warning("refused a retained command on %s and cleared it", message.topic)

    def _availability(self, device_id: str, online: bool, now: float) -> None:
        if device_id in self._security.revoked:  # it cannot clear its trouble
            raise SecurityRejected("revoked", "the device's login was revoked")
        known = self._devices.get(device_id)
        base = known or DeviceRecord(device_id, "unknown", (), None, None, None)
        self._remember(replace(base, online=online, last_seen=now if online else base.last_seen))
        if self._settings.sensor(device_id) is not None:
            self._feed(Availability(device_id, online), now)

    def _sensor_route(
        self, route: SensorRoute, message: Message, now: float, surplus: bool = False
    ) -> None:
        sensor_id = route.sensor_id
        # A signed payload opens to its verified fields, seq included.
        payload, _ = self._open_signed(sensor_id, message, now)
        reading = decode_sensor(route.family, route.sensor_type, payload, route.hints)
        if reading.online is not None and reading.state is None:
            # Availability said on the state topic (Home Assistant's "unavailable").
            self._availability(sensor_id, reading.online, now)
            return
        self._sensor(sensor_id, route.sensor_type.value, reading, message, now, surplus=surplus)

    def _shared(
        self,
        routes: tuple[SensorRoute | AvailabilityRoute, ...],
        message: Message,
        now: float,
        surplus: bool = False,
    ) -> None:
        """A topic one device speaks on for several sensors: each sensor's codec reads
        the message; it is rejected only when it is none of theirs (an unknown RF code)."""
        unmatched: PayloadError | None = None
        heard = False
        for route in routes:
            if isinstance(route, AvailabilityRoute):
                self._availability(route.device_id, decode_availability(message.payload), now)
                heard = True
                continue
            try:
                self._sensor_route(route, message, now, surplus)
                heard = True
            except PayloadError as exc:
                if exc.reason != "unmatched":
                    raise
                unmatched = exc
        if not heard and unmatched is not None:
            raise unmatched

    def _open_signed(
        self, sensor_id: str, message: Message, now: float
    ) -> tuple[bytes, int | None]:
        """The payload to decode; a signing sensor's message that fails its checks is
        refused and recorded as a security event (reason only: never the payload): the
        first few of an interval at once, the rest counted for the interval's summary."""
        last = self._panel.message_seqs.get(sensor_id)
        try:
            return self._security.open_sensor(sensor_id, message.payload, last, now)
        except SecurityRejected as exc:
            if self._summaries.refused(sensor_id, exc.reason, now):
                self._record(
                    RecordEvent(
                        EventKind.SECURITY,
                        f"message from {sensor_id} refused: {exc.reason}",
                        {"sensor": sensor_id, "reason": exc.reason, "detail": exc.detail},
                    ),
                    now,
                )
            raise

    def _sensor(
        self,
        sensor_id: str,
        sensor_type: str,
        reading: Reading,
        message: Message,
        now: float,
        *,
        surplus: bool = False,
    ) -> None:
        # Surplus goes to the panel all the same; only its row is left to the flood event.
        if reading.state is not None and not surplus:
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
        # The engine remembers the last seq (the snapshot keeps it) and reports gaps.
        report = SensorReport(
            sensor_id,
            reading.state,
            seq=reading.seq,
            tamper=reading.tamper,
            battery=reading.battery,
            battery_low=reading.battery_low,
        )
        self._feed(report, now)

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
        self._turn.device_writes += 1

    # -------------------------------------------------------------------- effects

    def _feed(self, event: Input, now: float) -> Outcome:
        now = self._clock_step(now)
        outcome = handle(self._panel, self._settings, event, now)
        self._apply(outcome, now)
        return outcome

    def _clock_step(self, now: float) -> float:
        """If the wall clock was set since last asked, move the panel's times along (its
        timers keep what they had left) before anything is decided on the new clock;
        ``now``, read again after a step, on the clock as it is now."""
        delta = self._clock_steps() if self._clock_steps is not None else 0.0
        if not delta:
            return now
        now = self._clock()
        log.warning("system clock set by %+.1f s: the panel's timers are moved along", delta)
        self._next_prune += delta
        self.stats.started_at += delta  # the uptime shown stays right
        self._apply(handle(self._panel, self._settings, ClockStep(delta), now), now)
        return now

    def _apply(self, outcome: Outcome, now: float) -> None:
        changed = outcome.panel is not self._panel
        if changed:
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
                case SilentAlert(kind=kind, description=description, data=data):
                    # Stored apart and never published: see SilentAlert.
                    self._turn.silent_alerts.append(
                        SystemRecord(now, kind.value, description, dict(data))
                    )
                case Notify():
                    self._notify(effect)
                case WakeAt(at=at):
                    self._wake = at
        if any(
            isinstance(e, RecordEvent) and e.kind in _TROUBLE_EVENTS for e in outcome.effects
        ) and not any(isinstance(e, PublishState) for e in outcome.effects):
            self._out.state(self._panel, now)  # the retained status lists the troubles
        if outcome.rejection is not None:
            log.info("refused: %s", outcome.rejection.message)
        if changed:  # what the sensors' topics say comes from the panel alone
            self._say_sensors()

    def _say_sensors(self) -> None:
        """Publish each sensor's state, trouble, bypass and battery when they changed."""
        panel = self._panel
        for spec in self._settings.sensors:
            status = panel.sensor(spec.id)
            bypassed = spec.id in panel.bypassed
            battery = status.battery
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
