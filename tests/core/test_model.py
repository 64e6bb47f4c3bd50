"""The panel's settings refuse what cannot work."""

from __future__ import annotations

import pytest

from homeguard.core.model import (
    Action,
    ArmMode,
    ModeTiming,
    PanelSettings,
    SensorSpec,
    SensorState,
    SensorType,
    User,
)


@pytest.mark.parametrize("timing", [{"exit_delay": -1}, {"entry_delay": -0.5}, {"siren_time": 0}])
def test_impossible_timings_are_refused(timing: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="must"):
        ModeTiming(**timing)


def test_duplicate_sensor_ids_and_user_names_are_refused() -> None:
    door = SensorSpec("front", SensorType.DOOR)
    with pytest.raises(ValueError, match="duplicate sensor"):
        PanelSettings(sensors=(door, door))
    user = User("alice", "x")
    with pytest.raises(ValueError, match="duplicate user"):
        PanelSettings(users=(user, user))


def test_settings_lookups() -> None:
    door = SensorSpec("front", SensorType.DOOR)
    cfg = PanelSettings(sensors=(door,), modes={ArmMode.HOME: ModeTiming(exit_delay=0)})
    assert cfg.sensor("front") is door
    assert cfg.sensor("nope") is None
    assert cfg.timing(ArmMode.HOME).exit_delay == 0
    assert cfg.timing(ArmMode.AWAY) == ModeTiming(60, 30, 300)
    assert not cfg.codes_required


def test_actions_name_their_mode() -> None:
    assert Action.ARM_VACATION.mode is ArmMode.VACATION
    assert Action.DISARM.mode is None
    assert ArmMode.NIGHT.state.value == "armed_night"


def test_active_states() -> None:
    assert {s for s in SensorState if s.active} == {
        SensorState.OPEN,
        SensorState.MOTION,
        SensorState.TAMPER,
        SensorState.ON,
    }
