"""Reconnect delays: exponential backoff with jitter.

paho's own backoff has no jitter, so the client picks each delay here and hands it to
paho before paho waits: after a broker restart, a house of devices does not come back
in one burst.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

__all__ = ["Backoff"]


@dataclass(slots=True)
class Backoff:
    """``minimum`` doubling on each attempt up to ``maximum``, each delay ±``jitter``
    (a fraction); `reset` once a connection is accepted."""

    minimum: float
    maximum: float
    jitter: float = 0.2
    attempt: int = 0

    def __post_init__(self) -> None:
        if not 0 < self.minimum <= self.maximum:
            raise ValueError(
                f"reconnect delays must satisfy 0 < minimum <= maximum, "
                f"not {self.minimum!r} and {self.maximum!r}"
            )
        if not 0 <= self.jitter < 1:
            raise ValueError(f"jitter must be a fraction in [0, 1), not {self.jitter!r}")

    def next_delay(self, rng: random.Random) -> float:
        # The exponent is capped: the delay is long at maximum, and 2.0**attempt would
        # overflow after a few days of attempts.
        base: float = min(self.maximum, self.minimum * 2.0 ** min(self.attempt, 32))
        self.attempt += 1
        return base * rng.uniform(1 - self.jitter, 1 + self.jitter)

    def reset(self) -> None:
        self.attempt = 0
