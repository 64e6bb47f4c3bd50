"""The controller: MQTT messages in, the panel engine, its effects out, every event stored.

One thread runs :meth:`Controller.run`; given the MQTT client as its ``network``, it
also runs the client's network loop (reading, writing), so that no second thread holds
up the alarm. Each turn it takes what has arrived in its inbox
(:mod:`homeguard.services.inbox`; up to :data:`MAX_BATCH` messages), reads each message
with :func:`~homeguard.services.intake.intake` (route, open, decode: what it yields),
feeds what it yields to the panel engine (:func:`homeguard.core.panel.handle`) and
publishes the effects at once; then it hands the turn (:mod:`homeguard.services.turn`) to
the :class:`StoreWriter`, which commits it on its own thread and only then acknowledges
the messages to the broker: a crash at any point loses nothing the broker delivered,
because whatever was not acknowledged is delivered again and duplicates are recognised
by the store. The panel never waits for the disk: while the store cannot write, the
events wait in memory (bounded, see :mod:`homeguard.core.backlog`) and the panel gets a
``storage`` trouble.

A device over its message budget (see :mod:`homeguard.services.inbox`) has its surplus
handled by the panel all the same but not stored message by message: it is counted and
summarised once per interval, as are refused messages (:mod:`homeguard.services.summaries`).
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Mapping
from typing import Any

from homeguard.adapters.mqtt import Message
from homeguard.adapters.topics import TopicMap
from homeguard.core import snapshot
from homeguard.core.backlog import DEFAULT_LIMIT
from homeguard.core.flood import FloodPolicy
from homeguard.core.model import PanelSettings
from homeguard.core.notifications import Routing
from homeguard.core.panel import Outcome, Panel, handle, new_panel, resume
from homeguard.core.persistent_map import PersistentMap
from homeguard.core.records import DeviceRecord
from homeguard.core.signals import (
    Advisory,
    ClockStep,
    Command,
    EventKind,
    Input,
    Notify,
    Publish,
    PublishState,
    RecordEvent,
    Revoked,
    SetActuator,
    SilentAlert,
    SystemHealth,
    Tick,
    WakeAt,
)
from homeguard.errors import PayloadError
from homeguard.services.inbox import Surplus
from homeguard.services.intake import Setup, Taken, intake
from homeguard.services.message_security import MessageSecurity
from homeguard.services.outbound import Outbound
from homeguard.services.outbox import NotificationQueue
from homeguard.services.ports import EventLog, Network, Publisher
from homeguard.services.session import Session
from homeguard.services.store_writer import StoreWriter
from homeguard.services.summaries import Summaries
from homeguard.services.turn import Request, Turn
from homeguard.services.view import Stats, View, Watchers

log = logging.getLogger("homeguard.controller")

MAX_BATCH = 500  # messages per turn
IDLE_WAKE = 0.5  # seconds between turns when nothing happens
PRUNE_EVERY = 3600.0  # seconds between retention clean-ups
FINAL_WRITE = 2.0  # seconds a stopping controller tries to store what is left
_TROUBLE_EVENTS = frozenset({EventKind.TROUBLE, EventKind.RESTORED})


# Message | Request | SystemHealth | Advisory in; also Surplus out of a FairInbox
Inbox = queue.Queue[Any]


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
        notifications: Routing | None = None,
        network: Network | None = None,
    ) -> None:
        # What messages are read against; discovery: Home Assistant's configs, by topic.
        configs = {t: p.encode() for t, p in (discovery or {}).items()}
        self._setup = Setup(topics, settings, security or MessageSecurity(), configs)
        self._settings = settings
        self._out = outbound
        self._client = client
        self._inbox = inbox
        self._network = network  # whose loop the turns run (None: it runs its own)
        self._watchers = Watchers()
        self._store = store
        self._writer = StoreWriter(store, self._put, limit=backlog_limit)
        # Events waiting for a store that works, past which the network loop stops
        # reading until the writer catches up (see _next).
        self._read_bound = max(1, backlog_limit * 3 // 4)
        self._clock = clock
        self._clock_steps = clock_steps  # seconds the clock was set by since last asked
        self._notify = notify or _log_notification
        self._outbox = NotificationQueue(notifications)  # rows committed with their events
        self._retention = retention
        self._next_prune = 0.0
        self._panel: Panel = new_panel(clock())
        self._wake: float | None = None
        self._turn = Turn()
        self._dirty = False  # the panel changed since the last snapshot
        # The panel of the last snapshot, whose sensors' rows the next one writes only
        # where they changed (None: write them all), and the rows found in the store.
        self._saved: Panel | None = None
        self._stored_rows: set[str] = set()
        # Immutable, so that a view shares it with the watchers' threads without a copy.
        self._devices: PersistentMap[str, DeviceRecord] = PersistentMap()
        self._session = Session(outbound, settings, self._setup.discovery)
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
        self._put(request)
        return request.reply.result(timeout)

    def advise(self, advisory: Advisory) -> None:
        """From any thread, without waiting: have the controller record and publish
        ``advisory`` (a ``maintenance`` or ``anomaly`` event) with its next turn, as its
        own events are; the panel is not told."""
        self._put(advisory)

    def _put(self, item: Request | Advisory | SystemHealth) -> None:
        """From another thread: into the inbox, and the controller woken."""
        self._inbox.put(item)
        if self._network is not None:
            self._network.wake()

    def watch(self, listener: Callable[[View], None]) -> None:
        """Call ``listener`` (on the controller thread; keep it quick) after every turn
        that changed something, and once now-ish with the current view."""
        self._watchers.add(listener)

    def after_commit(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` after every commit that stored something, on the store
        writer's thread: the seam where whatever follows the committed events (the
        notifier, the uplink) is woken; it must return at once."""
        self._writer.on_commit(listener)

    def view(self) -> View:
        stats = self.stats.copy(self._writer.waiting, self._writer.dropped_total)
        return View(self._panel, self._devices, stats, self._clock())

    # -------------------------------------------------------------------- the loop

    def start(self) -> None:
        """Resume the stored panel (or start disarmed) and restate it on the broker."""
        now = self._clock()
        self._devices = PersistentMap((d.device_id, d) for d in self._store.devices())
        saved = self._store.load_snapshot()
        rows = self._store.load_panel_sensors()
        self._stored_rows, self._saved = set(rows), None
        panel = new_panel(now)
        if saved is not None:
            try:
                panel = snapshot.load(saved, self._settings, rows)
            except PayloadError as exc:
                log.error("stored panel state unreadable (%s); starting disarmed", exc)
        self._panel = panel
        self._apply(resume(panel, self._settings, now), now)
        # Every sensor is restated by the session once connected (Session.announce).
        for sensor_id in sorted(self._setup.security.revoked):
            log.error("sensor %s was revoked but is still configured: remove it", sensor_id)
            self._feed(Revoked(sensor_id), now)
        self._dirty = True
        self._commit()

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
            self._commit()
        finally:
            self._writer.stop(FINAL_WRITE)

    def turn(self) -> None:
        """Wait for messages or the next timer, handle them, then hand the events to the
        writer (which acknowledges the messages once they are committed)."""
        now = self._clock()
        timeout = max(0.0, IDLE_WAKE if self._wake is None else min(IDLE_WAKE, self._wake - now))
        first = self._next(timeout)
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
            self._next_prune = now + PRUNE_EVERY
            self._writer.prune(now - self._retention)
        for record in self._summaries.due(now):
            self._record(record, now)
        # After a new connection: everything retained said again. A session another
        # client keeps taking (or that is ours again): a trouble, loudly (or its end).
        if (event := self._session.follow(self._client, self._panel, now)) is not None:
            if event.kind is EventKind.TROUBLE:
                self._notify(Notify(event.kind, event.description))
            self._record(event, now)
        self._commit()
        self._watchers.tell(self.view)

    def _next(self, timeout: float) -> Any:
        """The first item of a turn, waiting up to ``timeout`` s for one (None)."""
        try:
            if self._network is None:
                return self._inbox.get(timeout=timeout)
            # The network loop reads what came (into the inbox) and writes what waits.
            # It reads no further ahead than a turn takes, nor while a working store is
            # far behind: the broker keeps the rest (unacknowledged) rather than the
            # backlog dropping them. A store that fails is not waited for: the panel
            # must hear the doors.
            writer, waiting = self._writer, self._inbox.qsize()
            read = waiting < MAX_BATCH and (
                writer.failing or writer.waiting + waiting < self._read_bound
            )
            self._network.poll(0.0 if waiting else timeout, read=read)
            return self._inbox.get_nowait()
        except queue.Empty:
            return None

    def _commit(self) -> None:
        """Say the sensors the turn changed; hand the turn to the writer, which
        acknowledges the turn's messages once they are committed and answers its
        requests."""
        self._session.say_changed(self._panel)
        turn = self._turn
        # A request refused without an event (an unknown sensor) still needs its answer.
        if turn.idle and not self._dirty:
            return
        self._turn = Turn()
        self.stats.sensor_events += len(turn.sensor_events)
        self.stats.system_events += len(turn.system_events)
        dirty, self._dirty = self._dirty, False
        self._watchers.changed = True
        body, rows = None, None
        if dirty:  # the panel's own part if it changed, the rows of the sensors that did
            if snapshot.body_changed(self._saved, self._panel):
                body = snapshot.dump_body(self._panel)
            rows = snapshot.sensor_rows(self._saved, self._panel)
            if self._saved is None:  # all of them: the others (no longer configured) go
                rows.update(dict.fromkeys(self._stored_rows - rows.keys()))
                self._stored_rows = set()
            self._saved = self._panel
        turn.hand_over(self._writer, self._client.ack, body, rows)

    # ------------------------------------------------------------------- messages

    def _take(self, item: Message | Request | SystemHealth | Advisory | Surplus) -> None:
        if isinstance(item, Request):
            self._turn.replies.append((item, self._command(item.event, self._clock())))
        elif isinstance(item, Advisory):  # from sensor health and anomaly detection
            self._record(RecordEvent(item.kind, item.description, item.data), self._clock())
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
        now = self._clock()
        taken = intake(message, self._setup, self._panel, self._devices, now, surplus=surplus)
        if taken.echo:
            return
        self.stats.messages += 1
        records = self._turn.records
        self._carry_out(taken, now)
        if (exc := taken.rejection) is not None:
            self.stats.rejected[exc.reason] += 1
            self._summaries.rejected(message.topic, len(message.payload), exc, now)
        if self._writer.failing and not surplus and self._turn.records == records:
            # Nothing of it waits for the store (a heartbeat, a refusal): acknowledge it
            # now. A broker delivers only so many unacknowledged messages (Mosquitto's
            # default: 20), and heartbeats held for a failing store would use them up
            # until the panel heard no door.
            self._turn.messages.pop()
            self._client.ack(message)

    def _carry_out(self, taken: Taken, now: float) -> None:
        """What the intake made of a message: published, kept for the store, fed to
        the engine."""
        for topic in taken.clear_retained:
            log.info("clearing the retained message on %s", topic)
            self._out.clear_retained(topic)
        if taken.restate_discovery:
            self._out.discovery(self._setup.discovery)
        self.stats.actuators.update(taken.actuators)
        for device in taken.devices:
            self._devices = self._devices.set(device.device_id, device)
            self._turn.remember(device)
        for refusal in taken.refusals:  # the first few of an interval at once
            if self._summaries.refused(refusal.sensor_id, refusal.reason, now):
                self._record(refusal.event, now)
        for event in taken.events:
            self._record(event, now)
        self._turn.sensor_events.extend(taken.sensor_events)
        for given in taken.inputs:
            if isinstance(given, Command):
                self._command(given, now)
            else:
                self._feed(given, now)

    def _record(self, record: RecordEvent, now: float) -> None:
        """Store ``record`` with the turn and publish it."""
        self._turn.record(record, now)
        self._turn.notifications += self._outbox.rows(record, now)
        self._out.event(record, now)

    def _command(self, command: Input, now: float) -> Outcome:
        """Feed a command; accepted but nothing changed (arming the current mode,
        disarming while disarmed): restate the panel so whoever asked gets an answer."""
        outcome = self._feed(command, now)
        if outcome.rejection is None and not any(
            isinstance(e, PublishState) for e in outcome.effects
        ):
            self._out.state(self._panel, now)
        return outcome

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
        before = self._panel
        changed = outcome.panel is not before
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
                case RecordEvent():
                    self._record(effect, now)
                case SilentAlert():  # stored apart and never published: see SilentAlert
                    self._turn.record(effect, now)
                    self._turn.notifications += self._outbox.rows(effect, now)
                case Notify():
                    self._turn.notifications += self._outbox.rows(effect, now)  # a rule's
                    self._notify(effect)
                case WakeAt(at=at):
                    self._wake = at
                case Publish():  # a rule's message
                    self._out.message(effect)
        if any(
            isinstance(e, RecordEvent) and e.kind in _TROUBLE_EVENTS for e in outcome.effects
        ) and not any(isinstance(e, PublishState) for e in outcome.effects):
            self._out.state(self._panel, now)  # the retained status lists the troubles
        if outcome.rejection is not None:
            log.info("refused: %s", outcome.rejection.message)
        if changed:  # what the sensors' topics say comes from the panel alone: said
            self._session.changed(before, self._panel)  # once at the end of the turn


def _log_notification(note: Notify) -> None:
    logging.getLogger("homeguard.notify").warning("%s: %s", note.kind.value, note.message)


__all__ = ["Controller", "EventLog", "Inbox", "Publisher", "Request", "Stats", "View"]
