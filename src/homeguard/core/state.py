"""The panel's stored state, as plain data: what snapshots save and restores bring back,
and what one call of the engine (:func:`homeguard.core.panel.handle`) returns."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from types import MappingProxyType
from typing import TypeVar

from homeguard.core.codes import CodeLock
from homeguard.core.model import ArmMode, PanelSettings, PanelState, SensorState
from homeguard.core.persistent_map import PersistentMap
from homeguard.core.signals import ActuatorKind, Effect, SetActuator, SystemPart


class Trouble(StrEnum):
    OFFLINE = "offline"  # the device said so, or its Last Will did
    SUPERVISION = "supervision"  # nothing heard within its supervision interval
    REVOKED = "revoked"  # its login was revoked: it cannot report until reconfigured
    NO_REPORT = "no_report"  # not heard since the controller started (report_grace)
    # Kept apart (SensorStatus.battery_low): a device with a low battery still reports.
    LOW_BATTERY = "low_battery"


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


@dataclass(frozen=True, slots=True)
class Hold:
    """An actuator held on (or off) until ``until``; see core.holds."""

    on: bool
    until: float


@dataclass(frozen=True, slots=True)
class WalkTest:
    """A walk test under way (the panel stays disarmed): every trip is recorded and
    chimes, none sounds the alarm. See core.walk_test."""

    started: float
    until: float  # when it ends by itself
    user: str | None = None
    tested: tuple[str, ...] = ()  # the sensors that tripped so far, in order


@dataclass(frozen=True, slots=True)
class StepSeen:
    """A step of a rule's sequence happened: when, and which sensor made it."""

    at: float
    sensor: str


@dataclass(frozen=True, slots=True)
class RuleState:
    """What the edge rules (core.rules) remember between inputs, kept with the panel so
    that a restart resumes them."""

    last_fired: Mapping[str, float] = field(default_factory=dict)  # rule name -> time
    # Per sequence rule, when each of its steps last happened (None: not since it fired).
    steps: Mapping[str, tuple[StepSeen | None, ...]] = field(default_factory=dict)
    # The wall-clock time up to which schedules have run (None: not yet counting).
    # Schedules name wall-clock times, so a clock step does not move it: a time the
    # clock jumps over is made up for (within its catch_up), one it jumps back over
    # does not run twice.
    scheduled_until: float | None = None


T = TypeVar("T")
_UNKNOWN = SensorStatus()
NO_TRIPS: Mapping[str, int] = MappingProxyType({})  # alarm_trips when a period starts


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
    # Timed holds of the siren and the light (chime, squawk, a rule's action): per
    # actuator, steps that follow one another, the first one current (core.holds).
    holds: Mapping[ActuatorKind, tuple[Hold, ...]] = field(default_factory=dict)
    walk_test: WalkTest | None = None
    chime: bool | None = None  # the door chime switched at run time; None: as configured
    rules: RuleState = field(default_factory=RuleState)  # the edge rules' memory

    def sensor(self, sensor_id: str) -> SensorStatus:
        return self.sensors.get(sensor_id, _UNKNOWN)

    @property
    def siren_on(self) -> bool:
        return self.state is PanelState.TRIGGERED

    def actuators(self, settings: PanelSettings) -> tuple[SetActuator, SetActuator]:
        """What the siren and the light are to do. The one place that decides it (on a
        change of state or of a hold, at a restart, a reconnection): on while the alarm
        wants them (the siren while it sounds; the light then and during the entry
        delay, as configured); otherwise as their hold says; otherwise off. A hold never
        silences the alarm."""
        features = settings.features
        light = (self.siren_on and features.light_alarm) or (
            self.state is PanelState.PENDING and features.light_entry_delay
        )
        return (
            SetActuator(ActuatorKind.SIREN, self.siren_on or self._held(ActuatorKind.SIREN)),
            SetActuator(ActuatorKind.LIGHT, light or self._held(ActuatorKind.LIGHT)),
        )

    def _held(self, kind: ActuatorKind) -> bool:
        steps = self.holds.get(kind, ())
        return bool(steps) and steps[0].on


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
REJECTIONS_WITHOUT_EVENT = frozenset({RejectReason.CODE_REQUIRED, RejectReason.NOT_ALLOWED})


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why the panel refused an input; ``sensors`` lists the ones that block arming."""

    reason: RejectReason
    message: str
    sensors: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Outcome:
    panel: Panel
    effects: tuple[Effect, ...]
    rejection: Rejection | None = None


def sensor_map(mapping: Mapping[str, T], settings: PanelSettings) -> PersistentMap[str, T]:
    """One of the panel's per-sensor maps (``sensors``, ``message_seqs``) as a
    PersistentMap sized for the sensors configured: a change to one sensor then copies
    a few dozen entries, not every sensor (docs/performance.md)."""
    return PersistentMap.of(mapping, capacity=len(settings.sensors))


def new_panel(now: float) -> Panel:
    """A disarmed panel whose sensor supervision starts counting at ``now``."""
    return Panel(since=now, supervised_since=now)


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
        holds={
            kind: tuple(replace(hold, until=hold.until + delta) for hold in steps)
            for kind, steps in panel.holds.items()
        },
        walk_test=None
        if panel.walk_test is None
        else replace(
            panel.walk_test,
            started=panel.walk_test.started + delta,
            until=panel.walk_test.until + delta,
        ),
        rules=replace(
            panel.rules,
            last_fired={name: t + delta for name, t in panel.rules.last_fired.items()},
            steps={
                name: tuple(None if s is None else replace(s, at=s.at + delta) for s in seen)
                for name, seen in panel.rules.steps.items()
            },
        ),
    )
