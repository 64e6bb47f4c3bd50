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
    LOW_BATTERY_PERCENT,
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
from homeguard.core.sequence import SeqStep, check_seq
from homeguard.core.signals import (
    ActuatorKind,
    ActuatorRequest,
    Availability,
    BypassRequest,
    ClockStep,
    Command,
    Effect,
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
    SystemPart,
    Tick,
    WakeAt,
)
from homeguard.errors import CommandRejected

_EMPTY: Mapping[str, int] = MappingProxyType({})
_PART_NAMES = {SystemPart.STORAGE: "event store"}


class Trouble(StrEnum):
    OFFLINE = "offline"  # the device said so, or its Last Will did
    SUPERVISION = "supervision"  # nothing heard within its supervision interval
    REVOKED = "revoked"  # its login was revoked: it cannot report until reconfigured
    NO_REPORT = "no_report"  # not heard since the controller started (report_grace)
    # Kept apart (SensorStatus.battery_low): a device with a low battery still reports.
    LOW_BATTERY = "low_battery"


_TROUBLE_TEXT = {
    Trouble.OFFLINE: "is offline",
    Trouble.SUPERVISION: "silent beyond its supervision interval",
    Trouble.NO_REPORT: "not heard since the controller started",
    Trouble.LOW_BATTERY: "has a low battery",
    Trouble.REVOKED: "was revoked: remove it from the config",
}


@dataclass(frozen=True, slots=True)
class SensorStatus:
    """What the panel knows of one sensor."""

    state: SensorState | None = None
    last_seen: float | None = None
    trouble: Trouble | None = None
    trouble_since: float | None = None
    unavailable_tripped: bool = False
    tampered: bool = False  # its tamper signal is set (SensorReport.tamper)
    battery_low: bool = False
    battery: int | None = None  # percent, as last reported
    # An offline heard during the restart grace period: stale until the grace ends,
    # when it becomes a trouble (from this time) unless the sensor spoke again.
    offline_since: float | None = None

    @property
    def active(self) -> bool:
        return self.state is not None and self.state.active

    @property
    def trouble_name(self) -> str | None:
        """The trouble to show: the one in ``trouble``, else a low battery."""
        if self.trouble is not None:
            return self.trouble.value
        return Trouble.LOW_BATTERY.value if self.battery_low else None


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
    # The last sequence number accepted from each device that sends one: the replay
    # floor of a signing device (core.signing) and where gaps are counted from
    # (core.sequence). Kept with the panel so that a restart does neither anew.
    message_seqs: Mapping[str, int] = field(default_factory=dict)
    # Parts of homeguard itself in trouble, and since when (the event store that cannot
    # write). They do not keep the panel from arming: it works on without them.
    system_troubles: Mapping[SystemPart, float] = field(default_factory=dict)

    def sensor(self, sensor_id: str) -> SensorStatus:
        return self.sensors.get(sensor_id, _UNKNOWN)

    @property
    def siren_on(self) -> bool:
        return self.state is PanelState.TRIGGERED

    @property
    def actuators(self) -> tuple[SetActuator, SetActuator]:
        """What the siren and the light are to do: both on while the alarm sounds. The
        one place that decides it (on a change of state, at a restart, a reconnection)."""
        on = self.siren_on
        return SetActuator(ActuatorKind.SIREN, on), SetActuator(ActuatorKind.LIGHT, on)


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
    """Run what is due at ``now``, then apply ``event``. A :class:`ClockStep` moves the
    panel's times first: ``now`` is already on the stepped clock."""
    if isinstance(event, ClockStep):
        panel = shift_times(panel, event.delta)
    run = _Run(panel, settings)
    run.advance(now)
    match event:
        case SensorReport():
            run.sensor_report(event, now)
        case Command():
            run.command(event, now)
        case Availability():
            run.availability(event, now)
        case Revoked():
            run.revoked(event, now)
        case BypassRequest():
            run.bypass(event, now)
        case SystemHealth():
            run.system_health(event, now)
        case ActuatorRequest():
            run.switch(event, now)
        case ClockStep():
            run.clock_step(event)
        case Tick():
            pass
    return run.outcome()


def shift_times(panel: Panel, delta: float) -> Panel:
    """The panel with every time it holds moved by ``delta`` seconds: after the wall
    clock is set by ``delta``, every timer (entry delay, siren, exit delay, supervision,
    restart grace, debounce, code lockout) has exactly what it had left, and every past
    moment is as long ago as it was. The one place that knows the panel's time fields
    (tests/core/test_clock_step.py fails when one is added and not moved here)."""

    def move(t: float | None) -> float | None:
        return None if t is None else t + delta

    lock = panel.code_lock
    return replace(
        panel,
        since=panel.since + delta,
        deadline=move(panel.deadline),
        sensors={
            sensor_id: replace(
                status,
                last_seen=move(status.last_seen),
                trouble_since=move(status.trouble_since),
                offline_since=move(status.offline_since),
            )
            for sensor_id, status in panel.sensors.items()
        },
        code_lock=replace(
            lock,
            failures=tuple(t + delta for t in lock.failures),
            locked_until=lock.locked_until + delta,
        ),
        supervised_since=panel.supervised_since + delta,
        quiet_until=panel.quiet_until + delta,
        system_troubles={part: t + delta for part, t in panel.system_troubles.items()},
    )


def resume(panel: Panel, settings: PanelSettings, now: float) -> Outcome:
    """After a restart: run what fell due while down, then restate state, siren and light.

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
    run.effects.extend(run.panel.actuators)
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
        elif status.battery_low:
            blockers[spec.id] = Trouble.LOW_BATTERY.value
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
            else:
                due = _quiet_deadline(panel, settings, spec, status)
        elif (
            spec.trigger_unavailable
            and not status.unavailable_tripped
            and status.trouble is not Trouble.REVOKED  # our own doing, not an intruder's
        ):
            assert status.trouble_since is not None
            due = status.trouble_since + spec.unavailable_debounce
        if due is not None:
            if not _spoke_since_start(panel, settings, status):
                due = max(due, panel.quiet_until)  # the benefit of the doubt, see resume
            timers.append((due, spec.id))
    return timers


def _awaits_report(panel: Panel, settings: PanelSettings, spec: SensorSpec) -> bool:
    """Not heard since the controller started, and expected to be (not event_only)."""
    if settings.report_grace is None or spec.event_only:
        return False
    last_seen = panel.sensor(spec.id).last_seen
    return last_seen is None or last_seen < panel.supervised_since


def _quiet_deadline(
    panel: Panel, settings: PanelSettings, spec: SensorSpec, status: SensorStatus
) -> float | None:
    """When a sensor that is in no trouble will be, if it stays silent: its supervision
    interval, or the report grace for one not heard since the start; None: never."""
    due: list[float] = []
    if spec.supervision is not None:
        heard = max(status.last_seen or panel.supervised_since, panel.supervised_since)
        due.append(heard + spec.supervision)
    if _awaits_report(panel, settings, spec):
        assert settings.report_grace is not None
        due.append(panel.supervised_since + settings.report_grace)
    return min(due) if due else None


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
            self.effects.extend(self.panel.actuators)
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
        spec = self.settings.sensor(sensor_id)
        assert spec is not None
        if status.trouble is None and status.offline_since is not None:
            self.raise_trouble(sensor_id, Trouble.OFFLINE, t, since=status.offline_since)
        elif status.trouble is None:
            grace = self.settings.report_grace
            unheard = _awaits_report(self.panel, self.settings, spec)
            if unheard and grace is not None and t >= self.panel.supervised_since + grace:
                self.raise_trouble(sensor_id, Trouble.NO_REPORT, t)
            else:
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
        if report.seq is not None:
            self.count_seq(report.sensor_id, report.seq)
        before = self.panel.sensor(report.sensor_id)
        self.clear_trouble(report.sensor_id, now)
        status = replace(self.panel.sensor(report.sensor_id), last_seen=now)
        if report.state is not None:
            status = replace(status, state=report.state)
        if report.tamper is not None:
            status = replace(status, tampered=report.tamper)
        if report.battery is not None:
            status = replace(status, battery=report.battery)
        self.set_sensor(report.sensor_id, status)
        self.battery(report, now)
        # Devices repeat their tamper flag in every message: only its rising edge trips,
        # so a door that opens while the flag is still set is heard as a door.
        tampering = status.tampered and not before.tampered
        if report.state is SensorState.TAMPER and before.state is not SensorState.TAMPER:
            tampering = True
        if tampering:
            self.trip(report.sensor_id, now, tamper=True)
        elif status.active and not before.active:
            self.trip(report.sensor_id, now)

    def count_seq(self, sensor_id: str, seq: int) -> None:
        """Remember the device's last seq; a gap before this one is a loss, reported."""
        last = self.panel.message_seqs.get(sensor_id)
        check = check_seq(last, seq)
        if check.last != last:
            self.panel = replace(
                self.panel, message_seqs={**self.panel.message_seqs, sensor_id: check.last}
            )
        if check.step is SeqStep.GAP:
            message = f"{check.lost} message(s) from {sensor_id} lost (seq {last} then {seq})"
            self.event(
                EventKind.MESSAGES_LOST,
                message,
                sensor=sensor_id,
                lost=check.lost,
                last_seq=last,
                seq=seq,
            )
            self.effects.append(Notify(EventKind.MESSAGES_LOST, message))

    def battery(self, report: SensorReport, now: float) -> None:
        """Low-battery trouble: the device's own flag, or a percentage at or below
        LOW_BATTERY_PERCENT; a message that says neither changes nothing."""
        said = [report.battery_low] if report.battery_low is not None else []
        if report.battery is not None:
            said.append(report.battery <= LOW_BATTERY_PERCENT)
        if not said:
            return
        low = any(said)
        status = self.panel.sensor(report.sensor_id)
        if low == status.battery_low:
            return
        self.set_sensor(report.sensor_id, replace(status, battery_low=low))
        sensor_id = report.sensor_id
        if low:
            message = f"sensor {sensor_id} {_TROUBLE_TEXT[Trouble.LOW_BATTERY]}"
            trouble = Trouble.LOW_BATTERY.value
            self.event(EventKind.TROUBLE, message, sensor=sensor_id, trouble=trouble)
            self.effects.append(Notify(EventKind.TROUBLE, message))
        else:
            message = f"sensor {sensor_id}: battery no longer low"
            trouble = Trouble.LOW_BATTERY.value
            self.event(EventKind.RESTORED, message, sensor=sensor_id, trouble=trouble)

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

    def revoked(self, event: Revoked, now: float) -> None:
        if self.known_sensor(event.sensor_id) is None:
            return
        if self.panel.sensor(event.sensor_id).trouble is not Trouble.REVOKED:
            self.raise_trouble(event.sensor_id, Trouble.REVOKED, now)

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
        message = f"sensor {sensor_id} {_TROUBLE_TEXT[trouble]}"
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

    def clock_step(self, step: ClockStep) -> None:
        """Say that the clock was set: the times before and after it do not compare."""
        self.event(
            EventKind.CLOCK_STEP,
            f"system clock set {step.delta:+.1f} s: timers kept their remaining time",
            delta=step.delta,
        )

    def system_health(self, report: SystemHealth, now: float) -> None:
        """A part of homeguard failing or working again: a trouble, restored, and the
        retained state restated (its status lists the system troubles)."""
        part, troubles = report.part, self.panel.system_troubles
        name = _PART_NAMES[part]
        if not report.ok and part not in troubles:
            self.panel = replace(self.panel, system_troubles={**troubles, part: now})
            message = f"{name} failing: {report.detail}" if report.detail else f"{name} failing"
            self.event(EventKind.TROUBLE, message, part=part.value, detail=report.detail)
            self.effects.append(Notify(EventKind.TROUBLE, message))
            self.effects.append(PublishState(self.panel.state))
        elif report.ok and part in troubles:
            since = troubles[part]
            self.panel = replace(
                self.panel, system_troubles={p: t for p, t in troubles.items() if p is not part}
            )
            self.event(EventKind.RESTORED, f"{name} works again", part=part.value, since=since)
            self.effects.append(PublishState(self.panel.state))
        if report.lost:
            self.event(
                EventKind.RECORDS_DROPPED,
                f"{report.lost} events were dropped: the {name} could not store them",
                part=part.value,
                count=report.lost,
            )

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
        mode = command.action.mode
        # Changing the mode of an armed panel unwatches zones: as strong as a disarm.
        needs_disarm_right = mode is None or self.changes_armed_mode(mode)
        needs_code = self.settings.codes_required and (
            needs_disarm_right or self.settings.code_arm_required
        )
        if command.trusted and command.code is None:
            needs_code = False  # vouched for by the broker's ACL; a code given is checked
        user = None
        if needs_code:
            user = self.check_code(command.code, needs_disarm_right, command.source, now)
            if user is None:
                return
        if mode is None:
            self.disarm(user, command.source, now)
        else:
            self.arm(mode, command.force, user, command.source, now)
        self.succeeded(user)

    def changes_armed_mode(self, mode: ArmMode) -> bool:
        state = self.panel.state
        armed = state is PanelState.ARMING or state in {m.state for m in ArmMode}
        return armed and self.panel.mode is not mode

    def check_code(
        self, code: str | None, disarm_right: bool, source: str, now: float
    ) -> User | None:
        """The user whose code this is and who holds the right (to disarm when
        ``disarm_right``, else to arm), or None after recording why not. A wrong code
        and a code without the right both count towards the lockout."""
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
            self.event(EventKind.INVALID_CODE, "wrong code entered", source=source)
            self.reject(RejectReason.INVALID_CODE, "wrong code")
            self.count_failure(source, now)
            return None
        if user.duress:
            # Silent: every visible channel shows what this user's code did as usual.
            self.effects.append(
                SilentAlert(
                    EventKind.DURESS,
                    f"duress code used by {user.name}",
                    {"user": user.name, "source": source},
                )
            )
            self.effects.append(
                Notify(EventKind.DURESS, f"Duress code entered ({user.name})", silent=True)
            )
        if not (user.can_disarm if disarm_right else user.can_arm):
            message = f"{user.shown_name} may not {'disarm' if disarm_right else 'arm'}"
            self.event(EventKind.NOT_AUTHORIZED, message, user=user.shown_name, source=source)
            self.reject(RejectReason.NOT_AUTHORIZED, message)
            self.count_failure(source, now)
            return None
        return user

    def count_failure(self, source: str, now: float) -> None:
        lock = self.panel.code_lock.after_failure(self.settings.codes, now)
        self.panel = replace(self.panel, code_lock=lock)
        if lock.locked(now):
            message = f"too many wrong codes: code entry locked for {lock.locked_until - now:.0f} s"
            self.event(EventKind.LOCKED_OUT, message, source=source, until=lock.locked_until)
            self.effects.append(Notify(EventKind.LOCKED_OUT, message))

    def succeeded(self, user: User | None) -> None:
        """After an action: only one carried out with the code of a user who may disarm
        clears the wrong-code count, so a known arm-only code cannot be slipped in
        between guesses to keep the lockout away."""
        if user is not None and user.can_disarm and self.rejection is None:
            self.panel = replace(self.panel, code_lock=self.panel.code_lock.after_success())

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
        who = user.shown_name if user else None
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
        who = user.shown_name if user else None
        self.event(
            EventKind.DISARMED,
            f"disarmed from {previous.value}",
            user=who,
            source=source,
            previous=previous.value,
        )

    def bypass(self, request: BypassRequest, now: float) -> None:
        """Bypassing a zone needs a code that may disarm, and a disarmed panel unless
        ``bypass_while_armed``; lifting a bypass (safer) needs one that may arm."""
        sensor_id = request.sensor_id
        if self.known_sensor(sensor_id) is None:
            return
        state = self.panel.state
        if (
            request.bypass
            and state is not PanelState.DISARMED
            and not self.settings.bypass_while_armed
        ):
            self.reject(
                RejectReason.NOT_ALLOWED,
                f"cannot bypass {sensor_id} while {state.value}: disarm first",
            )
            return
        user = None
        if self.settings.codes_required:
            user = self.check_code(request.code, request.bypass, request.source, now)
            if user is None:
                return
        who = user.shown_name if user else None
        bypassed = self.panel.bypassed
        if request.bypass:
            self.panel = replace(self.panel, bypassed=bypassed | {sensor_id})
            self.event(
                EventKind.BYPASSED,
                f"sensor {sensor_id} bypassed",
                sensors=[sensor_id],
                forced=False,
                user=who,
                source=request.source,
            )
        else:
            self.panel = replace(self.panel, bypassed=bypassed - {sensor_id})
            self.event(
                EventKind.UNBYPASSED,
                f"sensor {sensor_id} no longer bypassed",
                sensors=[sensor_id],
                user=who,
                source=request.source,
            )
        self.succeeded(user)

    def switch(self, request: ActuatorRequest, now: float) -> None:
        """A siren or light switched by hand. ON, or anything outside an alarm, is
        carried out; OFF during an alarm silences it, which is disarming: it needs a
        code that may disarm (counted like any other) and disarms."""
        state = self.panel.state
        if request.on or state not in (PanelState.PENDING, PanelState.TRIGGERED):
            self.effects.append(SetActuator(request.actuator, request.on))
            return
        user = None
        if self.settings.codes_required:
            user = self.check_code(request.code, True, request.source, now)
            if user is None:
                return
        self.disarm(user, request.source, now)
        self.succeeded(user)
