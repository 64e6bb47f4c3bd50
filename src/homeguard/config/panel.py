"""Section ``panel``: how the alarm panel behaves, its timings and its lockout."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal, Self

from pydantic import Field, model_validator

from homeguard.config.base import Misplaced, Seconds, Section
from homeguard.config.features import ChimeConfig, LightsConfig, SquawkConfig, WalkTestConfig
from homeguard.core.model import ArmMode, CodePolicy, ModeTiming

_TIMING = ModeTiming()
_CODES = CodePolicy()


class ModeTimingConfig(Section):
    """Seconds of delay and siren for one armed mode."""

    exit_delay: Seconds = Field(
        default=_TIMING.exit_delay, ge=0, description="Seconds to leave after arming."
    )
    entry_delay: Seconds = Field(
        default=_TIMING.entry_delay,
        ge=0,
        description="Seconds to disarm after an entry zone opens.",
    )
    siren_time: Seconds = Field(
        default=_TIMING.siren_time, gt=0, description="Seconds the siren sounds."
    )

    def timing(self) -> ModeTiming:
        return ModeTiming(self.exit_delay, self.entry_delay, self.siren_time)


class LockoutConfig(Section):
    """Wrong-code lockout."""

    max_failures: int = Field(
        default=_CODES.max_failures, ge=1, description="Wrong codes that lock code entry."
    )
    window: Seconds = Field(
        default=_CODES.window, gt=0, description="Seconds within which they are counted."
    )
    duration: Seconds = Field(
        default=_CODES.lockout,
        gt=0,
        description="Seconds of the first lockout; each one that follows doubles, up to "
        "max_duration, until a code that may disarm is used.",
    )
    max_duration: Seconds = Field(
        default=_CODES.max_lockout,
        gt=0,
        description="Seconds a lockout lasts at most, however many came before: a "
        "stranger at the keypad cannot lock the owner out for longer.",
    )

    @model_validator(mode="after")
    def _cap_covers_first(self) -> Self:
        if self.max_duration < self.duration:
            raise Misplaced("must be at least duration", "max_duration")
        return self


class PanelConfig(Section):
    """How the alarm panel behaves."""

    disarm_after_trigger: bool = Field(
        default=False,
        description="After the siren time, disarm instead of returning to the armed mode.",
    )
    code_arm_required: bool = Field(
        default=True, description="Arming needs a valid code (disarming always does)."
    )
    swinger_limit: int = Field(
        default=2,
        ge=1,
        description="Alarms one zone may start in one armed period before it is bypassed.",
    )
    modes: Mapping[ArmMode, ModeTimingConfig] = Field(
        default_factory=dict,
        description="Timings per armed mode; a missing mode or key takes the defaults.",
    )
    lockout: LockoutConfig = Field(default_factory=LockoutConfig, description="Wrong-code lockout.")
    bypass_while_armed: bool = Field(
        default=False,
        description="Let a user with disarm rights bypass a zone while the panel is not "
        "disarmed; off: bypassing is refused until disarmed (lifting a bypass never is).",
    )
    restart_grace: Seconds = Field(
        default=60.0,
        ge=0,
        description="Seconds after the controller starts during which a sensor's offline "
        "(often the retained one from before the start) is not news: a sensor that speaks "
        "again within it raises no trouble and no trip; one that does not is in trouble "
        "when it ends.",
    )
    mqtt_commands: Literal["code", "trusted"] = Field(
        default="code",
        description="Commands on <base>/alarm/set: code (need a code like every other way "
        "in) or trusted (accepted without a code, because the broker's ACL lets only "
        "authorised users publish there; a code that is given is still checked).",
    )
    report_grace: Seconds | None = Field(
        default=120.0,
        gt=0,
        description="Seconds after the controller starts by which every sensor that is not "
        "event_only must have been heard, or it is in trouble (no_report) and blocks "
        "arming without force; null: no such check.",
    )
    # The panel's comforts (homeguard.config.features, docs/panel-features.md).
    chime: ChimeConfig = Field(default_factory=ChimeConfig, description="The door chime.")
    walk_test: WalkTestConfig = Field(
        default_factory=WalkTestConfig, description="The walk test (no alarm, every trip chimes)."
    )
    squawk: SquawkConfig = Field(
        default_factory=SquawkConfig, description="Siren chirps on arming and disarming."
    )
    lights: LightsConfig = Field(
        default_factory=LightsConfig, description="When the panel switches the light on."
    )
