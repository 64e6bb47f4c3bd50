"""Sensor health on crafted histories: each rule fires on its fault and not on a
healthy device."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from homeguard.core.health import (
    DAY,
    Health,
    Report,
    ReportHistory,
    Track,
    _Span,
    assess,
    assess_all,
    report_of,
    report_row,
)
from homeguard.core.records import SensorRecord

T0 = 1_767_225_600.0
BEAT = 600.0


def heartbeats(
    days: float,
    *,
    battery: float = 90.0,
    drain_per_day: float = 0.05,
    delay: float = 0.3,
    link: float | None = 150.0,
    seed: int = 0,
) -> list[Report]:
    """A healthy device: a report every ten minutes, a slowly draining battery whose
    readings wobble, a short link delay."""
    rng = random.Random(seed)
    out = []
    t = T0
    while t < T0 + days * DAY:
        level = battery - drain_per_day * (t - T0) / DAY + rng.gauss(0, 0.4)
        out.append(Report(t + delay + rng.expovariate(10), "CLOSED", t, round(level), link))
        t += BEAT * rng.uniform(0.95, 1.05)
    return out


def test_a_healthy_device_stays_healthy_day_after_day() -> None:
    history = heartbeats(14)
    for day in range(3, 14):
        health = assess("front", history, T0 + day * DAY)
        assert health.state is Health.OK, health.reason
        assert health.reason == "healthy"
        assert health.days_to_empty is None  # no fall larger than the wobble


def test_a_declining_battery_is_caught_with_a_sane_estimate_of_days_left() -> None:
    # Healthy for a week, then 60% -> 5% in 10 days: a straight fall of 5.5 points a day.
    history = heartbeats(7, battery=60.0, drain_per_day=0.0)
    t = T0 + 7 * DAY
    rng = random.Random(1)
    while t < T0 + 17 * DAY:
        level = 60.0 - 5.5 * (t - T0 - 7 * DAY) / DAY + rng.gauss(0, 0.4)
        history.append(Report(t + 0.3, "CLOSED", t, round(level), 150.0))
        t += BEAT
    now = T0 + 11 * DAY  # four days into the fall: 38% left, 6 days to go to 5%
    health = assess("front", history, now)
    assert health.state is Health.SERVICE
    assert "battery" in health.reason and "empty in" in health.reason
    assert health.days_to_empty is not None
    assert 4.0 <= health.days_to_empty <= 8.0
    assert assess("front", history, T0 + 17 * DAY - 60).state in {Health.SERVICE, Health.FAILED}


def test_a_low_battery_needs_service_and_an_empty_one_has_failed() -> None:
    assert assess("x", heartbeats(3, battery=15, drain_per_day=0), T0 + 3 * DAY).state is (
        Health.SERVICE
    )
    empty = assess("x", heartbeats(3, battery=4, drain_per_day=0), T0 + 3 * DAY)
    assert empty.state is Health.FAILED and "empty" in empty.reason


def test_a_chattering_contact_is_caught_within_the_hour_and_normal_use_is_not() -> None:
    history = heartbeats(3)
    t = T0 + 3 * DAY - 1800
    # Someone going out and back in: four changes within half a minute is normal.
    for step, state in enumerate(["OPEN", "CLOSED", "OPEN", "CLOSED"]):
        history.append(Report(t + 8 * step, state, t + 8 * step))
    history.sort(key=lambda r: r.ts)
    assert assess("front", history, T0 + 3 * DAY).state is Health.OK
    t = T0 + 3 * DAY + 600
    for step in range(12):  # a reed switch flapping: twelve changes in twenty seconds
        state = "OPEN" if step % 2 == 0 else "CLOSED"
        history.append(Report(t + 1.7 * step, state, t + 1.7 * step))
    health = assess("front", history, t + 1800)
    assert health.state is Health.SERVICE
    assert "chattering" in health.reason


def test_a_silent_device_fails_after_a_few_missed_reports() -> None:
    history = heartbeats(3)
    last = history[-1].ts
    assert assess("front", history, last + 1.5 * BEAT).state is Health.OK
    health = assess("front", history, last + 3.5 * BEAT)
    assert health.state is Health.FAILED
    assert "silent for" in health.reason
    assert health.interval is not None and 500 <= health.interval <= 700
    days_later = assess("front", history, last + 2 * DAY)
    assert days_later.state is Health.FAILED and "silent for 48 h" in days_later.reason


def test_a_device_that_speaks_only_when_used_is_never_called_silent() -> None:
    rng = random.Random(3)
    t, history = T0, []
    while t < T0 + 3 * DAY:
        t += rng.expovariate(1 / 1800.0)
        history.append(Report(t, "OPEN" if len(history) % 2 else "CLOSED", t, 90.0))
    assert assess("front", history, history[-1].ts + 12 * 3600).state is Health.OK


def test_growing_report_delay_is_caught() -> None:
    history = heartbeats(5)
    t = history[-1].sent or 0.0
    delay = 0.3
    while t < T0 + 7 * DAY:
        t += BEAT
        delay *= 1.02  # doubling every six hours
        history.append(Report(t + delay, "CLOSED", t, 90, 150.0))
    health = assess("front", history, T0 + 7 * DAY)
    assert health.state is Health.SERVICE
    assert "late" in health.reason


def test_a_weak_link_is_worth_watching() -> None:
    health = assess("front", heartbeats(3, link=12.0), T0 + 3 * DAY)
    assert health.state is Health.WATCH
    assert "weak link" in health.reason


def test_a_device_never_heard_is_watched_and_the_future_is_ignored() -> None:
    assert assess("front", [], T0).state is Health.WATCH
    history = heartbeats(3)
    assert assess("front", history, T0 - 1).reason == "never reported"


def test_all_devices_are_assessed_or_only_those_that_reported() -> None:
    records = [
        SensorRecord(T0, "door", "front", "OPEN", {"battery": 3}),
        SensorRecord(T0, "door", "stranger", "OPEN", {}),  # not one of ours
    ]
    rows = [report_row(r) for r in records]
    every = assess_all(["front", "back"], rows, T0 + 60)
    assert [(h.device_id, h.state, h.reason) for h in every] == [
        ("front", Health.FAILED, "battery empty (3%)"),
        ("back", Health.WATCH, "never reported"),
    ]
    assert assess_all(["front", "back"], rows, T0 + 60, reported_only=True) == every[:1]


@pytest.mark.parametrize(
    ("metadata", "expected"),
    [
        ({"ts": 10.0, "battery": 80, "linkquality": 120}, (10.0, 80.0, 120.0)),
        ({"battery": True, "ts": "soon"}, (None, None, None)),
        (None, (None, None, None)),
    ],
)
def test_reports_take_only_numbers_from_the_metadata(
    metadata: dict[str, object] | None, expected: tuple[float | None, ...]
) -> None:
    report = report_of(SensorRecord(11.0, "door", "front", "OPEN", metadata))
    assert (report.sent, report.battery, report.link) == expected


_TIMES = st.sampled_from([0.0, 1.0, 1.5, 2.0, 3.0])


@given(
    times=st.lists(_TIMES, max_size=12),
    bounds=st.tuples(st.integers(0, 12), st.integers(0, 12)),
    start=_TIMES,
    until=st.none() | _TIMES,
    battery=st.none() | st.floats(0, 100),
)
def test_a_time_window_holds_the_reports_from_its_start_to_before_its_end(
    times: list[float],
    bounds: tuple[int, int],
    start: float,
    until: float | None,
    battery: float | None,
) -> None:
    """Within the reports an assessment reads (numbered [first, end)), found with
    bisect over the times alone: those at the same time as an end included as such."""
    track = Track.of(Report(t, "OPEN", None, battery, None) for t in sorted(times))
    first, end = min(bounds[0], len(times)), min(max(bounds), len(times))
    window = _Span(track, first, end).since(start, until)
    assert list(window) == [
        i
        for i in range(first, end)
        if start <= track.ts[i] and (until is None or track.ts[i] < until)
    ]


@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_reports_added_a_few_at_a_time_are_assessed_as_all_at_once(data: st.DataObject) -> None:
    """What a reader that keeps its reports (services.health.HealthReader) assesses:
    the reports in turns, some stored late (after newer ones), the oldest dropped as
    the span moves on, give what all of them at once give."""
    draining = heartbeats(9, battery=40.0, drain_per_day=4.0, seed=1)
    rows = sorted(
        [("front", *r) for r in heartbeats(9)] + [("back", *r) for r in draining],
        key=lambda row: row[1],
    )
    now = T0 + 9 * DAY
    turns = 4
    cuts = sorted(data.draw(st.lists(st.integers(0, len(rows)), min_size=turns - 1, max_size=3)))
    turn = [sum(i >= cut for cut in cuts) for i in range(len(rows))]
    for i in data.draw(st.sets(st.integers(0, len(rows) - 1), max_size=20)):
        turn[i] = data.draw(st.integers(turn[i], turns - 1))  # stored late
    history = ReportHistory(["front", "back", "lid"])
    dropped = T0
    for t in range(turns):
        history.add(row for row, at in zip(rows, turn, strict=True) if at == t)
        dropped = max(dropped, data.draw(st.floats(T0, now - 8 * DAY)))
        history.drop_before(dropped)
    assert history.assess(now) == assess_all(["front", "back", "lid"], rows, now)
    assert history.count == sum(row[1] >= dropped for row in rows)
    assert any(h.state is not Health.OK for h in history.assess(now, reported_only=True))
