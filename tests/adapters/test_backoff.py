"""Reconnect delays, without a broker."""

from __future__ import annotations

import random

import pytest

from homeguard.adapters.mqtt.backoff import Backoff


def test_reconnect_delays_double_with_jitter_up_to_the_maximum() -> None:
    backoff = Backoff(minimum=0.5, maximum=30.0)
    rng = random.Random(7)
    delays = [backoff.next_delay(rng) for _ in range(10)]

    bases = [0.5, 1, 2, 4, 8, 16, 30, 30, 30, 30]
    for delay, base in zip(delays, bases, strict=True):
        assert 0.8 * base <= delay <= 1.2 * base
    assert len({round(d / b, 6) for d, b in zip(delays, bases, strict=True)}) > 1  # jittered
    backoff.reset()
    assert backoff.next_delay(rng) <= 0.6


def test_without_jitter_the_delays_are_exact() -> None:
    backoff = Backoff(minimum=0.25, maximum=1.0, jitter=0.0)
    rng = random.Random(1)

    assert [backoff.next_delay(rng) for _ in range(5)] == [0.25, 0.5, 1.0, 1.0, 1.0]


def test_days_of_attempts_stay_at_the_maximum() -> None:
    backoff = Backoff(minimum=0.5, maximum=30.0, jitter=0.0)
    rng = random.Random(2)
    for _ in range(10_000):  # 2.0 ** 10_000 would overflow
        backoff.next_delay(rng)

    assert backoff.next_delay(rng) == 30.0


@pytest.mark.parametrize(
    ("minimum", "maximum", "jitter"),
    [(0.0, 30.0, 0.2), (-1.0, 30.0, 0.2), (5.0, 1.0, 0.2), (0.5, 30.0, 1.0), (0.5, 30.0, -0.1)],
)
def test_delays_that_would_spin_or_never_grow_are_refused(
    minimum: float, maximum: float, jitter: float
) -> None:
    with pytest.raises(ValueError, match=r"minimum|jitter"):
        Backoff(minimum, maximum, jitter)
