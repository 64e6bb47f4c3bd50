"""The panel's comforts, as settings: the door chime, the walk test, the arm/disarm
squawk and the lights of an entry delay or an alarm. Their logic: core.holds (timed
siren and light), core.chime (chime, squawk), core.walk_test."""

from __future__ import annotations

import math
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Chirps:
    """``count`` short siren chirps of ``length`` s, ``gap`` s apart; 0: none."""

    count: int = 0
    length: float = 0.15
    gap: float = 0.25

    def __post_init__(self) -> None:
        if self.count < 0 or not (math.isfinite(self.length) and self.length > 0):
            raise ValueError("chirps need a count >= 0 and a positive length")
        if not (math.isfinite(self.gap) and self.gap > 0):
            raise ValueError("the gap between chirps must be positive")

    def steps(self) -> tuple[tuple[bool, float], ...]:
        """The siren's (on, seconds) steps: on, off, on ... ending on."""
        steps: list[tuple[bool, float]] = []
        for index in range(self.count):
            if index:
                steps.append((False, self.gap))
            steps.append((True, self.length))
        return tuple(steps)


@dataclass(frozen=True, slots=True)
class Features:
    """What the panel does besides guarding (see docs/panel-features.md)."""

    # The door chime while disarmed: on at start (a user may switch it at run time),
    # the sensors that chime (None: every sensor of an entry zone) and its chirp.
    chime: bool = False
    chime_sensors: frozenset[str] | None = None
    chime_chirp: Chirps = field(default_factory=lambda: Chirps(1, 0.3))
    # A walk test ends by itself after this many seconds.
    walk_test_timeout: float = 1800.0
    # Chirps when arming is accepted and on a disarm.
    squawk_arm: Chirps = field(default_factory=Chirps)
    squawk_disarm: Chirps = field(default_factory=Chirps)
    # The light is on during the entry delay (pending), and while the alarm sounds.
    light_entry_delay: bool = True
    light_alarm: bool = True

    def __post_init__(self) -> None:
        if not (math.isfinite(self.walk_test_timeout) and self.walk_test_timeout > 0):
            raise ValueError("walk_test_timeout must be positive")
