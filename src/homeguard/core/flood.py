"""Per-device message budgets, and counts summarised once per interval.

A device may send ``rate`` messages a second on average and ``burst`` at once: a token
bucket per device (:func:`spend`). What it sends beyond that is *surplus*, which the
controller still hands to the panel (a state change is never lost) but does not store
one row per message: it is counted, and a :class:`Tally` turns the counts into one
summary per device and interval. Pure: time is always an argument.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class FloodPolicy:
    """How much a device may send, and how often its surplus is summarised."""

    rate: float = 5.0  # messages per second, sustained
    burst: int = 200  # messages at once, on top
    interval: float = 60.0  # seconds summarised by one event

    def __post_init__(self) -> None:
        if self.rate <= 0 or self.burst < 1 or self.interval <= 0:
            raise ValueError(f"invalid flood policy {self}")


@dataclass(frozen=True, slots=True)
class Budget:
    """What is left of one device's bucket at ``at``."""

    tokens: float
    at: float


def spend(budget: Budget | None, policy: FloodPolicy, now: float) -> tuple[Budget, bool]:
    """Take one message from the bucket: the new budget, and whether it was in budget.

    A device never heard from has a full bucket; a clock that steps back refills nothing.
    """
    if budget is None:
        tokens = float(policy.burst)
    else:
        tokens = min(policy.burst, budget.tokens + max(0.0, now - budget.at) * policy.rate)
    if tokens >= 1.0:
        return Budget(tokens - 1.0, now), True
    return Budget(tokens, now), False


@dataclass(frozen=True, slots=True)
class Summary:
    """What one key counted during one interval, by detail (a reason, a kind)."""

    key: str
    since: float
    until: float
    counts: Counter[str]

    @property
    def total(self) -> int:
        return sum(self.counts.values())


@dataclass(slots=True)
class _Open:
    since: float
    counts: Counter[str] = field(default_factory=Counter)
    total: int = 0


class Tally:
    """Counts per key; each key's interval starts with its first count and is summarised
    by :meth:`due` once ``interval`` seconds have passed. The next count opens a new one.
    """

    def __init__(self, interval: float) -> None:
        if interval <= 0:
            raise ValueError("interval must be positive")
        self._interval = interval
        self._open: dict[str, _Open] = {}

    def count(self, key: str, detail: str, now: float, n: int = 1) -> int:
        """Count ``n`` of ``detail`` for ``key``; how many ``key`` has counted in its
        interval so far, these included (1: this opened it; the caller may report the
        first few at once)."""
        current = self._open.get(key)
        if current is None:
            current = self._open[key] = _Open(now)
        current.counts[detail] += n
        current.total += n
        return current.total

    def due(self, now: float, *, final: bool = False) -> list[Summary]:
        """The intervals that have ended by ``now`` (all of them when ``final``), each
        summarised once and closed."""
        ended = [
            key
            for key, current in self._open.items()
            if final or now - current.since >= self._interval
        ]
        summaries = []
        for key in ended:
            current = self._open.pop(key)
            summaries.append(Summary(key, current.since, now, current.counts))
        return summaries

    def __bool__(self) -> bool:
        return bool(self._open)


__all__ = ["Budget", "FloodPolicy", "Summary", "Tally", "spend"]
