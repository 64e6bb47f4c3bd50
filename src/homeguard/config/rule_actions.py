"""What a rule does: the actions of the ``rules`` section (homeguard.config.rules)."""

from __future__ import annotations

from typing import Self

from pydantic import Field, model_validator

from homeguard.config.base import Misplaced, Seconds, Section, TopicName
from homeguard.core.model import ArmMode
from homeguard.core.rulebook import (
    ArmPanel,
    DisarmPanel,
    HoldActuatorFor,
    NotifyRoute,
    PublishMessage,
    RaiseAlarm,
    RuleAction,
)
from homeguard.core.signals import ActuatorKind


class HoldConfig(Section):
    """Hold the siren or the light on or off for a time."""

    actuator: ActuatorKind = Field(description="siren or light.")
    state: bool = Field(default=True, description="on (default) or off.")
    seconds: Seconds = Field(gt=0, description="For how long.")


class NotifyConfig(Section):
    """Send a message through one notification route."""

    route: str = Field(min_length=1, description="The route's name (notifications section).")
    message: str = Field(min_length=1, description="The text sent.")


class PublishConfig(Section):
    """Publish an MQTT message (not on a topic the panel takes input from)."""

    topic: TopicName = Field(description="Exact topic.")
    payload: str = Field(default="", description="The payload, as text.")
    qos: int = Field(default=1, ge=0, le=2, description="0, 1 or 2.")
    retain: bool = Field(default=False, description="Retained by the broker.")


class ActionConfig(Section):
    """One action: exactly one of alarm, arm, disarm, hold, notify, publish."""

    alarm: bool | None = Field(default=None, description="true: trigger the alarm at once.")
    arm: ArmMode | None = Field(default=None, description="Arm this mode (no code asked).")
    force: bool = Field(default=False, description="With arm: bypass open sensors.")
    disarm: bool | None = Field(default=None, description="true: disarm.")
    hold: HoldConfig | None = Field(default=None, description="Siren or light for a time.")
    notify: NotifyConfig | None = Field(default=None, description="A notification route.")
    publish: PublishConfig | None = Field(default=None, description="An MQTT message.")

    @model_validator(mode="after")
    def _one(self) -> Self:
        keys = ("alarm", "arm", "disarm", "hold", "notify", "publish")
        given = [k for k in keys if getattr(self, k) not in (None, False)]
        if len(given) != 1:
            raise ValueError(f"give exactly one action of {', '.join(keys)}")
        if self.force and self.arm is None:
            raise Misplaced("force goes with arm", "force")
        return self

    def action(self) -> RuleAction:
        if self.arm is not None:
            return ArmPanel(self.arm, self.force)
        if self.hold is not None:
            return HoldActuatorFor(self.hold.actuator, self.hold.state, self.hold.seconds)
        if self.notify is not None:
            return NotifyRoute(self.notify.route, self.notify.message)
        if self.publish is not None:
            p = self.publish
            return PublishMessage(p.topic, p.payload, p.qos, p.retain)
        return RaiseAlarm() if self.alarm else DisarmPanel()
