"""A configured sensor whose login was revoked (issue 9, finding 10): a trouble that
blocks arming like any other, never an alarm by itself."""

from __future__ import annotations

from homeguard.core.model import ArmMode
from homeguard.core.model import PanelState as S
from homeguard.core.panel import Trouble, blocking_sensors
from homeguard.core.signals import EventKind, Revoked
from tests.core.harness import PINS, House


def test_a_revoked_sensor_is_a_trouble_raised_once() -> None:
    house = House()
    house.send(Revoked("front"))
    house.send(Revoked("front"))  # every controller start says it again
    assert house.panel.sensor("front").trouble is Trouble.REVOKED
    (trouble,) = house.events(EventKind.TROUBLE)
    assert trouble.data == {"sensor": "front", "trouble": "revoked"}
    assert "revoked" in trouble.description
    assert blocking_sensors(house.panel, house.settings, ArmMode.AWAY) == {"front": "revoked"}
    assert house.cmd("ARM_AWAY", PINS["alice"]).rejection is not None  # needs force
    assert house.cmd("ARM_AWAY", PINS["alice"], force=True).rejection is None


def test_a_revoked_sensor_never_trips_by_being_unavailable() -> None:
    house = House()
    house.cmd("ARM_AWAY", PINS["alice"], force=True)
    house.at(60)
    assert house.state is S.ARMED_AWAY
    # shed trips when unavailable for 20 s while armed; revoked is our own doing.
    house.send(Revoked("shed"))
    house.at(3600)
    assert house.state is S.ARMED_AWAY
    assert house.panel.sensor("shed").trouble is Trouble.REVOKED
