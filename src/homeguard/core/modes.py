"""The panel's states and armed modes (also :mod:`homeguard.core.model`'s): light to
import, so that the command line and its ``--api`` form, which need their names, start
without the rest of the model (its rule book and settings: 14 ms of the 76 that importing
``homeguard.cli.api`` took, docs/performance.md)."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["ArmMode", "PanelState"]


class PanelState(StrEnum):
    """What the panel shows, named as Home Assistant names alarm states."""

    DISARMED = "disarmed"
    ARMING = "arming"
    ARMED_AWAY = "armed_away"
    ARMED_HOME = "armed_home"
    ARMED_NIGHT = "armed_night"
    ARMED_VACATION = "armed_vacation"
    PENDING = "pending"
    TRIGGERED = "triggered"


class ArmMode(StrEnum):
    """An armed mode; its value is the panel state it ends in."""

    AWAY = "armed_away"
    HOME = "armed_home"
    NIGHT = "armed_night"
    VACATION = "armed_vacation"

    @property
    def state(self) -> PanelState:
        return PanelState(self.value)
