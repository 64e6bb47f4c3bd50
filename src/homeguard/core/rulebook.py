"""Edge rules as data: what makes a rule fire (its trigger), what must hold then (its
conditions) and what it does (its actions). The config (homeguard.config.rules) builds
these; homeguard.core.rules evaluates them; homeguard.core.rule_run runs them with the
panel. Times of day are seconds after local midnight, days of the week 0 (Monday) to 6.

This module needs the panel's vocabulary (core.model) for its annotations only, so that
core.model can hold a :class:`RuleBook` in :class:`~homeguard.core.model.PanelSettings`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from functools import cached_property
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from homeguard.core.model import (
        ArmMode,
        PanelState,
        SensorSpec,
        SensorState,
        SensorType,
        ZoneKind,
    )
    from homeguard.core.signals import ActuatorKind

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # Monday is day 0
EVERY_DAY = frozenset(range(7))
DAY_SECONDS = 86400


class StateMatch(StrEnum):
    """A sensor state a rule waits for: active/inactive (whatever the type says), or
    one state by name."""

    ACTIVE = "active"
    INACTIVE = "inactive"
    OPEN = "open"
    CLOSED = "closed"
    MOTION = "motion"
    NO_MOTION = "no_motion"
    TAMPER = "tamper"
    ON = "on"
    OFF = "off"

    def accepts(self, state: SensorState | None) -> bool:
        if state is None:
            return False
        if self is StateMatch.ACTIVE:
            return state.active
        if self is StateMatch.INACTIVE:
            return not state.active
        return state.value == self.value.upper()


@dataclass(frozen=True, slots=True)
class SensorMatch:
    """Sensors (by id, zone kind and/or type; none given: any) in a state. As a
    condition, any one selected sensor in the state will do, or ``every`` one."""

    state: StateMatch = StateMatch.ACTIVE
    sensors: frozenset[str] = frozenset()
    zone: ZoneKind | None = None
    type: SensorType | None = None
    every: bool = False

    def selects(self, spec: SensorSpec) -> bool:
        return (
            (not self.sensors or spec.id in self.sensors)
            and (self.zone is None or spec.zone_kind is self.zone)
            and (self.type is None or spec.type is self.type)
        )


@dataclass(frozen=True, slots=True)
class TimeWindow:
    """From ``start`` to ``end`` (seconds of the local day; start > end: over
    midnight, start == end: all day) on ``days``, the days the window starts on."""

    start: int = 0
    end: int = 0
    days: frozenset[int] = EVERY_DAY


@dataclass(frozen=True, slots=True)
class Conditions:
    """What must hold when the trigger comes: all of it."""

    sensors: tuple[SensorMatch, ...] = ()
    panel: frozenset[PanelState] | None = None  # None: any state
    window: TimeWindow | None = None


# ------------------------------------------------------------------------ triggers


@dataclass(frozen=True, slots=True)
class SensorTrigger:
    """A matching sensor changes to the state."""

    match: SensorMatch


@dataclass(frozen=True, slots=True)
class SequenceTrigger:
    """Each step happens (a matching sensor changes to its state) within ``within``
    seconds of the others, in the order given when ``ordered``."""

    steps: tuple[SensorMatch, ...]
    within: float
    ordered: bool = False


@dataclass(frozen=True, slots=True)
class PanelTrigger:
    """The panel becomes one of ``states``."""

    states: frozenset[PanelState]


@dataclass(frozen=True, slots=True)
class ScheduleTrigger:
    """At ``at`` (seconds of the local day) on ``days``. A time missed while homeguard
    was not running (or the clock jumped over it) is made up for at most ``catch_up``
    seconds late, then skipped."""

    at: int
    days: frozenset[int] = EVERY_DAY
    catch_up: float = 300.0


Trigger = SensorTrigger | SequenceTrigger | PanelTrigger | ScheduleTrigger

# ------------------------------------------------------------------------- actions


@dataclass(frozen=True, slots=True)
class RaiseAlarm:
    """Trigger the alarm at once: no entry delay."""


@dataclass(frozen=True, slots=True)
class ArmPanel:
    mode: ArmMode
    force: bool = False  # bypass the sensors that are open or in trouble


@dataclass(frozen=True, slots=True)
class DisarmPanel:
    pass


@dataclass(frozen=True, slots=True)
class HoldActuatorFor:
    actuator: ActuatorKind
    on: bool
    seconds: float


@dataclass(frozen=True, slots=True)
class NotifyRoute:
    route: str
    message: str


@dataclass(frozen=True, slots=True)
class PublishMessage:
    topic: str
    payload: str
    qos: int = 1
    retain: bool = False


RuleAction = RaiseAlarm | ArmPanel | DisarmPanel | HoldActuatorFor | NotifyRoute | PublishMessage


def action_name(action: RuleAction) -> str:
    """How an action is named in the ``rule_fired`` event."""
    match action:
        case RaiseAlarm():
            return "alarm"
        case ArmPanel(mode=mode):
            return f"arm {mode.value}"
        case DisarmPanel():
            return "disarm"
        case HoldActuatorFor(actuator=actuator, on=on, seconds=seconds):
            return f"{actuator.value} {'on' if on else 'off'} for {seconds:g} s"
        case NotifyRoute(route=route):
            return f"notify {route}"
        case PublishMessage(topic=topic):
            return f"publish {topic}"


@dataclass(frozen=True, slots=True)
class RuleSpec:
    """One rule: it fires when ``trigger`` comes and ``conditions`` hold, at most once
    per input to the panel and not again within ``cooldown`` seconds."""

    name: str
    trigger: Trigger
    actions: tuple[RuleAction, ...]
    conditions: Conditions = Conditions()
    cooldown: float = 0.0


@dataclass(frozen=True)
class RuleBook:
    """A site's rules, and the time zone their times of day and days are in (an IANA
    name, read with zoneinfo)."""

    rules: tuple[RuleSpec, ...] = ()
    timezone: str = "UTC"

    def __bool__(self) -> bool:
        return bool(self.rules)

    def rule(self, name: str) -> RuleSpec | None:
        return next((r for r in self.rules if r.name == name), None)

    @cached_property
    def scheduled(self) -> tuple[RuleSpec, ...]:
        return tuple(r for r in self.rules if isinstance(r.trigger, ScheduleTrigger))
