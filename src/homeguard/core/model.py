"""The panel's vocabulary: states, modes, zones, sensors, users and their settings."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import TYPE_CHECKING

from homeguard.core.features import Features
from homeguard.core.modes import ArmMode as ArmMode  # noqa: PLC0414 - the model's too
from homeguard.core.modes import PanelState as PanelState  # noqa: PLC0414 - the model's too
from homeguard.core.rulebook import RuleBook

if TYPE_CHECKING:
    from homeguard.core.arming import ReadinessIndex
    from homeguard.core.timers import TimerIndex


class ZoneKind(StrEnum):
    ENTRY = "entry"  # starts the entry delay
    PERIMETER = "perimeter"  # instant
    INTERIOR = "interior"  # instant, but follows an entry delay already running
    ALWAYS = "24h"  # trips in every state, disarmed included


class SensorType(StrEnum):
    DOOR = "door"
    WINDOW = "window"
    MOTION = "motion"
    TAMPER = "tamper"
    PANIC = "panic"
    SMOKE = "smoke"
    WATER = "water"


DEFAULT_ZONE: Mapping[SensorType, ZoneKind] = MappingProxyType(
    {
        SensorType.DOOR: ZoneKind.ENTRY,
        SensorType.WINDOW: ZoneKind.PERIMETER,
        SensorType.MOTION: ZoneKind.INTERIOR,
        SensorType.TAMPER: ZoneKind.ALWAYS,
        SensorType.PANIC: ZoneKind.ALWAYS,
        SensorType.SMOKE: ZoneKind.ALWAYS,
        SensorType.WATER: ZoneKind.ALWAYS,
    }
)

ALL_MODES = frozenset(ArmMode)
# Interior (motion) zones are not watched while people are home or asleep.
DEFAULT_WATCH: Mapping[ZoneKind, frozenset[ArmMode]] = MappingProxyType(
    {
        ZoneKind.ENTRY: ALL_MODES,
        ZoneKind.PERIMETER: ALL_MODES,
        ZoneKind.INTERIOR: frozenset({ArmMode.AWAY, ArmMode.VACATION}),
        ZoneKind.ALWAYS: ALL_MODES,
    }
)


class SensorState(StrEnum):
    """What a sensor reports, whatever device family it comes from."""

    OPEN = "OPEN"
    CLOSED = "CLOSED"
    MOTION = "MOTION"
    NO_MOTION = "NO_MOTION"
    TAMPER = "TAMPER"
    ON = "ON"  # smoke, water, panic: detected
    OFF = "OFF"

    @property
    def active(self) -> bool:
        """True when the sensor is tripped (open, moving, detecting, tampered)."""
        return self in _ACTIVE_STATES


_ACTIVE_STATES = frozenset(
    {SensorState.OPEN, SensorState.MOTION, SensorState.TAMPER, SensorState.ON}
)


class Action(StrEnum):
    """A command to the panel, as published on ``home/alarm/set``."""

    ARM_AWAY = "ARM_AWAY"
    ARM_HOME = "ARM_HOME"
    ARM_NIGHT = "ARM_NIGHT"
    ARM_VACATION = "ARM_VACATION"
    DISARM = "DISARM"
    TRIGGER = "TRIGGER"
    # The panel's comforts (core.chime, core.walk_test): never change the panel state.
    WALK_TEST = "WALK_TEST"  # from disarmed, with a code that may disarm
    WALK_TEST_END = "WALK_TEST_END"
    CHIME_ON = "CHIME_ON"
    CHIME_OFF = "CHIME_OFF"

    @property
    def mode(self) -> ArmMode | None:
        """The mode an ARM_* action arms, None for the others."""
        if self.name.startswith("ARM_"):
            return ArmMode(f"armed_{self.name[4:].lower()}")
        return None


@dataclass(frozen=True, slots=True)
class ModeTiming:
    """Seconds of exit delay, entry delay and siren for one armed mode."""

    exit_delay: float = 60.0
    entry_delay: float = 30.0
    siren_time: float = 300.0

    def __post_init__(self) -> None:
        if min(self.exit_delay, self.entry_delay) < 0:
            raise ValueError("delays must not be negative")
        if self.siren_time <= 0:
            raise ValueError("siren_time must be positive")


# A battery at or below this percentage is low (the threshold of Home Assistant's
# low-battery blueprint); a device's own battery_low flag counts too.
LOW_BATTERY_PERCENT = 20


@dataclass(frozen=True, slots=True)
class SensorSpec:
    """One configured sensor and how the panel treats it."""

    id: str
    type: SensorType
    zone: ZoneKind | None = None  # None: the type's default zone
    modes: frozenset[ArmMode] | None = None  # None: the zone's default modes
    entry_delay: float | None = None  # None: the mode's entry delay
    supervision: float | None = None  # seconds of silence before trouble; None: off
    trigger_unavailable: bool = False  # going offline while watched trips the zone
    unavailable_debounce: float = 30.0
    name: str = ""
    # Speaks only when something happens (a PIR that sends motion and nothing else):
    # exempt from PanelSettings.report_grace.
    event_only: bool = False

    @property
    def zone_kind(self) -> ZoneKind:
        return self.zone if self.zone is not None else DEFAULT_ZONE[self.type]

    def watched_in(self, mode: ArmMode) -> bool:
        if self.zone_kind is ZoneKind.ALWAYS:
            return True
        modes = self.modes if self.modes is not None else DEFAULT_WATCH[self.zone_kind]
        return mode in modes


@dataclass(frozen=True, slots=True)
class User:
    """A person who may enter a code; ``pin_hash`` comes from :mod:`codes`.

    A duress user's events on every channel an intruder could watch name it
    ``appears_as`` (when set): its own name would give the duress code away."""

    name: str
    pin_hash: str
    can_arm: bool = True
    can_disarm: bool = True
    duress: bool = False
    appears_as: str | None = None

    @property
    def shown_name(self) -> str:
        """The name visible events and the dashboard give this user."""
        return self.appears_as or self.name


@dataclass(frozen=True, slots=True)
class CodePolicy:
    """Wrong-code lockout: ``max_failures`` in ``window`` s lock entry for ``lockout`` s,
    doubling for each lockout that follows without a good code in between, up to
    ``max_lockout`` s: a stranger at the keypad must not lock the owner out for hours."""

    max_failures: int = 5
    window: float = 300.0
    lockout: float = 60.0
    max_lockout: float = 900.0

    def lockout_for(self, previous: int) -> float:
        """Seconds of the lockout that follows ``previous`` ones since the last good code."""
        return min(self.max_lockout, self.lockout * 2.0 ** min(previous, 32))


def _timer_index() -> TimerIndex:
    from homeguard.core.timers import TimerIndex  # it needs this module

    return TimerIndex()


def _readiness_index() -> ReadinessIndex:
    from homeguard.core.arming import ReadinessIndex  # it needs this module

    return ReadinessIndex()


@dataclass(frozen=True)
class PanelSettings:
    """Everything the panel engine needs to know about a site."""

    sensors: tuple[SensorSpec, ...] = ()
    users: tuple[User, ...] = ()
    modes: Mapping[ArmMode, ModeTiming] = field(default_factory=dict)
    disarm_after_trigger: bool = False
    code_arm_required: bool = True
    bypass_while_armed: bool = False  # bypassing a zone is refused unless disarmed
    swinger_limit: int = 2  # alarm trips per zone per armed period before bypass
    codes: CodePolicy = CodePolicy()
    # Seconds after the controller starts by which every sensor that is not event_only
    # must have been heard, or it is in trouble (no_report); None: no such check.
    report_grace: float | None = None
    # Seconds after a (re)start during which an offline is stale, not news: see
    # panel.resume.
    restart_grace: float = 60.0
    features: Features = field(default_factory=Features)  # chime, walk test, squawk, lights
    rules: RuleBook = field(default_factory=RuleBook)  # edge rules, evaluated with the panel
    _by_id: Mapping[str, SensorSpec] = field(init=False, repr=False, compare=False)
    # The sensors' timers, indexed for the panel last shown (core.timers). Not a setting.
    timer_index: TimerIndex = field(
        init=False, repr=False, compare=False, default_factory=_timer_index
    )
    # The sensors that could keep a mode from arming, for the panel last shown
    # (core.arming). Not a setting.
    readiness: ReadinessIndex = field(
        init=False, repr=False, compare=False, default_factory=_readiness_index
    )

    def __post_init__(self) -> None:
        by_id = {spec.id: spec for spec in self.sensors}
        if len(by_id) != len(self.sensors):
            raise ValueError("duplicate sensor ids")
        if len({u.name for u in self.users}) != len(self.users):
            raise ValueError("duplicate user names")
        if self.restart_grace < 0:
            raise ValueError("restart_grace must not be negative")
        object.__setattr__(self, "_by_id", MappingProxyType(by_id))

    def timing(self, mode: ArmMode) -> ModeTiming:
        return self.modes.get(mode, ModeTiming())

    def sensor(self, sensor_id: str) -> SensorSpec | None:
        return self._by_id.get(sensor_id)

    @property
    def codes_required(self) -> bool:
        """With no users configured there is no code to check."""
        return bool(self.users)
