"""The stepping clock notices the wall clock being set, from fake clocks: this machine's
clock is never touched."""

from __future__ import annotations

import threading

import pytest

from homeguard.adapters.clock import STEP_THRESHOLD, SteppingClock, elapsed_clock, wall_clock


class Clocks:
    """A wall clock that can be set and an elapsed clock that only runs."""

    def __init__(self) -> None:
        self.wall = 1_000_000.0
        self.elapsed = 50.0

    def run(self, seconds: float) -> None:
        self.wall += seconds
        self.elapsed += seconds

    def clock(self) -> SteppingClock:
        return SteppingClock(wall=lambda: self.wall, elapsed=lambda: self.elapsed)


def test_it_follows_the_wall_clock_and_reports_a_step_forward() -> None:
    clocks = Clocks()
    clock = clocks.clock()
    assert clock() == 1_000_000.0
    clocks.run(10)
    assert clock() == 1_000_010.0 and clock.take_step() == 0.0
    clocks.wall += 3600  # NTP sets the clock
    clocks.run(1)
    assert clock() == 1_003_611.0  # records get the corrected time
    assert clock.take_step() == pytest.approx(3600.0)
    assert clock.take_step() == 0.0  # reported once
    clocks.run(5)
    assert clock() == 1_003_616.0 and clock.take_step() == 0.0


def test_a_step_backwards_is_negative() -> None:
    clocks = Clocks()
    clock = clocks.clock()
    clock()
    clocks.wall -= 7200
    assert clock() == 1_000_000.0 - 7200
    assert clock.take_step() == pytest.approx(-7200.0)


def test_steps_add_up_until_taken_and_drift_is_no_step() -> None:
    clocks = Clocks()
    clock = clocks.clock()
    clock()
    for _ in range(100):  # a slewing clock: 1 s late over the lot, in small bits
        clocks.run(1)
        clocks.wall -= 0.01
        clock()
    assert clock.take_step() == 0.0
    clocks.wall += 30
    clock()
    clocks.wall -= 10
    clock()
    assert clock.take_step() == pytest.approx(20.0)


def test_a_difference_within_the_threshold_is_no_step() -> None:
    clocks = Clocks()
    clock = clocks.clock()
    clock()
    clocks.wall += STEP_THRESHOLD * 0.9
    clock()
    assert clock.take_step() == 0.0
    with pytest.raises(ValueError, match="threshold"):
        SteppingClock(threshold=0)


def test_readers_on_several_threads_see_one_step() -> None:
    clocks = Clocks()
    clock = clocks.clock()
    clock()
    clocks.wall += 600
    threads = [threading.Thread(target=clock) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert clock.take_step() == pytest.approx(600.0)


def test_the_real_clocks_run_together() -> None:
    clock = SteppingClock()
    first = clock()
    assert abs(first - wall_clock()) < 1.0
    assert elapsed_clock() <= elapsed_clock()
    clock()
    assert clock.take_step() == 0.0
