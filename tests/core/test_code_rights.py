"""Codes and rights: what counts as a failed attempt, the lockout's cap, bypass rules,
silencing an alarm by hand and the duress code's silence (issue 9: 1, 5, 6, 11, 16)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from homeguard.core.codes import CodeLock
from homeguard.core.model import Action, CodePolicy, PanelState, User
from homeguard.core.panel import RejectReason
from homeguard.core.signals import (
    ActuatorKind,
    ActuatorRequest,
    BypassRequest,
    Command,
    EventKind,
    Input,
    Notify,
    RecordEvent,
    SetActuator,
    SilentAlert,
)
from tests.core.harness import PINS, USERS, House, cheap_hash, settings

A, BOB, GUEST, COERCED = PINS["alice"], PINS["bob"], PINS["guest"], PINS["coerced"]
S = PanelState
SIREN, LIGHT = ActuatorKind.SIREN, ActuatorKind.LIGHT


def armed_away(house: House | None = None) -> House:
    house = house or House()
    house.cmd("ARM_AWAY", A)
    house.at(60)
    assert house.state is S.ARMED_AWAY
    return house


def triggered() -> House:
    house = armed_away()
    house.sensor("living", "OPEN")
    assert house.state is S.TRIGGERED and house.siren
    return house


def command(action: str, code: str | None) -> Command:
    return Command(Action(action), code)


def reason(house: House, event: Input) -> RejectReason | None:
    out = house.send(event)
    return out.rejection.reason if out.rejection else None


# ------------------------------------------------------- failed attempts (finding 1)


def test_an_arm_only_code_between_guesses_does_not_hold_off_the_lockout() -> None:
    """The attack: four guesses, then bob's arm-only code on an action it may do."""
    house = armed_away()
    for _ in range(4):
        house.at(1)
        house.cmd("DISARM", "0000")
    assert house.cmd("ARM_AWAY", BOB).rejection is None  # accepted: already armed
    house.at(1)
    out = house.cmd("DISARM", "0001")
    assert out.rejection is not None and out.rejection.reason is RejectReason.INVALID_CODE
    assert house.panel.code_lock.locked(house.now)
    assert reason(house, command("DISARM", A)) is RejectReason.LOCKED_OUT


def test_a_code_without_the_right_counts_as_a_failed_attempt() -> None:
    house = armed_away()
    for _ in range(4):
        out = house.cmd("DISARM", BOB)
        assert out.rejection is not None and out.rejection.reason is RejectReason.NOT_AUTHORIZED
    assert len(house.panel.code_lock.failures) == 4
    house.cmd("DISARM", BOB)
    assert house.panel.code_lock.locked(house.now)
    (locked,) = house.events(EventKind.LOCKED_OUT)
    assert locked.data["source"] == "mqtt"
    assert any(isinstance(e, Notify) and e.kind is EventKind.LOCKED_OUT for e in house.effects)


def test_a_disarm_only_code_arming_counts_too() -> None:
    house = House()
    out = house.cmd("ARM_HOME", GUEST)
    assert out.rejection is not None and out.rejection.reason is RejectReason.NOT_AUTHORIZED
    assert len(house.panel.code_lock.failures) == 1


def test_only_a_successful_action_by_a_code_that_may_disarm_clears_the_count() -> None:
    house = House()
    house.cmd("ARM_HOME", "0000")
    house.cmd("ARM_HOME", BOB)  # bob armed: his success clears nothing
    assert house.state is S.ARMED_HOME and len(house.panel.code_lock.failures) == 1
    house.cmd("DISARM", "0000")
    assert len(house.panel.code_lock.failures) == 2
    house.cmd("DISARM", A)
    assert house.state is S.DISARMED and house.panel.code_lock == CodeLock()


def test_a_good_code_whose_action_is_refused_clears_nothing() -> None:
    house = House()
    house.cmd("ARM_AWAY", "0000")
    house.sensor("living", "OPEN")
    out = house.cmd("ARM_AWAY", A)
    assert out.rejection is not None and out.rejection.reason is RejectReason.SENSORS_NOT_READY
    assert len(house.panel.code_lock.failures) == 1


# ------------------------------------------------------------ lockout cap (finding 16)


def test_lockouts_double_up_to_the_cap_and_no_further() -> None:
    house = armed_away()
    durations = []
    for _ in range(7):
        for _ in range(5):
            house.cmd("DISARM", "0000")
        lock = house.panel.code_lock
        durations.append(lock.locked_until - house.now)
        house.at(lock.locked_until - house.now)
    assert durations == [60, 120, 240, 480, 900, 900, 900]
    assert house.cmd("DISARM", A).rejection is None  # the owner gets in after the cap
    assert house.panel.code_lock.lockouts == 0


def test_the_cap_is_configurable_and_huge_streaks_do_not_overflow() -> None:
    policy = CodePolicy(lockout=30, max_lockout=100)
    assert [policy.lockout_for(n) for n in range(4)] == [30, 60, 100, 100]
    assert CodePolicy().lockout_for(10**6) == 900
    house = armed_away(House(settings(codes=policy)))
    house.panel = replace(house.panel, code_lock=CodeLock(lockouts=10**6))
    for _ in range(5):
        house.cmd("DISARM", "0000")
    assert house.panel.code_lock.locked_until - house.now == 100


# ---------------------------------------------------------------- bypass (finding 6)


def test_bypass_needs_a_code_that_may_disarm() -> None:
    house = House()
    assert reason(house, BypassRequest("hall", True, BOB)) is RejectReason.NOT_AUTHORIZED
    assert house.panel.bypassed == frozenset()
    assert len(house.panel.code_lock.failures) == 1
    assert reason(house, BypassRequest("hall", True, A)) is None
    assert house.panel.bypassed == {"hall"}
    (bypassed,) = house.events(EventKind.BYPASSED)
    assert bypassed.data["user"] == "alice"
    # Lifting a bypass makes the house safer: an arm-only code will do.
    assert reason(house, BypassRequest("hall", False, BOB)) is None
    assert house.panel.bypassed == frozenset()


@pytest.mark.parametrize("state", ["arming", "armed", "pending", "triggered"])
def test_bypass_is_refused_unless_disarmed(state: str) -> None:
    house = House()
    house.cmd("ARM_AWAY", A)
    if state != "arming":
        house.at(60)
    if state in ("pending", "triggered"):
        house.sensor("front", "OPEN")
    if state == "triggered":
        house.at(30)
    before = house.panel.state
    out = house.send(BypassRequest("hall", True, A))
    assert out.rejection is not None and out.rejection.reason is RejectReason.NOT_ALLOWED
    assert "disarm first" in out.rejection.message
    assert house.panel.bypassed == frozenset() and house.state is before
    assert not house.panel.code_lock.failures  # refused before any code is checked


def test_bypass_while_armed_when_the_policy_allows_it() -> None:
    house = armed_away(House(settings(bypass_while_armed=True)))
    assert reason(house, BypassRequest("hall", True, BOB)) is RejectReason.NOT_AUTHORIZED
    assert reason(house, BypassRequest("hall", True, A)) is None
    house.sensor("hall", "MOTION")
    assert house.state is S.ARMED_AWAY


def test_an_arm_only_code_cannot_change_the_mode_of_an_armed_panel() -> None:
    """Armed away → armed home would stop watching the motion sensors."""
    house = armed_away()
    out = house.cmd("ARM_HOME", BOB)
    assert out.rejection is not None and out.rejection.reason is RejectReason.NOT_AUTHORIZED
    assert house.state is S.ARMED_AWAY and len(house.panel.code_lock.failures) == 1
    assert house.cmd("ARM_AWAY", BOB).rejection is None  # the same mode: nothing changes
    house.sensor("shed", "CLOSED")  # back from its supervision trouble
    assert house.cmd("ARM_HOME", A).rejection is None
    assert house.state is S.ARMED_HOME


def test_without_a_code_for_arming_a_mode_change_still_needs_one() -> None:
    house = House(settings(code_arm_required=False))
    house.cmd("ARM_AWAY")
    assert house.state is S.ARMING
    assert reason(house, command("ARM_HOME", None)) is RejectReason.CODE_REQUIRED
    assert house.state is S.ARMING


# ------------------------------------------------- silencing an alarm (finding 5)


@pytest.mark.parametrize("kind", [SIREN, LIGHT])
def test_silencing_an_alarm_needs_a_code_that_may_disarm(kind: ActuatorKind) -> None:
    house = triggered()
    assert reason(house, ActuatorRequest(kind, False)) is RejectReason.CODE_REQUIRED
    assert reason(house, ActuatorRequest(kind, False, BOB)) is RejectReason.NOT_AUTHORIZED
    assert reason(house, ActuatorRequest(kind, False, "0000")) is RejectReason.INVALID_CODE
    assert house.state is S.TRIGGERED and house.siren and house.light
    assert len(house.panel.code_lock.failures) == 2
    out = house.send(ActuatorRequest(kind, False, A, source="web:alice"))
    assert out.rejection is None
    assert house.state is S.DISARMED and not house.siren and not house.light
    (disarmed,) = house.events(EventKind.DISARMED)
    assert disarmed.data == {
        "user": "alice",
        "source": "web:alice",
        "previous": "triggered",
    }
    assert house.panel.code_lock == CodeLock()


def test_switching_off_during_the_entry_delay_also_needs_the_code() -> None:
    house = armed_away()
    house.sensor("front", "OPEN")
    assert reason(house, ActuatorRequest(LIGHT, False)) is RejectReason.CODE_REQUIRED
    assert house.state is S.PENDING
    house.at(30)
    assert house.state is S.TRIGGERED and house.siren


def test_outside_an_alarm_and_for_on_no_code_is_asked() -> None:
    house = armed_away()
    out = house.send(ActuatorRequest(SIREN, True))
    assert out.rejection is None and SetActuator(SIREN, True) in out.effects
    out = house.send(ActuatorRequest(SIREN, False))
    assert out.rejection is None and SetActuator(SIREN, False) in out.effects
    assert house.state is S.ARMED_AWAY
    house = triggered()
    out = house.send(ActuatorRequest(LIGHT, True))  # on during an alarm: already on
    assert out.rejection is None and house.state is S.TRIGGERED


def test_with_no_users_silencing_disarms_without_a_code() -> None:
    house = House(settings(users=()))
    house.cmd("ARM_HOME")
    house.sensor("living", "OPEN")
    assert house.state is S.TRIGGERED
    assert reason(house, ActuatorRequest(SIREN, False)) is None
    assert house.state is S.DISARMED and not house.siren


# ---------------------------------------------------------- duress (finding 11)


def test_duress_is_not_in_any_visible_event() -> None:
    users = tuple(replace(u, appears_as="alice") if u.duress else u for u in USERS)
    house = armed_away(House(settings(users=users)))
    house.sensor("front", "OPEN")
    out = house.cmd("DISARM", COERCED)
    assert out.rejection is None and house.state is S.DISARMED
    visible = [e for e in house.effects if isinstance(e, RecordEvent)]
    assert all(e.kind is not EventKind.DURESS for e in visible)
    assert "coerced" not in repr(visible) and "duress" not in repr(visible).lower()
    (disarmed,) = house.events(EventKind.DISARMED)
    assert disarmed.data["user"] == "alice"  # as the owner chose it to appear
    (alert,) = [e for e in out.effects if isinstance(e, SilentAlert)]
    assert alert.data == {"user": "coerced", "source": "mqtt"}


def test_a_duress_code_without_the_right_still_alerts_and_shows_its_cover_name() -> None:
    duress = User("coerced", cheap_hash(COERCED), can_arm=False, duress=True, appears_as="bea")
    house = House(settings(users=(*USERS[:2], duress)))
    out = house.cmd("ARM_HOME", COERCED)
    assert out.rejection is not None and out.rejection.reason is RejectReason.NOT_AUTHORIZED
    assert out.rejection.message == "bea may not arm"
    assert [e.kind for e in out.effects if isinstance(e, SilentAlert)] == [EventKind.DURESS]
    assert "coerced" not in repr([e for e in out.effects if isinstance(e, RecordEvent)])
