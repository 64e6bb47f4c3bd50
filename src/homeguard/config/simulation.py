"""Section ``simulation``: the simulated house."""

from __future__ import annotations

from pydantic import Field, field_validator

from homeguard.config.base import Seconds, Section


class SimulationConfig(Section):
    """The simulated house: how often its sensors talk and change."""

    enabled: bool = Field(default=True, description="Run the simulated sensors.")
    heartbeat: Seconds = Field(
        default=20.0, gt=0, description="Seconds between heartbeats of each sensor."
    )
    door_interval: Seconds = Field(
        default=3.0, gt=0, description="Seconds between chances of a door or window change."
    )
    door_change_probability: float = Field(
        default=0.3, ge=0, le=1, description="Chance of a change at each door interval."
    )
    motion_interval: Seconds = Field(
        default=2.0, gt=0, description="Seconds between chances of motion."
    )
    motion_probability: float = Field(
        default=0.2, ge=0, le=1, description="Chance of motion at each motion interval."
    )
    motion_duration: tuple[Seconds, Seconds] = Field(
        default=(5.0, 15.0),
        description="Shortest and longest seconds a motion lasts, as [min, max].",
    )

    @field_validator("motion_duration")
    @classmethod
    def _ordered(cls, span: tuple[float, float]) -> tuple[float, float]:
        if not 0 <= span[0] <= span[1]:
            raise ValueError("must be [min, max] with 0 <= min <= max")
        return span
