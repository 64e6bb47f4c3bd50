"""What goes into the panel engine (inputs) and what comes out of it (effects)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from homeguard.core.model import Action, PanelState, SensorState

# --------------------------------------------------------------------------- inputs


@dataclass(frozen=True, slots=True)
class SensorReport:
    """A sensor said something: its state, or just that it is alive (``state`` None)."""

    sensor_id: str
    state: SensorState | None
    seq: int | None = None  # the message's sequence number, when the device counts
    # Signals of their own that a message may carry besides its state (None: not said):
    tamper: bool | None = None  # the case is open (a 24h trip on its false -> true edge)
    battery: int | None = None  # percent
    battery_low: bool | None = None  # the device says its battery is low


@dataclass(frozen=True, slots=True)
class Command:
    """A user asks the panel to arm, disarm or trigger."""

    action: Action
    code: str | None = None
    force: bool = False
    source: str = "mqtt"
    # From a channel whose publishers are authenticated (panel.mqtt_commands: trusted):
    # no code needed; a code that is given is still checked (duress, lockout).
    trusted: bool = False
    by: str | None = None  # who, when no user's code says it: a rule's name
    sensors: tuple[str, ...] = ()  # TRIGGER: the sensors that made a rule raise the alarm


@dataclass(frozen=True, slots=True)
class Availability:
    """A device said it is online or offline (its Last Will, typically)."""

    sensor_id: str
    online: bool


@dataclass(frozen=True, slots=True)
class Revoked:
    """A configured sensor's broker login was revoked (``homeguard revoke``): it cannot
    report any more, which is a trouble until it is removed from the config."""

    sensor_id: str


@dataclass(frozen=True, slots=True)
class BypassRequest:
    """A user bypasses a sensor until the next disarm, or lifts the bypass."""

    sensor_id: str
    bypass: bool = True
    code: str | None = None
    source: str = "mqtt"


@dataclass(frozen=True, slots=True)
class ActuatorRequest:
    """A user switches the siren or the light by hand. During an alarm (``pending`` or
    ``triggered``) switching one OFF silences the alarm: it needs a code that may disarm,
    and disarms."""

    actuator: ActuatorKind
    on: bool
    code: str | None = None
    source: str = "web"


@dataclass(frozen=True, slots=True)
class HoldActuator:
    """Hold the siren or the light on (or off) for ``seconds``: a chime, a squawk, a
    rule's action. The alarm's own use of the siren and light wins over a hold."""

    actuator: ActuatorKind
    on: bool
    seconds: float  # 0 ends the actuator's hold

    def __post_init__(self) -> None:
        if not (math.isfinite(self.seconds) and self.seconds >= 0):
            raise ValueError("a hold lasts a finite number of seconds, 0 or more")


@dataclass(frozen=True, slots=True)
class Advisory:
    """What a service beside the panel found (sensor health, anomaly detection): the
    controller records and publishes it as its own events, on its thread and through
    its store writer, but never feeds it to the panel: advice never arms or triggers.
    ``data`` holds JSON-ready values only."""

    kind: EventKind
    description: str
    data: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Tick:
    """Time has passed; the panel runs whatever timer is due."""


@dataclass(frozen=True, slots=True)
class ClockStep:
    """The wall clock was set (NTP, ``date -s``) by ``delta`` seconds (forward > 0): the
    panel moves every time it holds by as much, so every timer keeps what it had left."""

    delta: float


class SystemPart(StrEnum):
    """A part of homeguard itself that can be in trouble."""

    STORAGE = "storage"  # the event store cannot write


@dataclass(frozen=True, slots=True)
class SystemHealth:
    """A part of homeguard stopped working (``ok`` False, ``detail`` says how) or works
    again; ``lost`` counts the records it had to give up meanwhile."""

    part: SystemPart
    ok: bool
    detail: str = ""
    lost: int = 0


Input = (
    SensorReport
    | Command
    | Availability
    | Revoked
    | BypassRequest
    | ActuatorRequest
    | HoldActuator
    | Tick
    | SystemHealth
    | ClockStep
)

# -------------------------------------------------------------------------- effects


class ActuatorKind(StrEnum):
    SIREN = "siren"
    LIGHT = "light"


class EventKind(StrEnum):
    """System events, published on ``home/alarm/event`` and stored."""

    ARMING = "arming"
    ARMED = "armed"
    DISARMED = "disarmed"
    PENDING = "pending"
    TRIGGERED = "triggered"
    ALARM_ENDED = "alarm_ended"
    FAILED_TO_ARM = "failed_to_arm"
    INVALID_CODE = "invalid_code"
    LOCKED_OUT = "locked_out"
    NOT_AUTHORIZED = "not_authorized"
    COMMAND_REJECTED = "command_rejected"
    DURESS = "duress"  # only ever in a SilentAlert and a Notify: never published
    BYPASSED = "bypassed"
    UNBYPASSED = "unbypassed"
    SWINGER_SHUTDOWN = "swinger_shutdown"
    TROUBLE = "trouble"  # a sensor (data: sensor) or a part of homeguard (data: part)
    RESTORED = "restored"
    RECORDS_DROPPED = "records_dropped"  # sensor records the store could not take in time
    SECURITY = "security"  # a message refused by signing or encryption checks
    MESSAGES_LOST = "messages_lost"  # a gap in a device's seq (core.sequence)
    FLOOD = "flood"  # a device sent more than its budget: the surplus, summarised
    CLOCK_STEP = "clock_step"  # the wall clock was set; the panel's timers moved along
    WALK_TEST_STARTED = "walk_test_started"
    WALK_TEST = "walk_test"  # a sensor tripped during a walk test: recorded, no alarm
    WALK_TEST_ENDED = "walk_test_ended"  # by a command, its timeout, arming or an alarm
    CHIME = "chime"  # the door chime switched on or off at run time
    MAINTENANCE = "maintenance"  # a device needs a visit, or no longer does (an Advisory)
    ANOMALY = "anomaly"  # activity unlike the house's habits (an Advisory)
    RULE_FIRED = "rule_fired"  # an edge rule fired (data: rule, actions, sensors)


@dataclass(frozen=True, slots=True)
class SetActuator:
    actuator: ActuatorKind
    on: bool


@dataclass(frozen=True, slots=True)
class PublishState:
    state: PanelState


@dataclass(frozen=True, slots=True)
class RecordEvent:
    """Log and publish a system event. ``data`` holds JSON-ready values only."""

    kind: EventKind
    description: str
    data: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SilentAlert:
    """Keep a record that no one watching the panel may see (a duress code): never
    published, never in the event log the dashboard and ``homeguard events`` show; only
    in the store's silent alerts (``homeguard events --duress``)."""

    kind: EventKind
    description: str
    data: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Notify:
    """Tell the people: an alarm, a duress code, a trouble. ``silent`` hides it locally.
    ``route``: only that notification route (a rule's action); None: the routes that take
    ``kind``."""

    kind: EventKind
    message: str
    silent: bool = False
    route: str | None = None


@dataclass(frozen=True, slots=True)
class WakeAt:
    """Call the engine with :class:`Tick` at ``at`` (seconds, same clock as ``now``)."""

    at: float


@dataclass(frozen=True, slots=True)
class Publish:
    """Publish a message: a rule's action, on a topic the panel takes no input from
    (checked when the config is loaded)."""

    topic: str
    payload: str
    qos: int = 1
    retain: bool = False


Effect = SetActuator | PublishState | RecordEvent | SilentAlert | Notify | WakeAt | Publish
