"""The walk test (core.walk_test): every trip recorded and chimed, no alarm."""

from __future__ import annotations

from homeguard.core import snapshot
from homeguard.core.features import Features
from homeguard.core.model import PanelState
from homeguard.core.panel import RejectReason, resume
from homeguard.core.signals import EventKind, SensorReport
from tests.core.harness import PINS, House, settings

A = PINS["alice"]


def walking(timeout: float = 600) -> House:
    house = House(settings=settings(features=Features(walk_test_timeout=timeout)))
    assert house.cmd("WALK_TEST", A).rejection is None
    return house


def test_a_walk_test_needs_a_code_that_may_disarm() -> None:
    house = House()
    for code, reason in (
        (None, RejectReason.CODE_REQUIRED),
        ("0000", RejectReason.INVALID_CODE),
        (PINS["bob"], RejectReason.NOT_AUTHORIZED),  # may arm, not disarm
    ):
        refused = house.cmd("WALK_TEST", code).rejection
        assert refused is not None and refused.reason is reason
        assert house.panel.walk_test is None
    assert house.cmd("WALK_TEST", PINS["guest"]).rejection is None  # may disarm
    (started,) = house.events(EventKind.WALK_TEST_STARTED)
    assert started.data["user"] == "guest"
    assert started.data["until"] == house.now + 1800  # the default timeout


def test_a_walk_test_only_starts_from_disarmed() -> None:
    house = House()
    house.cmd("ARM_HOME", A)
    refused = house.cmd("WALK_TEST", A).rejection
    assert refused is not None and refused.reason is RejectReason.NOT_ALLOWED
    assert house.state is PanelState.ARMED_HOME and house.panel.walk_test is None


def test_every_trip_is_recorded_and_chimes_and_none_sounds_the_alarm() -> None:
    house = walking()
    house.sensor("front", "OPEN")
    assert house.siren  # the chime that confirms the trip
    house.at(1)
    assert not house.siren
    house.sensor("living", "OPEN")
    house.sensor("hall", "MOTION")
    house.sensor("lid", "TAMPER")  # a 24-hour zone: tested, not an alarm
    house.send(SensorReport("back", None, tamper=True))  # a door's tamper flag
    house.sensor("front", "CLOSED")
    house.sensor("front", "OPEN")  # again: recorded, not counted twice
    house.at(1)
    assert house.state is PanelState.DISARMED and not house.siren
    assert not house.events(EventKind.TRIGGERED) and not house.events(EventKind.PENDING)
    trips = [
        (e.data["sensor"], e.data["state"], e.data["first"])
        for e in house.events(EventKind.WALK_TEST)
    ]
    assert trips == [
        ("front", "OPEN", True),
        ("living", "OPEN", True),
        ("hall", "MOTION", True),
        ("lid", "TAMPER", True),
        ("back", "TAMPER", True),
        ("front", "OPEN", False),
    ]
    assert house.panel.walk_test is not None
    assert house.panel.walk_test.tested == ("front", "living", "hall", "lid", "back")


def test_the_walk_test_ends_by_itself_and_the_panel_guards_again() -> None:
    house = walking(timeout=60)
    house.sensor("front", "OPEN")
    house.at(59)
    assert house.panel.walk_test is not None
    house.at(1)
    assert house.panel.walk_test is None
    (ended,) = house.events(EventKind.WALK_TEST_ENDED)
    assert ended.data["reason"] == "timeout"
    assert ended.data["tested"] == ["front"]
    assert ended.data["untested"] == ["back", "living", "hall", "lid", "garage", "shed"]
    house.sensor("lid", "TAMPER")
    assert house.state is PanelState.TRIGGERED


def test_the_walk_test_ends_by_command_or_disarm() -> None:
    house = walking()
    assert house.cmd("WALK_TEST_END", PINS["bob"]).rejection is None  # arm right is enough
    assert house.panel.walk_test is None
    house.cmd("WALK_TEST", A)
    house.cmd("DISARM", A)
    assert house.panel.walk_test is None
    reasons = [e.data["reason"] for e in house.events(EventKind.WALK_TEST_ENDED)]
    assert reasons == ["command", "disarm"]


def test_a_second_walk_test_command_gives_it_its_whole_time_again() -> None:
    house = walking(timeout=60)
    house.sensor("front", "OPEN")
    house.at(50)
    house.cmd("WALK_TEST", A)
    house.at(50)
    assert house.panel.walk_test is not None and house.panel.walk_test.tested == ("front",)
    assert len(house.events(EventKind.WALK_TEST_STARTED)) == 1


def test_arming_ends_the_walk_test_first() -> None:
    house = walking()
    house.cmd("ARM_AWAY", A)
    assert house.state is PanelState.ARMING and house.panel.walk_test is None
    (ended,) = house.events(EventKind.WALK_TEST_ENDED)
    assert ended.data["reason"] == "arming"
    house.at(60)
    house.sensor("living", "OPEN")
    assert house.state is PanelState.TRIGGERED


def test_a_manual_trigger_ends_the_walk_test_and_sounds() -> None:
    house = walking()
    house.cmd("TRIGGER")
    assert house.state is PanelState.TRIGGERED and house.siren
    assert house.panel.walk_test is None


def test_a_walk_test_resumes_after_a_restart_with_its_end_unchanged() -> None:
    house = walking(timeout=60)
    house.sensor("hall", "MOTION")
    house.at(20)
    restored = snapshot.load(snapshot.dump(house.panel), house.settings)
    out = resume(restored, house.settings, house.now + 10)
    assert out.panel.walk_test == house.panel.walk_test
    assert out.panel.state is PanelState.DISARMED
    late = resume(restored, house.settings, house.now + 100)
    assert late.panel.walk_test is None
