"""Scenario tests of the panel engine with a fake clock: every transition and timing."""

from __future__ import annotations

import pytest

from homeguard.core.model import ArmMode, PanelState, SensorSpec, SensorType, ZoneKind
from homeguard.core.panel import RejectReason, Trouble, blocking_sensors
from homeguard.core.signals import (
    ActuatorKind,
    Availability,
    BypassRequest,
    EventKind,
    Notify,
    PublishState,
    SetActuator,
    SilentAlert,
)
from tests.core.harness import PINS, House, settings

A = PINS["alice"]
S = PanelState


def armed_away() -> House:
    house = House()
    house.cmd("ARM_AWAY", A)
    house.at(60)
    assert house.state is S.ARMED_AWAY
    return house


# ----------------------------------------------------------------------------- arming


def test_arm_away_waits_the_exit_delay() -> None:
    house = House()
    out = house.cmd("ARM_AWAY", A)
    assert out.rejection is None
    assert house.state is S.ARMING
    assert PublishState(S.ARMING) in out.effects
    house.at(59.9)
    assert house.state is S.ARMING
    house.at(0.1)
    assert house.state is S.ARMED_AWAY
    assert [e.data["mode"] for e in house.events(EventKind.ARMED)] == ["armed_away"]


def test_zero_exit_delay_arms_at_once() -> None:
    house = House()
    house.cmd("ARM_HOME", A)
    assert house.state is S.ARMED_HOME
    assert house.events(EventKind.ARMING) == []


@pytest.mark.parametrize(
    ("action", "state"),
    [
        ("ARM_AWAY", S.ARMED_AWAY),
        ("ARM_HOME", S.ARMED_HOME),
        ("ARM_NIGHT", S.ARMED_NIGHT),
        ("ARM_VACATION", S.ARMED_VACATION),
    ],
)
def test_every_mode_arms(action: str, state: PanelState) -> None:
    house = House()
    house.cmd(action, A)
    house.at(61)
    assert house.state is state


def test_rearming_the_current_mode_is_a_no_op() -> None:
    house = House()
    house.cmd("ARM_AWAY", A)
    house.at(30)
    out = house.cmd("ARM_AWAY", A)
    assert out.rejection is None
    assert not [e for e in out.effects if isinstance(e, PublishState)]
    house.at(30)  # the original exit delay still rules
    assert house.state is S.ARMED_AWAY
    out = house.cmd("ARM_AWAY", A)
    assert out.rejection is None and house.state is S.ARMED_AWAY
    assert len(house.events(EventKind.ARMED)) == 1


def test_switching_mode_while_armed_goes_through_the_new_exit_delay() -> None:
    house = House()
    house.cmd("ARM_HOME", A)
    house.cmd("ARM_AWAY", A)
    assert house.state is S.ARMING
    house.at(60)
    assert house.state is S.ARMED_AWAY


def test_arming_refused_with_the_open_sensors() -> None:
    house = House()
    house.sensor("living", "OPEN")
    house.sensor("front", "OPEN")
    out = house.cmd("ARM_AWAY", A)
    assert out.rejection is not None
    assert out.rejection.reason is RejectReason.SENSORS_NOT_READY
    assert out.rejection.sensors == ("front", "living")
    assert house.state is S.DISARMED
    (failed,) = house.events(EventKind.FAILED_TO_ARM)
    assert failed.data["sensors"] == {"front": "open", "living": "open"}


def test_forced_arming_bypasses_open_sensors_and_logs_it() -> None:
    house = House()
    house.sensor("living", "OPEN")
    out = house.cmd("ARM_AWAY", A, force=True)
    assert out.rejection is None
    assert house.panel.bypassed == {"living"}
    assert house.events(EventKind.BYPASSED)[0].data == {"sensors": ["living"], "forced": True}
    house.at(60)
    house.sensor("living", "CLOSED")
    house.sensor("living", "OPEN")
    assert house.state is S.ARMED_AWAY  # bypassed until disarm
    house.cmd("DISARM", A)
    assert house.panel.bypassed == frozenset()


def test_sensors_a_mode_does_not_watch_do_not_block_it() -> None:
    house = House()
    house.sensor("garage", "OPEN")  # watched in away only
    house.sensor("hall", "MOTION")  # interior: never blocks (momentary)
    assert house.cmd("ARM_HOME", A).rejection is None
    assert house.state is S.ARMED_HOME


def test_ready_to_arm_query_per_mode() -> None:
    house = House()
    house.sensor("garage", "OPEN")
    house.send(Availability("shed", online=False))
    panel, cfg = house.panel, house.settings
    assert blocking_sensors(panel, cfg, ArmMode.AWAY) == {"garage": "open", "shed": "offline"}
    assert blocking_sensors(panel, cfg, ArmMode.HOME) == {"shed": "offline"}


def test_arming_with_trouble_needs_force() -> None:
    house = House()
    house.send(Availability("shed", online=False))
    out = house.cmd("ARM_HOME", A)
    assert out.rejection is not None and out.rejection.sensors == ("shed",)
    assert house.cmd("ARM_HOME", A, force=True).rejection is None
    assert "shed" in house.panel.bypassed


def test_only_24h_zones_trigger_during_arming() -> None:
    house = House()
    house.cmd("ARM_AWAY", A)
    for sensor, state in [("front", "OPEN"), ("living", "OPEN"), ("hall", "MOTION")]:
        house.sensor(sensor, state)
        assert house.state is S.ARMING
    house.sensor("front", "CLOSED")
    house.sensor("living", "CLOSED")
    house.sensor("lid", "TAMPER")
    assert house.state is S.TRIGGERED and house.siren


def test_door_left_open_when_exit_delay_ends_starts_the_entry_delay() -> None:
    house = House()
    house.cmd("ARM_AWAY", A)
    house.sensor("front", "OPEN")
    house.at(60)
    assert house.state is S.PENDING
    house.at(30)
    assert house.state is S.TRIGGERED


def test_motion_when_exit_delay_ends_is_not_an_exit_error() -> None:
    house = House()
    house.cmd("ARM_AWAY", A)
    house.sensor("hall", "MOTION")
    house.at(60)
    assert house.state is S.ARMED_AWAY


def test_cannot_arm_while_pending_or_triggered() -> None:
    house = armed_away()
    house.sensor("front", "OPEN")
    out = house.cmd("ARM_HOME", A)
    assert out.rejection is not None and out.rejection.reason is RejectReason.NOT_ALLOWED
    assert house.state is S.PENDING


def test_no_users_means_no_code_needed() -> None:
    house = House(settings=settings(users=()))
    house.cmd("ARM_HOME")
    assert house.state is S.ARMED_HOME
    house.cmd("DISARM")
    assert house.state is S.DISARMED


def test_code_not_required_to_arm_when_configured() -> None:
    house = House(settings=settings(code_arm_required=False))
    assert house.cmd("ARM_HOME").rejection is None
    assert house.state is S.ARMED_HOME
    out = house.cmd("DISARM")
    assert out.rejection is not None and out.rejection.reason is RejectReason.CODE_REQUIRED
    assert house.state is S.ARMED_HOME


# ------------------------------------------------------------------ entry and alarm


def test_entry_delay_then_siren_then_back_to_armed() -> None:
    """The issue's example: armed_away, entry 30 s, siren 300 s."""
    house = armed_away()
    house.sensor("front", "OPEN")
    assert house.state is S.PENDING and not house.siren
    house.at(29.9)
    assert house.state is S.PENDING and not house.siren
    house.at(0.1)
    assert house.state is S.TRIGGERED and house.siren and house.light
    (triggered,) = house.events(EventKind.TRIGGERED)
    assert triggered.data == {"sensors": ["front"]}
    assert any(isinstance(e, Notify) and e.kind is EventKind.TRIGGERED for e in house.effects)
    house.at(299.9)
    assert house.state is S.TRIGGERED and house.siren
    house.at(0.1)
    assert house.state is S.ARMED_AWAY and not house.siren and not house.light
    assert len(house.events(EventKind.ALARM_ENDED)) == 1


def test_disarm_during_entry_delay_prevents_the_siren() -> None:
    house = armed_away()
    house.sensor("front", "OPEN")
    house.at(20)
    house.cmd("DISARM", A)
    assert house.state is S.DISARMED
    house.at(600)
    assert not house.siren
    assert SetActuator(ActuatorKind.SIREN, True) not in house.effects


def test_disarm_after_trigger_option() -> None:
    house = House(settings=settings(disarm_after_trigger=True))
    house.cmd("ARM_HOME", A)
    house.sensor("living", "OPEN")
    assert house.state is S.TRIGGERED
    house.at(300)
    assert house.state is S.DISARMED and not house.siren


def test_sensor_entry_delay_overrides_the_mode() -> None:
    house = armed_away()
    house.sensor("back", "OPEN")
    house.at(9.9)
    assert house.state is S.PENDING
    house.at(0.1)
    assert house.state is S.TRIGGERED


def test_zero_entry_delay_triggers_at_once() -> None:
    house = House()
    house.cmd("ARM_NIGHT", A)
    house.at(10)
    house.sensor("front", "OPEN")
    assert house.state is S.TRIGGERED


def test_perimeter_is_instant() -> None:
    house = armed_away()
    house.sensor("living", "OPEN")
    assert house.state is S.TRIGGERED and house.siren


def test_perimeter_during_entry_delay_is_instant() -> None:
    house = armed_away()
    house.sensor("front", "OPEN")
    house.sensor("living", "OPEN")
    assert house.state is S.TRIGGERED
    assert house.panel.triggered_by == ("front", "living")


def test_interior_follows_a_running_entry_delay() -> None:
    house = armed_away()
    house.sensor("front", "OPEN")
    house.sensor("hall", "MOTION")
    assert house.state is S.PENDING
    house.cmd("DISARM", A)
    assert house.state is S.DISARMED


def test_interior_alone_is_instant() -> None:
    house = armed_away()
    house.sensor("hall", "MOTION")
    assert house.state is S.TRIGGERED


def test_interior_not_watched_in_home_mode() -> None:
    house = House()
    house.cmd("ARM_HOME", A)
    house.sensor("hall", "MOTION")
    house.sensor("garage", "OPEN")  # only watched in away
    assert house.state is S.ARMED_HOME


def test_sensor_mode_override_watches_interior_at_night() -> None:
    hall = SensorSpec("hall", SensorType.MOTION, modes=frozenset({ArmMode.NIGHT}))
    house = House(settings=settings(sensors=(hall,)))
    house.cmd("ARM_NIGHT", A)
    house.at(10)
    house.sensor("hall", "MOTION")
    assert house.state is S.TRIGGERED


def test_repeated_reports_are_not_new_trips() -> None:
    house = armed_away()
    house.sensor("front", "OPEN")
    house.at(30)
    house.at(300)
    assert house.state is S.ARMED_AWAY
    house.sensor("front", "OPEN")  # still open: not a new trip
    assert house.state is S.ARMED_AWAY


def test_heartbeat_changes_nothing_but_last_seen() -> None:
    house = armed_away()
    house.at(5)
    house.sensor("front", None)
    assert house.state is S.ARMED_AWAY
    assert house.panel.sensor("front").last_seen == house.now


def test_24h_zone_triggers_while_disarmed_then_disarms_after_the_siren() -> None:
    house = House()
    house.sensor("lid", "TAMPER")
    assert house.state is S.TRIGGERED and house.siren
    house.at(300)
    assert house.state is S.DISARMED and not house.siren


def test_tamper_report_from_any_sensor_is_24h() -> None:
    house = House()
    house.sensor("front", "OPEN")
    house.sensor("front", "TAMPER")
    assert house.state is S.TRIGGERED


def test_trigger_command_is_a_panic_without_code() -> None:
    house = House()
    house.cmd("TRIGGER")
    assert house.state is S.TRIGGERED and house.siren
    house.cmd("TRIGGER")
    assert len(house.events(EventKind.TRIGGERED)) == 1
    house.cmd("DISARM", A)
    assert house.state is S.DISARMED and not house.siren


def test_disarm_while_triggered_silences() -> None:
    house = armed_away()
    house.sensor("living", "OPEN")
    house.at(10)
    house.cmd("DISARM", A)
    assert house.state is S.DISARMED and not house.siren and not house.light


def test_disarm_while_disarmed_is_a_no_op() -> None:
    house = House()
    out = house.cmd("DISARM", A)
    assert out.rejection is None and house.events(EventKind.DISARMED) == []


def test_swinger_shutdown_after_two_alarms_in_one_armed_period() -> None:
    house = armed_away()
    for _ in range(2):
        house.sensor("living", "OPEN")
        assert house.state is S.TRIGGERED
        house.sensor("living", "CLOSED")
        house.at(300)
        assert house.state is S.ARMED_AWAY
    house.sensor("living", "OPEN")
    assert house.state is S.ARMED_AWAY
    assert "living" in house.panel.bypassed
    assert len(house.events(EventKind.SWINGER_SHUTDOWN)) == 1
    house.sensor("front", "OPEN")  # other zones still protect
    assert house.state is S.PENDING
    house.cmd("DISARM", A)
    house.sensor("front", "CLOSED")
    house.sensor("living", "CLOSED")
    house.sensor("shed", None)  # silent too long, it would block arming
    house.cmd("ARM_HOME", A)
    house.sensor("living", "OPEN")
    assert house.state is S.TRIGGERED  # a new armed period counts afresh


# --------------------------------------------------------------------------- codes


def test_wrong_code_refused_and_counted() -> None:
    house = House()
    out = house.cmd("ARM_AWAY", "0000")
    assert out.rejection is not None and out.rejection.reason is RejectReason.INVALID_CODE
    assert house.state is S.DISARMED
    assert len(house.panel.code_lock.failures) == 1
    assert len(house.events(EventKind.INVALID_CODE)) == 1


def test_missing_code_refused() -> None:
    house = armed_away()
    out = house.cmd("DISARM")
    assert out.rejection is not None and out.rejection.reason is RejectReason.CODE_REQUIRED
    assert house.state is S.ARMED_AWAY
    (refused,) = house.events(EventKind.COMMAND_REJECTED)
    assert refused.data == {"reason": "code_required"}


def test_five_wrong_codes_lock_out_for_60_seconds_then_doubling() -> None:
    house = armed_away()
    for _ in range(5):
        house.at(1)
        house.cmd("DISARM", "0000")
    assert house.panel.code_lock.locked(house.now)
    out = house.cmd("DISARM", A)  # even the right code is refused while locked
    assert out.rejection is not None and out.rejection.reason is RejectReason.LOCKED_OUT
    assert house.state is S.ARMED_AWAY
    house.at(59.9)
    assert house.cmd("DISARM", A).rejection.reason is RejectReason.LOCKED_OUT  # type: ignore[union-attr]
    house.at(0.2)
    for _ in range(5):
        house.cmd("DISARM", "0000")
    house.at(119.9)
    assert house.panel.code_lock.locked(house.now)  # second lockout: 120 s
    house.at(0.2)
    assert house.cmd("DISARM", A).rejection is None
    assert house.state is S.DISARMED
    assert house.panel.code_lock.lockouts == 0  # a good code resets the doubling


def test_wrong_codes_outside_the_window_do_not_lock() -> None:
    house = House()
    for _ in range(8):
        house.cmd("ARM_AWAY", "0000")
        house.at(100)  # 5 in 300 s never happens at this pace
    assert not house.panel.code_lock.locked(house.now)


def test_rights_per_user() -> None:
    house = House()
    assert house.cmd("ARM_HOME", PINS["guest"]).rejection.reason is RejectReason.NOT_AUTHORIZED  # type: ignore[union-attr]
    assert house.state is S.DISARMED
    house.cmd("ARM_HOME", PINS["bob"])
    assert house.state is S.ARMED_HOME
    assert house.cmd("DISARM", PINS["bob"]).rejection.reason is RejectReason.NOT_AUTHORIZED  # type: ignore[union-attr]
    assert house.cmd("DISARM", PINS["guest"]).rejection is None
    assert house.state is S.DISARMED


def test_duress_code_disarms_visibly_and_raises_a_silent_event() -> None:
    house = armed_away()
    house.sensor("front", "OPEN")
    out = house.cmd("DISARM", PINS["coerced"])
    assert out.rejection is None and house.state is S.DISARMED
    (alert,) = [e for e in out.effects if isinstance(e, SilentAlert)]
    assert alert.kind is EventKind.DURESS and alert.data["user"] == "coerced"
    assert house.events(EventKind.DURESS) == []  # nothing published or shown
    notes = [e for e in out.effects if isinstance(e, Notify)]
    assert notes and all(n.silent for n in notes if n.kind is EventKind.DURESS)
    assert SetActuator(ActuatorKind.SIREN, True) not in out.effects


# ------------------------------------------------------------------------- trouble


def test_offline_raises_trouble_and_online_restores() -> None:
    house = House()
    house.send(Availability("front", online=False))
    assert house.panel.sensor("front").trouble is Trouble.OFFLINE
    (trouble,) = house.events(EventKind.TROUBLE)
    assert trouble.data == {"sensor": "front", "trouble": "offline"}
    house.send(Availability("front", online=False))
    assert len(house.events(EventKind.TROUBLE)) == 1  # once per outage
    house.send(Availability("front", online=True))
    assert house.panel.sensor("front").trouble is None
    assert len(house.events(EventKind.RESTORED)) == 1


def test_missed_supervision_interval_raises_trouble() -> None:
    house = House()
    house.at(30)
    house.sensor("shed", "CLOSED")
    house.at(59.9)
    assert house.panel.sensor("shed").trouble is None
    house.at(0.1)
    assert house.panel.sensor("shed").trouble is Trouble.SUPERVISION
    house.sensor("shed", None)  # any message restores
    assert house.panel.sensor("shed").trouble is None


def test_unavailable_sensor_triggers_after_its_debounce_when_watched() -> None:
    house = armed_away()
    house.sensor("shed", "CLOSED")
    house.send(Availability("shed", online=False))
    house.at(19.9)
    assert house.state is S.ARMED_AWAY
    house.at(0.1)
    assert house.state is S.PENDING  # shed is an entry door
    house.at(30)
    assert house.state is S.TRIGGERED


def test_unavailable_sensor_back_within_debounce_does_not_trigger() -> None:
    house = armed_away()
    house.sensor("shed", "CLOSED")
    house.send(Availability("shed", online=False))
    house.at(10)
    house.send(Availability("shed", online=True))
    house.at(40)  # less than its supervision interval
    assert house.state is S.ARMED_AWAY


def test_unavailable_without_trigger_option_only_troubles() -> None:
    house = armed_away()
    house.send(Availability("front", online=False))
    house.at(3600)
    assert house.state is S.ARMED_AWAY


# ------------------------------------------------------------------------ the rest


def test_bypass_request_needs_a_code_and_lasts_until_disarm() -> None:
    house = House()
    assert house.send(BypassRequest("living", code="0000")).rejection is not None
    assert house.send(BypassRequest("living", code=A)).rejection is None
    house.cmd("ARM_HOME", A)
    house.sensor("living", "OPEN")
    assert house.state is S.ARMED_HOME
    house.cmd("DISARM", A)
    assert house.panel.bypassed == frozenset()
    house.send(BypassRequest("living", code=A))
    house.send(BypassRequest("living", bypass=False, code=A))
    assert house.panel.bypassed == frozenset()
    assert len(house.events(EventKind.UNBYPASSED)) == 1


def test_unknown_sensor_is_rejected_and_changes_nothing() -> None:
    house = armed_away()
    before = house.panel
    for event in (Availability("ghost", False), BypassRequest("ghost", code=A)):
        out = house.send(event)
        assert out.rejection is not None and out.rejection.reason is RejectReason.UNKNOWN_SENSOR
    out = house.sensor("ghost", "OPEN")
    assert out.rejection is not None
    assert house.panel == before


def test_wake_is_always_the_next_deadline() -> None:
    house = House()
    house.at(1)
    assert house.wake == house.panel.supervised_since + 60  # shed supervision
    house.sensor("shed", None)
    house.cmd("ARM_AWAY", A)
    assert house.wake == house.now + 60  # exit delay and supervision due together
    house.settings = settings(sensors=tuple(s for s in house.settings.sensors if s.id != "shed"))
    house.cmd("DISARM", A)
    assert house.wake is None


def test_zone_kind_defaults_follow_the_sensor_type() -> None:
    assert SensorSpec("x", SensorType.SMOKE).zone_kind is ZoneKind.ALWAYS
    assert SensorSpec("x", SensorType.WINDOW).zone_kind is ZoneKind.PERIMETER
    assert not SensorSpec("x", SensorType.MOTION).watched_in(ArmMode.NIGHT)
    assert SensorSpec("x", SensorType.WATER).watched_in(ArmMode.HOME)
