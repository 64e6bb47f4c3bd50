"""The wall clock set under a running panel (NTP, ``date -s``): every timer keeps the
time it had left, forwards and backwards (core.panel.shift_times)."""

from __future__ import annotations

import dataclasses
import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from homeguard.core.codes import CodeLock
from homeguard.core.model import PanelState
from homeguard.core.panel import Panel, RejectReason, SensorStatus, Trouble, shift_times
from homeguard.core.signals import (
    ActuatorKind,
    ClockStep,
    EventKind,
    HoldActuator,
    Input,
    SystemHealth,
    SystemPart,
)
from homeguard.core.state import Hold, WalkTest
from tests.core.harness import PINS, House
from tests.core.test_properties import inputs

HOUR = 3600.0


def step(house: House, delta: float) -> None:
    """The clock is set by ``delta``: the controller reads the new time and says so."""
    house.now += delta
    house.send(ClockStep(delta))


def armed_away(house: House) -> House:
    house.cmd("ARM_AWAY", PINS["alice"])
    return house.at(61)


@pytest.mark.parametrize("delta", [HOUR, -HOUR])
def test_entry_delay_keeps_its_remaining_time(delta: float) -> None:
    house = armed_away(House())
    house.sensor("front", "OPEN")  # 30 s of entry delay
    house.at(20)
    step(house, delta)
    assert house.state is PanelState.PENDING and not house.siren
    house.at(9.5)
    assert house.state is PanelState.PENDING
    house.at(1)
    assert house.state is PanelState.TRIGGERED and house.siren


@pytest.mark.parametrize("delta", [HOUR, -HOUR])
def test_siren_keeps_its_remaining_time(delta: float) -> None:
    house = armed_away(House())
    house.sensor("living", "OPEN")  # instant: 300 s of siren
    house.at(200)
    step(house, delta)
    assert house.siren and house.state is PanelState.TRIGGERED
    house.at(99)
    assert house.siren
    house.at(2)
    assert not house.siren and house.state is PanelState.ARMED_AWAY


def test_exit_delay_keeps_its_remaining_time() -> None:
    house = House()
    house.cmd("ARM_AWAY", PINS["alice"])  # 60 s of exit delay
    house.at(50)
    step(house, HOUR)
    assert house.state is PanelState.ARMING
    house.at(11)
    assert house.state is PanelState.ARMED_AWAY


@pytest.mark.parametrize("delta", [HOUR, -HOUR])
def test_supervised_sensor_heard_recently_stays_in_no_trouble(delta: float) -> None:
    house = House()
    house.sensor("shed", "CLOSED")  # supervision 60 s
    house.at(30)
    step(house, delta)
    house.at(29)
    assert house.panel.sensor("shed").trouble is None
    assert not house.events(EventKind.TROUBLE)
    house.at(2)  # 61 s of real silence: now it is
    assert house.panel.sensor("shed").trouble is Trouble.SUPERVISION


def test_unavailability_debounce_keeps_its_remaining_time() -> None:
    house = House()
    house.sensor("shed", "CLOSED")
    armed_away(house)  # the shed is silent: in trouble at 60 s, trips 20 s later
    assert house.panel.sensor("shed").trouble is Trouble.SUPERVISION
    house.at(10)  # 9 s of debounce left
    step(house, HOUR)
    house.at(8)
    assert house.state is PanelState.ARMED_AWAY
    house.at(2)
    assert house.state is PanelState.PENDING  # an entry zone: its entry delay


@pytest.mark.parametrize("delta", [HOUR, -HOUR])
def test_code_lockout_keeps_its_remaining_time(delta: float) -> None:
    house = House()
    for _ in range(5):
        house.cmd("DISARM", "0000")
    assert house.panel.code_lock.locked(house.now)  # 60 s
    house.at(30)
    step(house, delta)
    refused = house.cmd("DISARM", PINS["alice"]).rejection
    assert refused is not None and refused.reason is RejectReason.LOCKED_OUT
    house.at(31)
    assert house.cmd("DISARM", PINS["alice"]).rejection is None


def test_a_step_is_an_event_and_changes_nothing_else() -> None:
    house = armed_away(House())
    before = house.panel
    step(house, HOUR)
    (event,) = house.events(EventKind.CLOCK_STEP)
    assert event.data == {"delta": HOUR}
    assert house.panel == shift_times(before, HOUR)
    assert house.panel.since == before.since + HOUR
    assert house.state is PanelState.ARMED_AWAY


def test_a_system_trouble_keeps_its_start() -> None:
    house = House()
    house.send(SystemHealth(SystemPart.STORAGE, ok=False, detail="disk full"))
    started = house.now
    step(house, -HOUR)
    assert house.panel.system_troubles[SystemPart.STORAGE] == started - HOUR


# ---------------------------------------------------- every time field is moved

_TIME_HOLDERS = (Panel, SensorStatus, CodeLock, Hold, WalkTest)
# Fields that hold no time although their type mentions float: none today. A new float
# field of one of these classes is a time to move in shift_times, or belongs here.
_NOT_TIMES: frozenset[str] = frozenset()


def _filled(cls: type, values: itertools.count[float]) -> object:
    """An instance of ``cls`` with a distinct value in every field that holds a time."""
    fields: dict[str, object] = {}
    for f in dataclasses.fields(cls):
        kind = str(f.type)
        if f.name.startswith("_") or f.name in _NOT_TIMES:
            continue
        if kind in ("float", "float | None"):
            fields[f.name] = next(values)
        elif kind == "tuple[float, ...]":
            fields[f.name] = (next(values), next(values))
        elif kind == "Mapping[SystemPart, float]":
            fields[f.name] = {SystemPart.STORAGE: next(values)}
        elif kind == "Mapping[str, SensorStatus]":
            fields[f.name] = {"a": _filled(SensorStatus, values), "b": SensorStatus()}
        elif kind == "CodeLock":
            fields[f.name] = _filled(CodeLock, values)
        elif kind == "Mapping[ActuatorKind, tuple[Hold, ...]]":
            fields[f.name] = {
                ActuatorKind.SIREN: (_filled(Hold, values), _filled(Hold, values)),
                ActuatorKind.LIGHT: (_filled(Hold, values),),
            }
        elif kind == "WalkTest | None":
            fields[f.name] = _filled(WalkTest, values)
        elif kind == "bool":
            fields[f.name] = True  # no time (Hold.on needs a value)
        else:
            assert "float" not in kind, f"{cls.__name__}.{f.name}: {kind}: unknown time field"
    return cls(**fields)


def _times(value: object, path: str = "") -> dict[str, float]:
    """Every float in ``value``, by where it is."""
    if isinstance(value, float):
        return {path: value}
    found: dict[str, float] = {}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        for f in dataclasses.fields(value):
            if not f.name.startswith("_"):
                found |= _times(getattr(value, f.name), f"{path}.{f.name}")
    elif isinstance(value, dict):
        for key, item in value.items():
            found |= _times(item, f"{path}[{key}]")
    elif isinstance(value, tuple):
        for index, item in enumerate(value):
            found |= _times(item, f"{path}[{index}]")
    return found


def test_every_time_field_of_the_panel_is_moved() -> None:
    panel = _filled(Panel, itertools.count(1000.0))
    assert isinstance(panel, Panel)
    before = _times(panel)
    # Each class's float fields are all there, so a new one is either filled or fails.
    for cls in _TIME_HOLDERS:
        for f in dataclasses.fields(cls):
            if "float" in str(f.type) and f.name not in _NOT_TIMES:
                assert any(p.endswith(f".{f.name}") or f".{f.name}[" in p for p in before), f
    after = _times(shift_times(panel, -250.0))
    assert after.keys() == before.keys()
    assert {p: t - before[p] for p, t in after.items()} == dict.fromkeys(before, -250.0)


def test_a_new_float_field_would_be_caught() -> None:
    """The check above sees a float the shift leaves alone."""
    panel = _filled(Panel, itertools.count(1000.0))
    assert isinstance(panel, Panel)
    unmoved = dataclasses.replace(shift_times(panel, 5.0), quiet_until=panel.quiet_until)
    moved = _times(unmoved)
    assert any(t - _times(panel)[p] != 5.0 for p, t in moved.items())


# ------------------------------------------------------- the step is no time at all


def _past_lockout_as_now(panel: Panel, now: float) -> Panel:
    """A lockout that ended is as good as any other (a good code resets it to 0.0). A
    hold's steps last fractions of a second (a chirp), whose sums with a year's step are
    not exact: compared to the microsecond."""
    lock = panel.code_lock
    holds = {
        actuator: tuple(dataclasses.replace(h, until=round(h.until, 6)) for h in steps)
        for actuator, steps in panel.holds.items()
    }
    return dataclasses.replace(
        panel,
        code_lock=dataclasses.replace(lock, locked_until=max(lock.locked_until, now)),
        holds=holds,
    )


def _in_milliseconds(event: Input) -> Input:
    """A hold of whole milliseconds: a shorter one (hypothesis found 1e-9 s) is below
    what an epoch time can hold (about 0.24 µs), so it lasts until ``now`` on one clock
    and a moment longer on the other; a real hold is a chirp (0.15 s) or more."""
    if isinstance(event, HoldActuator):
        return dataclasses.replace(event, seconds=round(event.seconds, 3))
    return event


_whole_steps = st.lists(st.tuples(st.integers(0, 400), inputs.map(_in_milliseconds)), max_size=30)


@given(_whole_steps, _whole_steps, st.sampled_from([HOUR, -HOUR, 86400.0 * 365, 7.0]))
@settings(max_examples=200, deadline=None)
def test_a_panel_whose_clock_was_set_does_what_one_whose_clock_was_not(
    before: list[tuple[int, Input]], after: list[tuple[int, Input]], delta: float
) -> None:
    """Whole seconds, so that the two clocks' sums are exact."""
    kept, stepped = House(), House()
    for delay, event in before:
        for house in (kept, stepped):
            house.at(delay)
            house.send(event)
    step(stepped, delta)
    for delay, event in after:
        for house in (kept, stepped):
            house.at(delay)
            house.send(event)
        assert stepped.now == kept.now + delta
        expected = _past_lockout_as_now(shift_times(kept.panel, delta), stepped.now)
        assert _past_lockout_as_now(stepped.panel, stepped.now) == expected
        assert (stepped.siren, stepped.light) == (kept.siren, kept.light)
        if kept.wake is None:
            assert stepped.wake is None
        else:  # to the microsecond, as the holds above
            assert stepped.wake == pytest.approx(kept.wake + delta, abs=1e-6)
