"""A restart is not news: offlines read in the grace period after a start are stale."""

from __future__ import annotations

import pytest

from homeguard.core import snapshot
from homeguard.core.model import PanelState
from homeguard.core.panel import Trouble, resume
from homeguard.core.signals import Availability, EventKind
from tests.core.harness import PINS, House, settings

A = PINS["alice"]
GRACE = 60.0  # the default


def restarted(house: House, down: float) -> House:
    """The controller stops (its snapshot stored) and starts again ``down`` s later."""
    saved = snapshot.dump(house.panel)
    house.now += down
    house.effects.clear()
    house.apply(resume(snapshot.load(saved, house.settings), house.settings, house.now))
    return house


def armed_away() -> House:
    house = House()
    house.cmd("ARM_AWAY", A)
    house.at(50)
    house.sensor("shed", "CLOSED")  # supervised: it speaks now and then
    house.at(11)
    assert house.state is PanelState.ARMED_AWAY
    assert not house.events(EventKind.TROUBLE)
    return house


def quiet(house: House) -> bool:
    return not (
        house.events(EventKind.TROUBLE)
        or house.events(EventKind.TRIGGERED)
        or house.events(EventKind.PENDING)
        or house.siren
    )


def test_stale_offline_of_every_sensor_is_no_news_when_they_come_back() -> None:
    house = restarted(armed_away(), down=300)
    sensors = [spec.id for spec in house.settings.sensors]
    for sensor_id in sensors:  # the retained offlines from the last run, read first
        house.send(Availability(sensor_id, online=False))
    house.at(5)
    for sensor_id in sensors:  # the devices come back
        house.send(Availability(sensor_id, online=True))
    house.at(GRACE - 1)  # past the grace; shed's supervision (60 s) not yet run out
    assert house.state is PanelState.ARMED_AWAY
    assert quiet(house), house.effects
    assert not house.events(EventKind.RESTORED)
    assert all(house.panel.sensor(s).trouble is None for s in sensors)


def test_a_message_from_the_sensor_also_counts_as_back() -> None:
    house = restarted(armed_away(), down=30)
    house.send(Availability("shed", online=False))
    house.at(GRACE - 1)
    house.sensor("shed", "CLOSED")
    house.at(30)
    assert quiet(house), house.effects


def test_a_sensor_not_back_is_in_trouble_when_the_grace_ends_and_trips() -> None:
    house = restarted(armed_away(), down=30)
    started = house.now
    house.send(Availability("shed", online=False))  # trigger_unavailable, debounce 20 s
    house.at(GRACE - 0.5)
    assert quiet(house)
    house.at(1)
    troubles = house.events(EventKind.TROUBLE)
    assert [t.data["sensor"] for t in troubles] == ["shed"]
    status = house.panel.sensor("shed")
    assert status.trouble is Trouble.OFFLINE
    assert status.trouble_since == started  # offline since it was heard so
    # Its debounce ran out within the grace: it trips when the grace ends (an entry
    # door: the entry delay starts), as if it had gone offline while armed.
    assert house.state is PanelState.PENDING
    assert house.panel.since == started + GRACE


def test_trouble_from_before_the_restart_does_not_trip_when_back_within_grace() -> None:
    house = armed_away()
    house.send(Availability("shed", online=False))  # goes offline, then the restart
    assert house.events(EventKind.TROUBLE)
    house = restarted(house, down=100)  # its 20 s debounce ran out while we were down
    assert house.state is PanelState.ARMED_AWAY
    house.at(10)
    house.send(Availability("shed", online=True))
    house.at(GRACE - 5)  # past the grace
    assert quiet(house), house.effects
    assert [e.data["sensor"] for e in house.events(EventKind.RESTORED)] == ["shed"]


def test_trouble_from_before_the_restart_trips_after_the_grace_if_still_offline() -> None:
    house = armed_away()
    house.send(Availability("shed", online=False))
    house = restarted(house, down=100)
    house.at(GRACE - 1)
    assert house.state is PanelState.ARMED_AWAY
    house.at(2)
    assert house.state is PanelState.PENDING
    assert not house.events(EventKind.TROUBLE)  # raised before the restart already


def test_no_supervision_trouble_within_the_grace() -> None:
    house = House(settings=settings(restart_grace=120.0))  # shed: supervision 60 s
    house = restarted(house, down=10)
    house.at(110)
    assert not house.events(EventKind.TROUBLE)
    house.sensor("shed", "CLOSED")
    house.at(59)
    assert not house.events(EventKind.TROUBLE)
    house.at(2)  # silent for its supervision interval, after the grace
    assert [e.data["trouble"] for e in house.events(EventKind.TROUBLE)] == ["supervision"]


def test_entry_delay_is_not_stretched_by_the_grace() -> None:
    house = armed_away()
    house.sensor("front", "OPEN")
    house = restarted(house, down=10)
    assert house.state is PanelState.PENDING
    house.at(21)
    assert house.state is PanelState.TRIGGERED  # 30 s from the opening, not the grace


def test_offline_of_a_sensor_heard_since_the_start_is_news_at_once() -> None:
    house = restarted(armed_away(), down=30)
    house.send(Availability("living", online=True))  # back (or never gone)
    house.at(1)
    house.send(Availability("living", online=False))  # and now it really goes
    assert [e.data["sensor"] for e in house.events(EventKind.TROUBLE)] == ["living"]
    assert house.state is PanelState.ARMED_AWAY  # living has no trigger_unavailable


def test_offline_after_the_grace_is_news_at_once() -> None:
    house = restarted(armed_away(), down=30)
    house.at(GRACE - 5)
    house.sensor("shed", "CLOSED")
    house.at(10)
    house.send(Availability("living", online=False))
    assert [e.data["sensor"] for e in house.events(EventKind.TROUBLE)] == ["living"]


@pytest.mark.parametrize("down", [0.0, 500.0])
def test_zero_grace_believes_every_offline(down: float) -> None:
    house = restarted(House(settings=settings(restart_grace=0.0)), down=down)
    house.send(Availability("living", online=False))
    assert [e.data["sensor"] for e in house.events(EventKind.TROUBLE)] == ["living"]


def test_a_noted_offline_survives_a_snapshot() -> None:
    house = restarted(armed_away(), down=30)
    house.send(Availability("shed", online=False))
    panel = snapshot.load(snapshot.dump(house.panel), house.settings)
    assert panel == house.panel
    assert panel.sensor("shed").offline_since == house.now
    assert panel.quiet_until == house.now + GRACE


def test_negative_grace_is_refused() -> None:
    with pytest.raises(ValueError, match="restart_grace"):
        settings(restart_grace=-1.0)
