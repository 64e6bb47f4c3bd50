"""``evolve`` makes the same copy as ``dataclasses.replace``, and refuses what it cannot
copy the same way."""

from __future__ import annotations

import dataclasses

import pytest

from homeguard.core.evolve import evolve
from homeguard.core.model import SensorState
from homeguard.core.persistent_map import PersistentMap
from homeguard.core.signals import ActuatorKind, HoldActuator
from homeguard.core.state import Panel, PanelState, SensorStatus, Trouble

PANEL = Panel(
    state=PanelState.ARMED_HOME,
    since=5.0,
    sensors=PersistentMap({"door": SensorStatus(SensorState.OPEN)}),
    message_seqs={"door": 7},
)
NEW_VALUES = {
    "state": PanelState.TRIGGERED,
    "since": 9.0,
    "deadline": 12.0,
    "triggered_by": ("door",),
    "sensors": PersistentMap({"door": SensorStatus(SensorState.CLOSED)}),
    "message_seqs": {"door": 8},
    "quiet_until": 3.0,
    "chime": True,
}


@pytest.mark.parametrize("name", sorted(NEW_VALUES))
def test_a_panel_evolves_as_it_is_replaced(name: str) -> None:
    changed = evolve(PANEL, **{name: NEW_VALUES[name]})
    assert changed == dataclasses.replace(PANEL, **{name: NEW_VALUES[name]})  # type: ignore[arg-type]
    assert getattr(changed, name) == NEW_VALUES[name]
    assert PANEL.since == 5.0 and PANEL.state is PanelState.ARMED_HOME  # the original kept


def test_several_fields_at_once() -> None:
    status = SensorStatus(SensorState.OPEN, last_seen=1.0, trouble=Trouble.OFFLINE)
    changes = {"last_seen": 2.0, "state": SensorState.CLOSED, "battery": 40}
    assert evolve(status, **changes) == dataclasses.replace(status, **changes)  # type: ignore[arg-type]
    assert evolve(status) == status and evolve(status) is not status


def test_a_name_that_is_no_field_is_refused() -> None:
    with pytest.raises(TypeError, match="no field 'stat'"):
        evolve(PANEL, stat=PanelState.TRIGGERED)


def test_what_checks_itself_or_has_no_slots_is_refused() -> None:
    @dataclasses.dataclass(frozen=True)
    class Plain:
        value: int = 0

    @dataclasses.dataclass(frozen=True, slots=True)
    class Checked:
        value: int = 0

        def __post_init__(self) -> None:
            if self.value < 0:
                raise ValueError("negative")

    @dataclasses.dataclass(frozen=True, slots=True)
    class Derived:
        value: int = 0
        double: int = dataclasses.field(init=False, default=0)

    for obj in (Plain(), Checked(), Derived()):
        with pytest.raises(TypeError, match=r"replace\(\)|slotted"):
            evolve(obj, value=-1)
    hold = HoldActuator(ActuatorKind.SIREN, on=True, seconds=1.0)  # one that checks itself
    with pytest.raises(TypeError):
        evolve(hold, seconds=-1.0)
