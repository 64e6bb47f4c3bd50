"""The API's request and response bodies, and the one error it answers with."""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from homeguard.core.model import ArmMode, PanelState, SensorState, SensorType, ZoneKind
from homeguard.core.signals import ActuatorKind, SystemPart

from .auth import CSRF_HEADER


class ApiError(Exception):
    """A refusal, turned into the JSON error response described above."""

    def __init__(
        self,
        status: int,
        error: str,
        message: str,
        sensors: Sequence[str] = (),
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.error = error
        self.message = message
        self.sensors = list(sensors)
        self.headers = headers


# ---------------------------------------------------------------------- schemas


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ErrorBody(BaseModel):
    error: str = Field(description="A short tag: what went wrong, for programs.")
    message: str = Field(description="What went wrong, for people.")
    sensors: list[str] = Field(default=[], description="The sensors that block arming.")


class LoginBody(_Body):
    user: str = Field(min_length=1, max_length=200)
    password: str = Field(min_length=1, max_length=1000)


class SessionInfo(BaseModel):
    user: str
    csrf_token: str = Field(description=f"Send it back in the {CSRF_HEADER} header.")


class ArmBody(_Body):
    mode: ArmMode = Field(description="The armed mode to arm.")
    code: str | None = Field(default=None, max_length=64, description="The user's PIN.")
    force: bool = Field(default=False, description="Bypass the sensors that block arming.")


class DisarmBody(_Body):
    code: str | None = Field(default=None, max_length=64, description="The user's PIN.")


class BypassBody(_Body):
    sensor: str = Field(min_length=1, max_length=64)
    bypass: bool = Field(default=True, description="False lifts the bypass.")
    code: str | None = Field(default=None, max_length=64)


class ActuatorBody(_Body):
    on: bool
    code: str | None = Field(
        default=None,
        max_length=64,
        description="Needed to switch off during an alarm: a PIN that may disarm.",
    )


class ChimeBody(_Body):
    on: bool = Field(description="Switch the door chime on or off.")
    code: str | None = Field(default=None, max_length=64, description="A PIN that may arm.")


class WalkTestDocument(BaseModel):
    """A walk test under way (docs/panel-features.md)."""

    started: float
    until: float = Field(description="When it ends by itself.")
    user: str | None
    tested: list[str] = Field(description="The sensors tripped so far, in order.")


class CommandResult(BaseModel):
    state: str = Field(description="The panel state once the command was carried out.")
    mode: str | None
    bypassed: list[str]


class ActuatorResult(BaseModel):
    actuator: ActuatorKind
    on: bool
    state: str = Field(description="The panel state afterwards (disarmed, if silenced).")


class SensorLight(StrEnum):
    """The status light the dashboard shows for a sensor, most urgent first."""

    BYPASSED = "bypassed"
    OFFLINE = "offline"
    TROUBLE = "trouble"
    UNKNOWN = "unknown"
    MOTION = "motion"
    OPEN = "open"
    CLOSED = "closed"


class SensorDocument(BaseModel):
    id: str
    name: str
    type: SensorType
    zone: ZoneKind
    state: SensorState | None
    status: SensorLight
    trouble: str | None = Field(description="offline, tamper, low_battery, ...")
    bypassed: bool
    online: bool | None = Field(description="As its availability says; None: never said.")
    battery: int | float | None = Field(description="Percent, as last reported.")
    last_seen: float | None


class ActuatorStatus(BaseModel):
    id: str
    type: ActuatorKind
    on: bool | None = Field(description="As the actuator last reported; None: unknown.")


class UplinkFigures(BaseModel):
    """The uplink to an upstream broker (docs/uplink.md), as its thread last stored it."""

    connected: bool
    backlog: int = Field(description="Events committed, not yet acknowledged upstream.")
    sent_seq: int = Field(description="The last event acknowledged upstream.")
    batches: int = Field(description="Batches acknowledged upstream so far.")
    last_sent_at: float | None = Field(description="When the last one was acknowledged.")


class SystemFigures(BaseModel):
    broker: str
    broker_connected: bool
    started_at: float
    uptime: float
    messages: int
    messages_per_second: float
    store_bytes: int | None
    devices: int
    sensors: int
    store_waiting: int = Field(description="Events waiting in memory for the store.")
    store_dropped: int
    rejected: int
    rejected_by_reason: dict[str, int]
    uplink: UplinkFigures | None = Field(
        default=None, description="The uplink to an upstream broker; None: not configured."
    )


class StateDocument(BaseModel):
    """Everything the live view shows, in one document."""

    state: PanelState
    mode: ArmMode | None
    since: float
    deadline: float | None
    now: float
    triggered_by: list[str]
    code_locked_until: float | None
    sensors: list[SensorDocument]
    blocking: dict[ArmMode, dict[str, str]] = Field(
        description="Per mode, the sensors that block arming and why."
    )
    actuators: list[ActuatorStatus]
    siren_commanded: bool
    system_troubles: dict[SystemPart, float] = Field(
        description="Parts of homeguard itself in trouble (e.g. storage: the event store "
        "cannot write; events wait in memory), with the time each began."
    )
    system: SystemFigures
    walk_test: WalkTestDocument | None = Field(
        default=None, description="The walk test under way (the panel stays disarmed)."
    )
    chime: bool = Field(default=False, description="Whether the door chime is on.")


class EventRow(BaseModel):
    id: str
    timestamp: float
    kind: Literal["sensor", "system"]
    type: str
    device: str | None
    description: str
    alarm: bool
    data: dict[str, Any]


class EventPage(BaseModel):
    total: int
    offset: int
    limit: int
    items: list[EventRow]


class Bucket(BaseModel):
    start: float
    sensor: int
    system: int
    alarms: int


class Chart(BaseModel):
    span: Literal["24h", "30d"]
    bucket: float
    since: float
    until: float
    buckets: list[Bucket]


READ_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "No session, or it expired."},
}
WRITE_ERRORS: dict[int | str, dict[str, Any]] = {
    **READ_ERRORS,
    403: {"model": ErrorBody, "description": "Missing or wrong CSRF token."},
}
COMMAND_ERRORS: dict[int | str, dict[str, Any]] = {
    **WRITE_ERRORS,
    409: {"model": ErrorBody, "description": "Refused by the panel's state."},
    422: {"model": ErrorBody, "description": "Refused code, or a malformed request."},
    503: {"model": ErrorBody, "description": "The controller did not answer."},
}
