"""The panel's comforts, in section ``panel``: ``chime``, ``walk_test``, ``squawk`` and
``lights`` (docs/panel-features.md)."""

from __future__ import annotations

from pydantic import Field

from homeguard.config.base import Seconds, Section
from homeguard.core.features import Chirps, Features

_DEFAULT = Features()
_SQUAWK = Chirps()


class ChimeConfig(Section):
    """The door chime: a short chirp of the siren when a door opens while disarmed."""

    enabled: bool = Field(
        default=_DEFAULT.chime,
        description="Chime at start; CHIME_ON / CHIME_OFF on <base>/alarm/set (or the "
        "dashboard) switch it at run time, and that choice outlives restarts.",
    )
    sensors: tuple[str, ...] | None = Field(
        default=None,
        description="Ids of the sensors that chime; none: every sensor of an entry zone.",
    )
    chirp: Seconds = Field(
        default=_DEFAULT.chime_chirp.length,
        gt=0,
        le=5,
        description="Seconds the siren sounds for one chime (also a walk test's trip).",
    )


class WalkTestConfig(Section):
    """The walk test: every trip recorded and chimed, no alarm."""

    timeout: Seconds = Field(
        default=_DEFAULT.walk_test_timeout,
        gt=0,
        le=86400,
        description="Seconds after which a walk test ends by itself.",
    )


class SquawkConfig(Section):
    """Short siren chirps that confirm arming and disarming (0: none, the default)."""

    arm: int = Field(default=0, ge=0, le=5, description="Chirps when arming is accepted.")
    disarm: int = Field(default=0, ge=0, le=5, description="Chirps on a disarm.")
    chirp: Seconds = Field(default=_SQUAWK.length, gt=0, le=2, description="Seconds of one chirp.")
    gap: Seconds = Field(default=_SQUAWK.gap, gt=0, le=5, description="Seconds between chirps.")


class LightsConfig(Section):
    """When the panel itself switches the light on."""

    entry_delay: bool = Field(
        default=_DEFAULT.light_entry_delay,
        description="On during the entry delay (pending): whoever comes in sees the keypad.",
    )
    alarm: bool = Field(default=_DEFAULT.light_alarm, description="On while the alarm sounds.")


def features(
    chime: ChimeConfig, walk: WalkTestConfig, squawk: SquawkConfig, lights: LightsConfig
) -> Features:
    """The engine's view of these sections."""
    return Features(
        chime=chime.enabled,
        chime_sensors=None if chime.sensors is None else frozenset(chime.sensors),
        chime_chirp=Chirps(1, chime.chirp),
        walk_test_timeout=walk.timeout,
        squawk_arm=Chirps(squawk.arm, squawk.chirp, squawk.gap),
        squawk_disarm=Chirps(squawk.disarm, squawk.chirp, squawk.gap),
        light_entry_delay=lights.entry_delay,
        light_alarm=lights.alarm,
    )
