"""Door chime, walk test and squawk end to end: a real Mosquitto and the real controller
(docs/panel-features.md)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

from homeguard.core.model import SensorState
from homeguard.services.controller import Controller
from tests.conftest import retained, wait_until
from tests.services.conftest import House, Observer, event, running

pytestmark = pytest.mark.broker

STATE = "home/alarm/state"
SIREN = "home/control/alarm"
EVENT = "home/alarm/event"
AVAILABILITY = "home/alarm/availability"


@contextmanager
def house_with(
    house_factory: Callable[..., House], panel: str
) -> Iterator[tuple[House, Controller]]:
    """The test house with ``panel`` (YAML lines) added to its panel section, running."""
    house = house_factory()
    text = house.config_path.read_text()
    house.config_path.write_text(text.replace("panel:\n", f"panel:\n{panel}\n", 1))
    with running(house.site) as controller:
        yield house, controller


def sirens(observer: Observer, after: float) -> list[tuple[float, str]]:
    return [
        (when, m.payload.decode())
        for when, m in list(observer.seen)
        if m.topic == SIREN and when >= after
    ]


def test_an_entry_door_chimes_while_disarmed(
    house_factory: Callable[..., House], observer: Observer
) -> None:
    with house_with(house_factory, "  chime: {enabled: true, chirp: 0.3}") as (_, controller):
        observer.wait_for(STATE, "disarmed")
        opened = time.monotonic()
        observer.publish("home/security/door/front", "OPEN")
        on = observer.wait_for(SIREN, "ON", after=opened)
        off = observer.wait_for(SIREN, "OFF", after=on)
        assert off - on >= 0.3 - 0.15  # the whole chirp (less the observer's jitter)
        observer.publish("home/security/window/living", "OPEN")  # not a chime sensor
        observer.publish("home/security/door/front", "CLOSED")
        closed = lambda: controller.panel.sensor("front").state is SensorState.CLOSED  # noqa: E731
        wait_until(closed, what="the door closed")  # and the window, sent before it
        assert controller.panel.sensor("living").active
        assert [payload for _, payload in sirens(observer, on)] == ["ON", "OFF"]
        assert controller.panel.state.value == "disarmed"
        assert not observer.events("triggered")


def test_a_walk_test_records_every_trip_and_sounds_no_alarm(
    house_factory: Callable[..., House], observer: Observer
) -> None:
    with house_with(house_factory, "  walk_test: {timeout: 600}") as (house, controller):
        observer.wait_for(STATE, "disarmed")
        observer.command("WALK_TEST", "1234")
        observer.wait_for(EVENT, event("walk_test_started"))
        started = time.monotonic()
        observer.publish("home/security/tamper/lid", "TAMPER")  # a 24-hour zone
        observer.publish("home/security/motion/hall", "MOTION")
        wait_until(lambda: len(observer.events("walk_test")) == 2, what="two walk_test events")
        assert [(e["sensor"], e["state"]) for e in observer.events("walk_test")] == [
            ("lid", "TAMPER"),
            ("hall", "MOTION"),
        ]
        observer.wait_for(SIREN, "OFF", after=observer.wait_for(SIREN, "ON", after=started))
        assert not observer.events("triggered") and controller.panel.state.value == "disarmed"
        assert retained(house.broker, STATE) == "disarmed"  # Home Assistant sees nothing new
        wait_until(
            lambda: house.store().count_system_events(event_type="walk_test") == 2,
            what="the walk_test events stored",
        )
        observer.command("WALK_TEST_END", "1234")
        wait_until(lambda: observer.events("walk_test_ended"), what="walk_test_ended")
        (ended,) = observer.events("walk_test_ended")
        assert ended["reason"] == "command" and ended["tested"] == ["lid", "hall"]
        observer.publish("home/security/tamper/lid", "OFF")
        observer.publish("home/security/tamper/lid", "TAMPER")
        observer.wait_for(STATE, "triggered")  # the panel guards again


def test_arming_and_disarming_squawk(
    house_factory: Callable[..., House], observer: Observer
) -> None:
    squawk = "  squawk: {arm: 1, disarm: 2, chirp: 0.1, gap: 0.2}"
    started = time.monotonic()
    with house_with(house_factory, squawk):
        observer.wait_for(STATE, "disarmed")
        # The first turn after connecting says everything again, the siren too: an ON
        # of a squawk already under way would be said twice.
        observer.wait_for(AVAILABILITY, "online", after=started)
        armed = time.monotonic()
        observer.command("ARM_AWAY", "1234")
        on = observer.wait_for(SIREN, "ON", after=armed)
        observer.wait_for(STATE, "armed_away", after=armed)  # after the 1 s exit delay
        assert [p for _, p in sirens(observer, on)] == ["ON", "OFF"]
        disarmed = time.monotonic()
        observer.command("DISARM", "1234")
        observer.wait_for(STATE, "disarmed", after=disarmed)
        wait_until(lambda: len(sirens(observer, disarmed)) == 4, what="two chirps")
        assert [p for _, p in sirens(observer, disarmed)] == ["ON", "OFF", "ON", "OFF"]


def test_a_walk_test_outlives_a_controller_restart(
    house_factory: Callable[..., House], observer: Observer
) -> None:
    with house_with(house_factory, "  walk_test: {timeout: 600}") as (house, _):
        observer.wait_for(STATE, "disarmed")
        observer.command("WALK_TEST", "1234")
        observer.wait_for(EVENT, event("walk_test_started"))
    with running(house.site) as controller:
        resumed = lambda: controller.panel.quiet_until > 0  # noqa: E731 - started
        wait_until(resumed, what="the controller resumed the stored panel")
        assert controller.panel.walk_test is not None
        observer.publish("home/security/window/living", "OPEN")
        wait_until(lambda: observer.events("walk_test"), what="a walk_test event")
        assert not observer.events("triggered")
        assert controller.panel.walk_test is not None
        assert controller.panel.walk_test.tested == ("living",)
