"""Token buckets per device and tallies summarised per interval, on a fake clock."""

from __future__ import annotations

import pytest

from homeguard.core.flood import Budget, FloodPolicy, Tally, spend

POLICY = FloodPolicy(rate=2.0, burst=3, interval=10.0)


def spend_many(budget: Budget | None, times: list[float]) -> tuple[Budget | None, list[bool]]:
    verdicts = []
    for now in times:
        budget, allowed = spend(budget, POLICY, now)
        verdicts.append(allowed)
    return budget, verdicts


def test_a_new_device_has_its_burst_then_the_rate() -> None:
    budget, verdicts = spend_many(None, [0.0] * 5)
    assert verdicts == [True, True, True, False, False]
    _, verdicts = spend_many(budget, [0.5, 0.6, 1.0, 1.0])  # 2 a second come back
    assert verdicts == [True, False, True, False]


def test_the_bucket_never_holds_more_than_the_burst() -> None:
    budget, _ = spend_many(None, [0.0])
    _, verdicts = spend_many(budget, [1000.0] * 4)
    assert verdicts == [True, True, True, False]


def test_a_clock_that_steps_back_refills_nothing() -> None:
    budget, _ = spend_many(None, [100.0] * 3)
    _, verdicts = spend_many(budget, [50.0, 50.0])
    assert verdicts == [False, False]


def test_invalid_policies_are_refused() -> None:
    for bad in ({"rate": 0}, {"burst": 0}, {"interval": 0}):
        with pytest.raises(ValueError, match="invalid flood policy"):
            FloodPolicy(**bad)  # type: ignore[arg-type]


def test_a_tally_counts_per_key_and_summarises_each_interval_once() -> None:
    tally = Tally(10.0)
    assert tally.count("front", "unsigned", 100.0) == 1  # opens front's interval
    assert tally.count("front", "unsigned", 101.0) == 2
    assert tally.count("front", "stale", 102.0, n=3) == 5
    assert tally.count("back", "unsigned", 105.0) == 1
    assert tally.due(109.9) == []
    [front] = tally.due(110.0)
    assert (front.key, front.since, front.until, front.total) == ("front", 100.0, 110.0, 5)
    assert front.counts == {"unsigned": 2, "stale": 3}
    assert tally.count("front", "unsigned", 111.0) == 1  # a new interval
    assert [s.key for s in tally.due(115.0)] == ["back"]
    assert [(s.key, s.total) for s in tally.due(112.0, final=True)] == [("front", 1)]
    assert not tally and tally.due(1e9, final=True) == []
