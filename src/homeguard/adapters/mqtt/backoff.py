"""Reconnect delays: exponential backoff with jitter."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(slots=True)
class _Backoff:
    """Exponential backoff with jitter: ``minimum`` doubling to ``maximum``, ±``jitter``."""

    minimum: float
    maximum: float
    jitter: float = 0.2
    attempt: int = 0

    def next_delay(self, rng: random.Random) -> float:
        base: float = min(self.maximum, self.minimum * 2.0 ** min(self.attempt, 32))
        self.attempt += 1
        return base * rng.uniform(1 - self.jitter, 1 + self.jitter)

    def reset(self) -> None:
        self.attempt = 0
