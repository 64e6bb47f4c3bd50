"""Properties of the panel over random sequences of inputs and time steps."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from homeguard.core import snapshot
from homeguard.core.model import Action, PanelState, SensorState
from homeguard.core.panel import RejectReason, handle, resume
from homeguard.core.signals import (
    ActuatorKind,
    ActuatorRequest,
    Availability,
    BypassRequest,
    Command,
    HoldActuator,
    Input,
    SensorReport,
    Tick,
)
from tests.core.harness import PINS, SENSORS, House

SENSOR_IDS = [s.id for s in SENSORS]
MAX_HOLD = 100.0
CODES = st.sampled_from([*PINS.values(), "0000", "", None])

inputs: st.SearchStrategy[Input] = st.one_of(
    st.builds(
        SensorReport,
        st.sampled_from(SENSOR_IDS),
        st.one_of(st.none(), st.sampled_from(SensorState)),
    ),
    st.builds(Command, st.sampled_from(Action), CODES, st.booleans()),
    st.builds(Availability, st.sampled_from(SENSOR_IDS), st.booleans()),
    st.builds(BypassRequest, st.sampled_from(SENSOR_IDS), st.booleans(), CODES),
    # Only OFF: switching ON by hand sounds the siren outside an alarm, on purpose.
    st.builds(ActuatorRequest, st.sampled_from(ActuatorKind), st.just(False), CODES),
    st.builds(
        HoldActuator,
        st.sampled_from(ActuatorKind),
        st.booleans(),
        st.floats(min_value=0, max_value=MAX_HOLD),
    ),
    st.just(Tick()),
)
steps = st.lists(
    st.tuples(st.floats(min_value=0, max_value=400, allow_nan=False), inputs), max_size=40
)


def held_on(house: House, kind: ActuatorKind) -> bool:
    """A hold (core.holds) keeps ``kind`` on now, and for no longer than any asks."""
    held = house.panel.holds.get(kind, ())
    assert all(house.now < step.until <= house.now + MAX_HOLD for step in held)
    return bool(held) and held[0].on


def check_actuators(house: House) -> None:
    triggered = house.state is PanelState.TRIGGERED
    assert house.siren == (triggered or held_on(house, ActuatorKind.SIREN))
    alarm_light = triggered or house.state is PanelState.PENDING  # and the entry delay
    assert house.light == (alarm_light or held_on(house, ActuatorKind.LIGHT))


@given(steps)
@settings(max_examples=300, deadline=None)
def test_siren_is_on_exactly_while_triggered_or_held(sequence: list[tuple[float, Input]]) -> None:
    """The siren sounds exactly while the alarm does or a hold (a rule's, a walk test's
    chime) keeps it on; the light as well, and during the entry delay."""
    house = House()
    for delay, event in sequence:
        house.at(delay)
        check_actuators(house)
        house.send(event)
        check_actuators(house)
    house.at(MAX_HOLD + 1)  # every hold is over
    check_actuators(house)
    assert house.siren == (house.state is PanelState.TRIGGERED)


@given(steps, st.sampled_from([PINS["alice"], PINS["guest"], PINS["coerced"]]))
@settings(max_examples=300, deadline=None)
def test_a_valid_disarm_always_ends_disarmed(
    sequence: list[tuple[float, Input]], code: str
) -> None:
    house = House()
    for delay, event in sequence:
        house.at(delay)
        house.send(event)
    locked = house.panel.code_lock.locked(house.now)
    before = house.panel
    out = house.cmd("DISARM", code)
    if locked:
        assert out.rejection is not None and out.rejection.reason is RejectReason.LOCKED_OUT
        assert house.state is before.state
        house.at(before.code_lock.locked_until - house.now)
        out = house.cmd("DISARM", code)
    assert out.rejection is None
    assert house.state is PanelState.DISARMED and not house.siren


@given(steps, st.integers(min_value=0, max_value=40))
@settings(max_examples=300, deadline=None)
def test_a_snapshot_restores_to_the_same_behaviour(
    sequence: list[tuple[float, Input]], cut: int
) -> None:
    house = House()
    for delay, event in sequence[:cut]:
        house.at(delay)
        house.send(event)
    restored = snapshot.load(snapshot.dump(house.panel), house.settings)
    assert restored == house.panel
    twin = replace(house, effects=[])
    twin.panel = restored
    house.effects.clear()
    for delay, event in sequence[cut:]:
        house.at(delay)
        house.send(event)
        twin.at(delay)
        twin.send(event)
    assert twin.effects == house.effects
    assert twin.panel == house.panel


@given(steps, st.floats(min_value=0, max_value=10_000, allow_nan=False))
@settings(max_examples=200, deadline=None)
def test_resume_after_any_downtime_runs_the_missed_timers(
    sequence: list[tuple[float, Input]], downtime: float
) -> None:
    """A panel restored after ``downtime`` ends where one left running would, as far as
    the panel's own timers go (exit, entry, siren). Sensor supervision is left out on
    purpose: a restart gives every sensor a fresh start (``restart_grace``; see
    tests/core/test_restart_grace.py), where a panel left running would have found a
    silent sensor in trouble."""
    house = House()
    house.settings = replace(
        house.settings,
        sensors=tuple(
            replace(spec, supervision=None, trigger_unavailable=False)
            for spec in house.settings.sensors
        ),
    )
    for delay, event in sequence:
        house.at(delay)
        house.send(event)
    stored = snapshot.load(snapshot.dump(house.panel), house.settings)
    later = house.now + downtime
    resumed = resume(stored, house.settings, later).panel
    ran = handle(house.panel, house.settings, Tick(), later).panel
    assert resumed.state is ran.state
    assert resumed.deadline == ran.deadline


# Codes that may not disarm: bob's (arm only), wrong ones, none.
NOT_DISARMING = st.sampled_from([PINS["bob"], "0000", "5678", "", None])
attempts: st.SearchStrategy[Input] = st.one_of(
    st.builds(Command, st.sampled_from(Action), NOT_DISARMING, st.booleans()),
    st.builds(BypassRequest, st.sampled_from(SENSOR_IDS), st.booleans(), NOT_DISARMING),
    st.builds(ActuatorRequest, st.sampled_from(ActuatorKind), st.booleans(), NOT_DISARMING),
)


@given(st.lists(st.tuples(st.floats(min_value=0, max_value=5), attempts), max_size=40))
@settings(max_examples=300, deadline=None)
def test_without_a_code_that_may_disarm_an_alarm_goes_on(
    sequence: list[tuple[float, Input]],
) -> None:
    house = House()
    house.cmd("ARM_HOME", PINS["alice"])
    house.sensor("living", "OPEN")
    assert house.state is PanelState.TRIGGERED
    for delay, event in sequence:  # 200 s at most: within the siren time
        house.at(delay)
        house.send(event)
        assert house.state is PanelState.TRIGGERED and house.siren
        assert not house.panel.bypassed


@given(st.lists(st.tuples(st.floats(min_value=0, max_value=4), attempts), max_size=60))
@settings(max_examples=300, deadline=None)
def test_at_most_max_failures_codes_are_tried_per_lockout(
    sequence: list[tuple[float, Input]],
) -> None:
    """However a known arm-only code is mixed in, every max_failures codes that are not
    valid for their action (within the window: 240 s here) bring a lockout."""
    house = House()
    house.cmd("ARM_HOME", PINS["alice"])
    limit = house.settings.codes.max_failures
    failed = 0
    for delay, event in sequence:
        house.at(delay)
        out = house.send(event)
        if out.rejection is not None and out.rejection.reason in (
            RejectReason.INVALID_CODE,
            RejectReason.NOT_AUTHORIZED,
        ):
            failed += 1
        lock = house.panel.code_lock
        assert failed == len(lock.failures) + limit * lock.lockouts
        assert len(lock.failures) < limit
