"""A part of homeguard in trouble (the event store): trouble, restored, losses reported."""

from __future__ import annotations

from homeguard.core import snapshot
from homeguard.core.model import PanelState
from homeguard.core.signals import (
    EventKind,
    Notify,
    PublishState,
    RecordEvent,
    SystemHealth,
    SystemPart,
)
from tests.core.harness import PINS, House, settings

FAILING = SystemHealth(SystemPart.STORAGE, ok=False, detail="database or disk is full")


def test_a_failing_store_raises_one_trouble_and_restates_the_panel() -> None:
    house = House()
    outcome = house.send(FAILING)
    (trouble,) = house.events(EventKind.TROUBLE)
    assert trouble.data == {"part": "storage", "detail": "database or disk is full"}
    assert "database or disk is full" in trouble.description
    assert any(isinstance(e, Notify) for e in outcome.effects)
    assert any(isinstance(e, PublishState) for e in outcome.effects)
    assert house.panel.system_troubles == {SystemPart.STORAGE: house.now}
    house.send(FAILING)  # still failing: no second trouble
    assert len(house.events(EventKind.TROUBLE)) == 1


def test_writes_succeeding_again_restore_it_and_report_what_was_dropped() -> None:
    house = House()
    house.send(FAILING)
    since = house.now
    house.at(60).send(SystemHealth(SystemPart.STORAGE, ok=True, lost=7))
    (restored,) = house.events(EventKind.RESTORED)
    assert restored.data == {"part": "storage", "since": since}
    (dropped,) = house.events(EventKind.RECORDS_DROPPED)
    assert dropped.data == {"part": "storage", "count": 7}
    assert house.panel.system_troubles == {}


def test_a_working_store_is_no_news() -> None:
    house = House()
    outcome = house.send(SystemHealth(SystemPart.STORAGE, ok=True))
    assert not [e for e in outcome.effects if isinstance(e, PublishState | RecordEvent)]
    assert outcome.panel.system_troubles == {}


def test_the_panel_arms_and_alarms_with_the_store_in_trouble() -> None:
    house = House()
    house.send(FAILING)
    house.cmd("ARM_HOME", PINS["alice"])
    assert house.state is PanelState.ARMED_HOME  # a storage trouble does not block arming
    house.sensor("front", "OPEN")
    assert house.state is PanelState.PENDING
    house.at(31)
    assert house.state is PanelState.TRIGGERED and house.siren


def test_system_troubles_survive_a_snapshot() -> None:
    house = House()
    house.send(FAILING)
    restored = snapshot.load(snapshot.dump(house.panel), settings())
    assert restored.system_troubles == {SystemPart.STORAGE: house.now}
