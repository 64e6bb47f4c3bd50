"""Timed holds of the siren and light, the lights of an entry delay, the door chime and
the arm/disarm squawk (core.holds, core.chime), on a fake clock."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field

import pytest
from hypothesis import given
from hypothesis import settings as hyp_settings

from homeguard.core import snapshot
from homeguard.core.features import Chirps, Features
from homeguard.core.model import PanelState
from homeguard.core.panel import Outcome, RejectReason, resume
from homeguard.core.signals import (
    ActuatorKind,
    ActuatorRequest,
    EventKind,
    HoldActuator,
    Input,
    SetActuator,
)
from homeguard.core.state import Hold
from tests.core.harness import PINS, House, settings
from tests.core.test_properties import MAX_HOLD, steps

SIREN, LIGHT = ActuatorKind.SIREN, ActuatorKind.LIGHT
A = PINS["alice"]


@dataclass
class Timed(House):
    """A house that also keeps when each switch of the siren and light was said."""

    switches: list[tuple[float, SetActuator]] = field(default_factory=list)

    def apply(self, outcome: Outcome) -> None:
        super().apply(outcome)
        self.switches.extend((self.now, e) for e in outcome.effects if isinstance(e, SetActuator))

    def siren_log(self, since: float = 0.0) -> list[tuple[float, bool]]:
        return [(t, e.on) for t, e in self.switches if e.actuator is SIREN and t >= since]


def house(**features: object) -> Timed:
    return Timed(settings=settings(features=Features(**features)))  # type: ignore[arg-type]


# ------------------------------------------------------------------------ holds


def test_a_hold_switches_on_for_its_time_then_off() -> None:
    h = house()
    start = h.now
    h.send(HoldActuator(LIGHT, True, 10))
    assert h.light and h.wake == start + 10
    h.at(9.9)
    assert h.light
    h.at(0.2)
    assert not h.light and not h.panel.holds
    assert [(t - start, e.on) for t, e in h.switches] == [(0, True), (10, False)]


def test_a_new_hold_replaces_the_old_and_zero_seconds_ends_it() -> None:
    h = house()
    h.send(HoldActuator(LIGHT, True, 100))
    h.send(HoldActuator(LIGHT, True, 5))
    h.at(6)
    assert not h.light
    h.send(HoldActuator(SIREN, True, 100))
    h.send(HoldActuator(SIREN, True, 0))
    assert not h.siren and not h.panel.holds


@pytest.mark.parametrize("seconds", [-1.0, math.inf, math.nan])
def test_a_hold_lasts_a_finite_time(seconds: float) -> None:
    with pytest.raises(ValueError, match="finite"):
        HoldActuator(SIREN, True, seconds)


def test_a_hold_off_never_silences_an_alarm() -> None:
    h = house()
    h.cmd("ARM_HOME", A)
    h.sensor("living", "OPEN")
    assert h.state is PanelState.TRIGGERED and h.siren and h.light
    h.send(HoldActuator(SIREN, False, 50))
    h.send(HoldActuator(LIGHT, False, 50))
    h.at(10)
    assert h.siren and h.light


def test_a_siren_hold_never_outlasts_the_alarm() -> None:
    h = house()
    h.cmd("ARM_HOME", A)
    h.send(HoldActuator(SIREN, True, 1000))  # a rule sounds the siren, then a break-in
    h.sensor("living", "OPEN")
    assert SIREN not in h.panel.holds  # the alarm has the siren
    h.send(HoldActuator(SIREN, True, 1000))  # ignored while the alarm sounds
    h.cmd("DISARM", A)
    assert h.state is PanelState.DISARMED and not h.siren and not h.light
    h.at(1)
    assert not h.siren


def test_a_light_hold_goes_on_after_the_alarm() -> None:
    h = house()
    h.send(HoldActuator(LIGHT, True, 1000))
    h.cmd("TRIGGER")
    h.at(300)  # the siren time: back to disarmed
    assert h.state is PanelState.DISARMED and not h.siren and h.light
    h.at(701)
    assert not h.light


def test_a_valid_disarm_silences_a_siren_hold_even_when_disarmed() -> None:
    h = house()
    h.send(HoldActuator(SIREN, True, 100))
    assert h.siren
    h.cmd("DISARM", "0000")
    assert h.siren  # a wrong code does not
    h.cmd("DISARM", A)
    assert not h.siren and not h.panel.holds


def test_switching_by_hand_ends_the_hold() -> None:
    h = house()
    h.send(HoldActuator(LIGHT, True, 100))
    h.send(ActuatorRequest(LIGHT, False))
    assert not h.light and not h.panel.holds
    h.at(200)
    assert [e.on for _, e in h.switches] == [True, False]  # nothing more said


def test_a_restart_in_the_middle_of_a_hold_ends_it_on_time() -> None:
    h = house()
    end = h.now + 10
    h.send(HoldActuator(LIGHT, True, 10))
    h.at(4)
    saved = snapshot.dump(h.panel)
    # Down for 3 s: the light is restated on, and goes off at the original end.
    out = resume(snapshot.load(saved, h.settings), h.settings, h.now + 3)
    assert SetActuator(LIGHT, True) in out.effects
    restarted = house()
    restarted.now = h.now + 3
    restarted.apply(out)
    assert restarted.wake == end
    restarted.at(2.9)
    assert restarted.light
    restarted.at(0.2)
    assert not restarted.light
    # Down past the end: restated off.
    late = resume(snapshot.load(saved, h.settings), h.settings, end + 1)
    assert SetActuator(LIGHT, False) in late.effects and not late.panel.holds


def test_a_snapshot_keeps_holds_and_older_ones_still_load() -> None:
    h = house()
    h.send(HoldActuator(SIREN, True, 10))
    h.cmd("CHIME_ON", A)
    panel = snapshot.load(snapshot.dump(h.panel), h.settings)
    assert panel.holds == {SIREN: (Hold(True, h.now + 10),)} and panel.chime is True
    older = json.loads(snapshot.dump(h.panel))
    for key in ("holds", "walk_test", "chime"):
        del older[key]
    panel = snapshot.load(json.dumps(older), h.settings)
    assert not panel.holds and panel.walk_test is None and panel.chime is None


# ------------------------------------------------------------------------ lights


def test_the_light_is_on_during_the_entry_delay_and_the_alarm_the_siren_only_in_the_alarm() -> None:
    h = house()
    h.cmd("ARM_HOME", A)
    h.sensor("front", "OPEN")
    assert h.state is PanelState.PENDING and h.light and not h.siren
    h.at(30)
    assert h.state is PanelState.TRIGGERED and h.light and h.siren
    h.cmd("DISARM", A)
    assert not h.light and not h.siren


def test_the_entry_delay_light_can_be_left_off() -> None:
    h = house(light_entry_delay=False, light_alarm=False)
    h.cmd("ARM_HOME", A)
    h.sensor("front", "OPEN")
    assert h.state is PanelState.PENDING and not h.light
    h.at(30)
    assert h.state is PanelState.TRIGGERED and h.siren and not h.light


def test_a_disarm_in_the_entry_delay_puts_the_light_out() -> None:
    h = house()
    h.cmd("ARM_HOME", A)
    h.sensor("front", "OPEN")
    h.cmd("DISARM", A)
    assert h.state is PanelState.DISARMED and not h.light and not h.siren


# ------------------------------------------------------------------------- chime

CHIRP = 0.3


def test_an_entry_door_chimes_while_disarmed() -> None:
    h = house(chime=True)
    start = h.now
    h.sensor("front", "OPEN")
    h.at(1)
    assert h.siren_log() == [(start, True), (start + CHIRP, False)]
    h.sensor("front", "OPEN")  # still open: no new chime
    h.sensor("front", "CLOSED")
    assert len(h.siren_log()) == 2
    h.sensor("back", "OPEN")  # another entry door
    assert h.siren


@pytest.mark.parametrize("sensor", ["living", "hall", "garage"])
def test_only_entry_zones_chime_by_default(sensor: str) -> None:
    h = house(chime=True)
    h.sensor(sensor, "MOTION" if sensor == "hall" else "OPEN")
    assert not h.siren_log()


def test_the_configured_sensors_chime() -> None:
    h = house(chime=True, chime_sensors=frozenset({"living"}))
    h.sensor("front", "OPEN")
    assert not h.siren_log()
    h.sensor("living", "OPEN")
    assert h.siren


def test_no_chime_unless_disarmed_or_when_off() -> None:
    off = house()
    off.sensor("front", "OPEN")
    assert not off.siren_log()
    h = house(chime=True)
    h.cmd("ARM_AWAY", A)  # arming: the exit delay
    h.sensor("front", "OPEN")
    h.sensor("front", "CLOSED")
    h.at(60)
    h.sensor("back", "OPEN")  # armed: the entry delay, no chime
    assert h.state is PanelState.PENDING and not h.siren_log()


def test_the_chime_is_switched_at_run_time_with_a_code() -> None:
    h = house()
    refused = h.cmd("CHIME_ON").rejection
    assert refused is not None and refused.reason is RejectReason.CODE_REQUIRED
    refused = h.cmd("CHIME_ON", PINS["guest"]).rejection  # may not arm
    assert refused is not None and refused.reason is RejectReason.NOT_AUTHORIZED
    assert h.cmd("CHIME_ON", PINS["bob"]).rejection is None  # arm-only is enough
    (event,) = h.events(EventKind.CHIME)
    assert event.data == {"on": True, "user": "bob", "source": "mqtt"}
    h.sensor("front", "OPEN")
    assert h.siren and h.state is PanelState.DISARMED
    h.at(1)
    h.sensor("front", "CLOSED")
    h.cmd("CHIME_OFF", A)
    h.sensor("front", "OPEN")
    assert not h.siren and h.panel.chime is False


# ------------------------------------------------------------------------ squawk

SQUAWK = Features(squawk_arm=Chirps(1, 0.15, 0.25), squawk_disarm=Chirps(2, 0.15, 0.25))


def chirps(log: list[tuple[float, bool]], start: float) -> list[tuple[float, bool]]:
    return [(round(t - start, 6), on) for t, on in log]


def test_one_chirp_on_arming_two_on_disarming() -> None:
    h = Timed(settings=settings(features=SQUAWK))
    start = h.now
    h.cmd("ARM_AWAY", A)
    h.at(5)
    assert chirps(h.siren_log(), start) == [(0, True), (0.15, False)]
    assert h.state is PanelState.ARMING
    begin = h.now
    h.cmd("DISARM", A)
    h.at(5)
    assert chirps(h.siren_log(begin), begin) == [
        (0, True),
        (0.15, False),
        (0.4, True),
        (0.55, False),
    ]


def test_no_squawk_by_default_nor_for_a_refused_command() -> None:
    h = house()
    h.cmd("ARM_AWAY", A)
    h.cmd("DISARM", A)
    assert not h.siren_log()
    squawking = Timed(settings=settings(features=SQUAWK))
    squawking.cmd("ARM_AWAY", "0000")
    squawking.cmd("DISARM", A)  # already disarmed: nothing changes, no squawk
    assert not squawking.siren_log()


def test_the_disarm_squawk_follows_the_end_of_an_alarm() -> None:
    h = Timed(settings=settings(features=SQUAWK))
    h.cmd("TRIGGER")
    h.at(10)
    assert h.siren
    begin = h.now
    h.cmd("DISARM", A)
    h.at(1)
    assert [on for _, on in h.siren_log(begin)] == [False, True, False, True, False]
    assert h.state is PanelState.DISARMED and not h.siren


# -------------------------------------------------------------------- properties

CHIMING = Features(
    chime=True,
    squawk_arm=Chirps(2, 0.15, 0.25),
    squawk_disarm=Chirps(3, 0.2, 0.3),
    walk_test_timeout=300,
)


@given(steps)
@hyp_settings(max_examples=200, deadline=None)
def test_with_chime_and_squawk_the_siren_still_serves_the_alarm_first(
    sequence: list[tuple[float, Input]],
) -> None:
    """Whatever chimes, squawks and holds come, what the outside world was told is
    what the panel decides, the siren sounds whenever the alarm does, and once every
    hold is over it sounds exactly while the alarm does."""
    h = Timed(settings=settings(features=CHIMING))
    for delay, event in sequence:
        h.at(delay)
        h.send(event)
        siren, light = h.panel.actuators(h.settings)
        assert (h.siren, h.light) == (siren.on, light.on)
        if h.state is PanelState.TRIGGERED:
            assert h.siren and h.light
        if h.panel.walk_test is not None:
            assert h.state is PanelState.DISARMED
    h.at(MAX_HOLD + 1)
    assert h.siren == (h.state is PanelState.TRIGGERED)
