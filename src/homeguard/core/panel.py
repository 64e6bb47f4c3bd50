"""The alarm panel: a pure function of (panel, settings, input, now) to (panel, effects).

The stored panel holds the current state, the armed mode it belongs to and the absolute
time its timer runs out (``deadline``). Timed transitions (exit delay over, entry delay
over, siren time over, a sensor silent too long) are carried out by :func:`handle` for
whatever is due at ``now`` before the input itself, each at its own deadline, so a panel
restored after a restart resumes from the original start times.

Transitions, in short (see the README's table for the whole behaviour):

=================  ===============================  ====================================
state              event                            next state
=================  ===============================  ====================================
disarmed           ARM_<mode> (valid code)          arming (exit delay) or armed_<mode>
arming             exit delay over                  armed_<mode>
armed_<mode>       entry zone trips                 pending (entry delay)
armed_<mode>       perimeter/interior zone trips    triggered
pending            entry delay over                 triggered
pending            perimeter zone trips             triggered
triggered          siren time over                  armed_<mode> (or disarmed)
any but disarmed   DISARM (valid code)              disarmed
any                24h zone trips, TRIGGER          triggered
=================  ===============================  ====================================
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from types import MappingProxyType

from homeguard.core.codes import CodeLock, verify_pin
from homeguard.core.model import (
    Action,
    ArmMode,
    ModeTiming,
    PanelSettings,
    PanelState,
    SensorSpec,
    SensorState,
    User,
    ZoneKind,
)
from homeguard.core.signals import (
    ActuatorKind,
    Availability,
    BypassRequest,
    Command,
    Effect,
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
from homeguard.errors import CommandRejected

_EMPTY: Mapping[str, int] = MappingProxyType({})


class Trouble(StrEnum):
    OFFLINE = "offline"  # the device said so, or its Last Will did
    SUPERVISION = "supervision"  # nothing heard within its supervision interval


@dataclass(frozen=True, slots=True)
class SensorStatus:
    """What the panel knows of one sensor."""

    state: SensorState | None = None
    last_seen: float | None = None
    trouble: Trouble | None = None
    trouble_since: float | None = None
    unavailable_tripped: bool = False
    # An offline heard during the restart grace period: stale until the grace ends,
    # when it becomes a trouble (from this time) unless the sensor spoke again.
    offline_since: float | None = None

    @property
    def active(self) -> bool:
        return self.state is not None and self.state.active


_UNKNOWN = SensorStatus()


@dataclass(frozen=True, slots=True)
class Panel:
    """The panel's whole state, as plain data that snapshots and restores exactly."""

    state: PanelState = PanelState.DISARMED
    mode: ArmMode | None = None  # the armed mode that arming/armed/pending/triggered serve
    since: float = 0.0  # when ``state`` began
    deadline: float | None = None  # when ``state``'s timer runs out
    triggered_by: tuple[str, ...] = ()
    sensors: Mapping[str, SensorStatus] = field(default_factory=dict)
    bypassed: frozenset[str] = frozenset()
    alarm_trips: Mapping[str, int] = field(default_factory=dict)  # per armed period
    code_lock: CodeLock = field(default_factory=CodeLock)
    supervised_since: float = 0.0  # supervision counts silence from here at the earliest
    # The end of the restart grace period (see `resume`): before it, no trouble or
    # unavailability trip is raised for a sensor not heard from since the start.
    quiet_until: float = 0.0
    # The last sequence number accepted from each signing device (core.signing): kept
    # with the panel so that a restart does not reopen replays.
    message_seqs: Mapping[str, int] = field(default_factory=dict)

    def sensor(self, sensor_id: str) -> SensorStatus:
        return self.sensors.get(sensor_id, _UNKNOWN)

    @property
    def siren_on(self) -> bool:
        return self.state is PanelState.TRIGGERED


class RejectReason(StrEnum):
    CODE_REQUIRED = "code_required"
    INVALID_CODE = "invalid_code"
    LOCKED_OUT = "locked_out"
    NOT_AUTHORIZED = "not_authorized"
    SENSORS_NOT_READY = "sensors_not_ready"
    NOT_ALLOWED = "not_allowed"
    UNKNOWN_SENSOR = "unknown_sensor"


# Refused commands with no more specific event of their own (an unknown sensor is the
# controller's business: it counts them as rejected messages).
_REJECTIONS_WITHOUT_EVENT = frozenset({RejectReason.CODE_REQUIRED, RejectReason.NOT_ALLOWED})


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why the panel refused an input; ``sensors`` lists the ones that block arming."""

    reason: RejectReason
    message: str
    sensors: tuple[str, ...] = ()

    def to_error(self) -> CommandRejected:
        return CommandRejected(self.reason.value, self.message, self.sensors)


@dataclass(frozen=True, slots=True)
class Outcome:
    panel: Panel
    effects: tuple[Effect, ...]
    rejection: Rejection | None = None


def new_panel(now: float) -> Panel:
    """A disarmed panel whose sensor supervision starts counting at ``now``."""
    return Panel(since=now, supervised_since=now)


def handle(panel: Panel, settings: PanelSettings, event: Input, now: float) -> Outcome:
    """Run what is due at ``now``, then apply ``event``."""
    run = _Run(panel, settings)
    run.advance(now)
    match event:
        case SensorReport():
            run.sensor_report(event, now)
        case Command():
            run.command(event, now)
        case Availability():
            run.availability(event, now)
        case BypassRequest():
            run.bypass(event, now)
        case Tick():
            pass
    return run.outcome()


def resume(panel: Panel, settings: PanelSettings, now: float) -> Outcome:
    """After a restart: run what fell due while down, then restate state and actuators.

    Supervision restarts its count at ``now``: silence while we were down is ours. A
    restart is not news: for ``settings.restart_grace`` seconds, a sensor that has not
    spoken since the start gets the benefit of the doubt: its offline (often the
    retained one from before the start, or one queued in our session) is only noted,
    and no trouble or unavailability trip is raised for it. If it has not spoken by the
    end of the grace, it is in trouble from when it was heard offline. A sensor that
    has spoken since the start is treated as usual.
    """
    run = _Run(
        replace(
            panel,
            supervised_since=max(panel.supervised_since, now),
            quiet_until=now + settings.restart_grace,
        ),
        settings,
    )
    run.advance(now)
    run.effects.append(PublishState(run.panel.state))
    run.effects.append(SetActuator(ActuatorKind.SIREN, run.panel.siren_on))
    return run.outcome()


def blocking_sensors(panel: Panel, settings: PanelSettings, mode: ArmMode) -> dict[str, str]:
    """The sensors that keep ``mode`` from arming without force: id → "open" or trouble."""
    blockers: dict[str, str] = {}
    for spec in settings.sensors:
        if spec.id in panel.bypassed or not spec.watched_in(mode):
            continue
        status = panel.sensor(spec.id)
        if status.trouble is not None:
            blockers[spec.id] = status.trouble.value
        elif status.active and spec.zone_kind is not ZoneKind.INTERIOR:
            # Motion is momentary: a person at the keypad must not block arming.
            blockers[spec.id] = "open"
    return blockers


def next_wake(panel: Panel, settings: PanelSettings) -> float | None:
    due = [t for t, _ in _timers(panel, settings)]
    return min(due) if due else None


def _timers(panel: Panel, settings: PanelSettings) -> list[tuple[float, str | None]]:
    """Every pending timer as (when, sensor id or None for the panel's own)."""
    timers: list[tuple[float, str | None]] = []
    if panel.deadline is not None:
        timers.append((panel.deadline, None))
    for spec in settings.sensors:
        status = panel.sensor(spec.id)
        due: float | None = None
        if status.trouble is None:
            if status.offline_since is not None:
                due = panel.quiet_until
            elif spec.supervision is not None:
                heard = max(status.last_seen or panel.supervised_since, panel.supervised_since)
                due = heard + spec.supervision
        elif spec.trigger_unavailable and not status.unavailable_tripped:
            assert status.trouble_since is not None
            due = status.trouble_since + spec.unavailable_debounce
        if due is not None:
            if not _spoke_since_start(panel, settings, status):
                due = max(due, panel.quiet_until)  # the benefit of the doubt, see resume
            timers.append((due, spec.id))
    return timers


def _spoke_since_start(panel: Panel, settings: PanelSettings, status: SensorStatus) -> bool:
    """Whether the sensor was heard from (online, or a message) since the last start."""
    started = panel.quiet_until - settings.restart_grace
    return status.last_seen is not None and status.last_seen >= started


class _Run:
    """One call of the engine: the panel being changed and the effects so far."""

    def __init__(self, panel: Panel, settings: PanelSettings) -> None:
        self.panel = panel
        self.settings = settings
        self.effects: list[Effect] = []
        self.rejection: Rejection | None = None

    def outcome(self) -> Outcome:
        wake = next_wake(self.panel, self.settings)
        if wake is not None:
            self.effects.append(WakeAt(wake))
        return Outcome(self.panel, tuple(self.effects), self.rejection)

    # ------------------------------------------------------------------ plumbing

    def event(self, kind: EventKind, description: str, **data: object) -> None:
        self.effects.append(RecordEvent(kind, description, data))

    def reject(self, reason: RejectReason, message: str, sensors: tuple[str, ...] = ()) -> None:
        self.rejection = Rejection(reason, message, sensors)
        if reason in _REJECTIONS_WITHOUT_EVENT:
            self.event(EventKind.COMMAND_REJECTED, message, reason=reason.value)

    def become(self, state: PanelState, t: float, deadline: float | None = None) -> None:
        was_triggered = self.panel.siren_on
        self.panel = replace(self.panel, state=state, since=t, deadline=deadline)
        if was_triggered != self.panel.siren_on:
            on = self.panel.siren_on
            self.effects.append(SetActuator(ActuatorKind.SIREN, on))
            self.effects.append(SetActuator(ActuatorKind.LIGHT, on))
        self.effects.append(PublishState(state))

    def timing(self) -> ModeTiming:
        return self.settings.timing(self.panel.mode or ArmMode.AWAY)

    def set_sensor(self, sensor_id: str, status: SensorStatus) -> None:
        self.panel = replace(self.panel, sensors={**self.panel.sensors, sensor_id: status})

    # ------------------------------------------------------------------ timers

    def advance(self, now: float) -> None:
        """Carry out every timer due by ``now``, earliest first, each at its own time."""
        while True:
            due = [(t, sid) for t, sid in _timers(self.panel, self.settings) if t <= now]
            if not due:
                return
            t, sensor_id = min(due, key=lambda item: (item[0], item[1] is not None))
            if sensor_id is None:
                self.panel_timer(t)
            else:
                self.sensor_timer(sensor_id, t)

    def panel_timer(self, t: float) -> None:
        state, mode = self.panel.state, self.panel.mode
        if state is PanelState.ARMING:
            assert mode is not None
            self.enter_armed(mode, t)
        elif state is PanelState.PENDING:
            self.trigger(self.panel.triggered_by, t)
        elif state is PanelState.TRIGGERED:
            self.event(
                EventKind.ALARM_ENDED, "siren time over", sensors=list(self.panel.triggered_by)
            )
            self.panel = replace(self.panel, triggered_by=())
            if mode is None or self.settings.disarm_after_trigger:
                self.panel = replace(
                    self.panel, mode=None, bypassed=frozenset(), alarm_trips=_EMPTY
                )
                self.become(PanelState.DISARMED, t)
            else:
                self.become(mode.state, t)
        else:  # pragma: no cover - a deadline only exists in the three states above
            self.panel = replace(self.panel, deadline=None)

    def sensor_timer(self, sensor_id: str, t: float) -> None:
        status = self.panel.sensor(sensor_id)
        if status.trouble is None and status.offline_since is not None:
            self.raise_trouble(sensor_id, Trouble.OFFLINE, t, since=status.offline_since)
        elif status.trouble is None:
            self.raise_trouble(sensor_id, Trouble.SUPERVISION, t)
        else:
            self.set_sensor(sensor_id, replace(status, unavailable_tripped=True))
            self.trip(sensor_id, t)

    # ------------------------------------------------------------------ sensors

    def known_sensor(self, sensor_id: str) -> SensorSpec | None:
        spec = self.settings.sensor(sensor_id)
        if spec is None:
            self.reject(RejectReason.UNKNOWN_SENSOR, f"no sensor {sensor_id!r} is configured")
        return spec

    def sensor_report(self, report: SensorReport, now: float) -> None:
        if self.known_sensor(report.sensor_id) is None:
            return
        before = self.panel.sensor(report.sensor_id)
        self.clear_trouble(report.sensor_id, now)
        status = replace(self.panel.sensor(report.sensor_id), last_seen=now)
        if report.state is not None:
            status = replace(status, state=report.state)
        self.set_sensor(report.sensor_id, status)
        if report.state is SensorState.TAMPER and before.state is not SensorState.TAMPER:
            self.trip(report.sensor_id, now, tamper=True)
        elif status.active and not before.active:
            self.trip(report.sensor_id, now)

    def availability(self, report: Availability, now: float) -> None:
        if self.known_sensor(report.sensor_id) is None:
            return
        if report.online:
            self.clear_trouble(report.sensor_id, now)
            status = self.panel.sensor(report.sensor_id)
            self.set_sensor(report.sensor_id, replace(status, last_seen=now))
            return
        status = self.panel.sensor(report.sensor_id)
        if status.trouble is not None or status.offline_since is not None:
            return
        if now < self.panel.quiet_until and not _spoke_since_start(
            self.panel, self.settings, status
        ):  # stale until the grace period says otherwise
            self.set_sensor(report.sensor_id, replace(status, offline_since=now))
        else:
            self.raise_trouble(report.sensor_id, Trouble.OFFLINE, now)

    def raise_trouble(
        self, sensor_id: str, trouble: Trouble, t: float, since: float | None = None
    ) -> None:
        """Raise ``trouble`` at ``t``; it counts (for trigger_unavailable) from ``since``."""
        status = self.panel.sensor(sensor_id)
        self.set_sensor(
            sensor_id,
            replace(
                status,
                trouble=trouble,
                trouble_since=t if since is None else since,
                unavailable_tripped=False,
                offline_since=None,
            ),
        )
        message = (
            f"sensor {sensor_id} is offline"
            if trouble is Trouble.OFFLINE
            else f"sensor {sensor_id} silent beyond its supervision interval"
        )
        self.event(EventKind.TROUBLE, message, sensor=sensor_id, trouble=trouble.value)
        self.effects.append(Notify(EventKind.TROUBLE, message))

    def clear_trouble(self, sensor_id: str, now: float) -> None:
        status = self.panel.sensor(sensor_id)
        if status.offline_since is not None:  # back within the grace period: no news
            status = replace(status, offline_since=None)
            self.set_sensor(sensor_id, status)
        if status.trouble is None:
            return
        self.set_sensor(
            sensor_id,
            replace(status, trouble=None, trouble_since=None, unavailable_tripped=False),
        )
        self.event(EventKind.RESTORED, f"sensor {sensor_id} is back", sensor=sensor_id)

    def trip(self, sensor_id: str, t: float, *, tamper: bool = False) -> None:
        """A sensor became active (or went missing, with trigger_unavailable)."""
        spec = self.settings.sensor(sensor_id)
        assert spec is not None
        state, mode = self.panel.state, self.panel.mode
        if sensor_id in self.panel.bypassed or state is PanelState.TRIGGERED:
            return
        if tamper or spec.zone_kind is ZoneKind.ALWAYS:
            self.alarm(sensor_id, t, instant=True)
            return
        if mode is None or state is PanelState.ARMING or not spec.watched_in(mode):
            return
        if state is PanelState.PENDING:
            if spec.zone_kind is ZoneKind.PERIMETER:
                self.alarm(sensor_id, t, instant=True)
            return  # entry and interior zones follow the entry delay already running
        delay = 0.0
        if spec.zone_kind is ZoneKind.ENTRY:
            delay = spec.entry_delay if spec.entry_delay is not None else self.timing().entry_delay
        self.alarm(sensor_id, t, instant=delay <= 0, delay=delay)

    def alarm(self, sensor_id: str, t: float, *, instant: bool, delay: float = 0.0) -> None:
        if self.panel.mode is not None:
            trips = self.panel.alarm_trips.get(sensor_id, 0)
            if trips >= self.settings.swinger_limit:
                self.panel = replace(self.panel, bypassed=self.panel.bypassed | {sensor_id})
                self.event(
                    EventKind.SWINGER_SHUTDOWN,
                    f"sensor {sensor_id} tripped {trips} times: bypassed until disarm",
                    sensor=sensor_id,
                    trips=trips,
                )
                return
            self.panel = replace(
                self.panel, alarm_trips={**self.panel.alarm_trips, sensor_id: trips + 1}
            )
        if instant:
            self.trigger((*self.panel.triggered_by, sensor_id), t)
        else:
            self.panel = replace(self.panel, triggered_by=(sensor_id,))
            self.become(PanelState.PENDING, t, t + delay)
            self.event(
                EventKind.PENDING,
                f"entry delay started by {sensor_id}",
                sensor=sensor_id,
                delay=delay,
            )

    def trigger(self, sensors: tuple[str, ...], t: float) -> None:
        self.panel = replace(self.panel, triggered_by=sensors)
        self.become(PanelState.TRIGGERED, t, t + self.timing().siren_time)
        what = ", ".join(sensors) or "manual trigger"
        self.event(EventKind.TRIGGERED, f"alarm triggered by {what}", sensors=list(sensors))
        self.effects.append(Notify(EventKind.TRIGGERED, f"Alarm! Triggered by {what}"))

    # ------------------------------------------------------------------ commands

    def command(self, command: Command, now: float) -> None:
        if command.action is Action.TRIGGER:
            if self.panel.state is not PanelState.TRIGGERED:
                self.trigger((), now)
            return
        disarming = command.action is Action.DISARM
        needs_code = self.settings.codes_required and (disarming or self.settings.code_arm_required)
        if command.trusted and command.code is None:
            needs_code = False  # vouched for by the broker's ACL; a code given is checked
        if needs_code:
            user = self.check_code(command.code, disarming, command.source, now)
            if user is None:
                return
        else:
            user = None
        if disarming:
            self.disarm(user, command.source, now)
        else:
            mode = command.action.mode
            assert mode is not None
            self.arm(mode, command.force, user, command.source, now)

    def check_code(self, code: str | None, disarming: bool, source: str, now: float) -> User | None:
        """The user whose code this is, or None after recording why not."""
        lock = self.panel.code_lock
        if lock.locked(now):
            message = f"code entry locked for {lock.locked_until - now:.0f} s"
            self.event(EventKind.LOCKED_OUT, message, source=source, until=lock.locked_until)
            self.reject(RejectReason.LOCKED_OUT, message)
            return None
        if not code:
            self.reject(RejectReason.CODE_REQUIRED, "a code is required")
            return None
        user = next((u for u in self.settings.users if verify_pin(u.pin_hash, code)), None)
        if user is None:
            lock = lock.after_failure(self.settings.codes, now)
            self.panel = replace(self.panel, code_lock=lock)
            self.event(EventKind.INVALID_CODE, "wrong code entered", source=source)
            self.reject(RejectReason.INVALID_CODE, "wrong code")
            if lock.locked(now):
                message = (
                    f"too many wrong codes: code entry locked for {lock.locked_until - now:.0f} s"
                )
                self.event(EventKind.LOCKED_OUT, message, source=source, until=lock.locked_until)
                self.effects.append(Notify(EventKind.LOCKED_OUT, message))
            return None
        self.panel = replace(self.panel, code_lock=lock.after_success())
        if user.duress:
            # Silent: the panel behaves as usual; only the people we notify learn of it.
            self.event(
                EventKind.DURESS, f"duress code used by {user.name}", user=user.name, source=source
            )
            self.effects.append(
                Notify(EventKind.DURESS, f"Duress code entered ({user.name})", silent=True)
            )
        allowed = user.can_disarm if disarming else user.can_arm
        if not allowed:
            right = "disarm" if disarming else "arm"
            self.event(EventKind.NOT_AUTHORIZED, f"{user.name} may not {right}", user=user.name)
            self.reject(RejectReason.NOT_AUTHORIZED, f"{user.name} may not {right}")
            return None
        return user

    def arm(self, mode: ArmMode, force: bool, user: User | None, source: str, now: float) -> None:
        state = self.panel.state
        if state in (PanelState.PENDING, PanelState.TRIGGERED):
            self.reject(RejectReason.NOT_ALLOWED, f"cannot arm while {state.value}: disarm first")
            return
        if self.panel.mode is mode and state in (PanelState.ARMING, mode.state):
            return  # already arming or armed in this mode
        blockers = blocking_sensors(self.panel, self.settings, mode)
        names = tuple(sorted(blockers))
        if names and not force:
            message = f"cannot arm {mode.value}: not ready: " + ", ".join(
                f"{sid} ({blockers[sid]})" for sid in names
            )
            self.event(EventKind.FAILED_TO_ARM, message, mode=mode.value, sensors=blockers)
            self.reject(RejectReason.SENSORS_NOT_READY, message, names)
            return
        if names:
            self.panel = replace(self.panel, bypassed=self.panel.bypassed | set(names))
            self.event(
                EventKind.BYPASSED,
                "forced arming bypasses " + ", ".join(names),
                sensors=list(names),
                forced=True,
            )
        who = user.name if user else None
        self.panel = replace(self.panel, mode=mode, alarm_trips=_EMPTY, triggered_by=())
        exit_delay = self.settings.timing(mode).exit_delay
        if exit_delay > 0:
            self.become(PanelState.ARMING, now, now + exit_delay)
            self.event(
                EventKind.ARMING,
                f"arming {mode.value}",
                mode=mode.value,
                user=who,
                source=source,
                exit_delay=exit_delay,
            )
        else:
            self.enter_armed(mode, now, who, source)

    def enter_armed(
        self, mode: ArmMode, t: float, who: str | None = None, source: str | None = None
    ) -> None:
        self.become(mode.state, t)
        self.event(EventKind.ARMED, f"armed {mode.value}", mode=mode.value, user=who, source=source)
        # Exit error: a door or window still open when the exit delay ends counts as a trip.
        for spec in self.settings.sensors:
            if (
                self.panel.sensor(spec.id).active
                and spec.zone_kind in (ZoneKind.ENTRY, ZoneKind.PERIMETER)
                and spec.watched_in(mode)
            ):
                self.trip(spec.id, t)

    def disarm(self, user: User | None, source: str, now: float) -> None:
        previous = self.panel.state
        if previous is PanelState.DISARMED:
            return
        self.panel = replace(
            self.panel, mode=None, triggered_by=(), bypassed=frozenset(), alarm_trips=_EMPTY
        )
        self.become(PanelState.DISARMED, now)
        who = user.name if user else None
        self.event(
            EventKind.DISARMED,
            f"disarmed from {previous.value}",
            user=who,
            source=source,
            previous=previous.value,
        )

    def bypass(self, request: BypassRequest, now: float) -> None:
        if self.known_sensor(request.sensor_id) is None:
            return
        if (
            self.settings.codes_required
            and self.check_code(request.code, False, request.source, now) is None
        ):
            return
        bypassed = self.panel.bypassed
        if request.bypass:
            self.panel = replace(self.panel, bypassed=bypassed | {request.sensor_id})
            self.event(
                EventKind.BYPASSED,
                f"sensor {request.sensor_id} bypassed",
                sensors=[request.sensor_id],
                forced=False,
            )
        else:
            self.panel = replace(self.panel, bypassed=bypassed - {request.sensor_id})
            self.event(
                EventKind.UNBYPASSED,
                f"sensor {request.sensor_id} no longer bypassed",
                sensors=[request.sensor_id],
            )
