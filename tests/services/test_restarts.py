"""A restart is not news: stale retained offlines raise no trouble and trip nothing."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from homeguard.adapters.store import EventStore
from homeguard.app import Site, connected_controller
from homeguard.config import load_config
from tests.conftest import MosquittoProcess, wait_until
from tests.services.conftest import Observer

pytestmark = [pytest.mark.broker, pytest.mark.faults]

GRACE = 3.0
DEBOUNCE = 0.5
HOUSE = """
mqtt: {{host: 127.0.0.1, port: {port}, base_topic: home}}
storage: {{path: events.db, synchronous: normal}}
web: {{enabled: false}}
panel:
  restart_grace: {grace}
  modes:
    armed_away: {{exit_delay: 0, entry_delay: 1, siren_time: 30}}
sensors:
  - {{id: front, type: door, trigger_unavailable: true, unavailable_debounce: {debounce}}}
  - {{id: garden, type: window, trigger_unavailable: true, unavailable_debounce: {debounce}}}
"""
SENSORS = ("front", "garden")


@pytest.fixture
def site(mosquitto: MosquittoProcess, tmp_path: Path) -> Site:
    path = tmp_path / "homeguard.yaml"
    path.write_text(HOUSE.format(port=mosquitto.port, grace=GRACE, debounce=DEBOUNCE))
    return Site(load_config(path), tmp_path / "data")


@contextmanager
def running(site: Site) -> Iterator[float]:
    """A controller in a thread; yields the wall time just before it started."""
    stop = threading.Event()
    started = time.time()
    with connected_controller(site) as controller:
        thread = threading.Thread(target=controller.run, args=(stop,), daemon=True)
        thread.start()
        try:
            yield started
        finally:
            stop.set()
            thread.join(timeout=10)


def availability(observer: Observer, sensor: str, value: str) -> None:
    observer.publish(f"home/devices/{sensor}/availability", value, retain=True)


def system_events(site: Site, kind: str, since: float) -> list[str]:
    with EventStore(site.store_path) as store:
        rows = store.system_events(since=since, event_type=kind, limit=None)
    return [str((e.data or {}).get("sensor")) for e in rows]


def armed_then_stopped_with_devices_offline(site: Site, observer: Observer) -> None:
    """A run armed away; then the whole system stops: the devices' Last Wills say
    offline (retained) after the controller has gone."""
    with running(site):
        for sensor in SENSORS:
            availability(observer, sensor, "online")
        observer.command("ARM_AWAY")
        observer.wait_for("home/alarm/state", "armed_away")
    for sensor in SENSORS:
        availability(observer, sensor, "offline")
    observer.client.wait_published(5)


def test_devices_back_within_the_grace_raise_nothing(site: Site, observer: Observer) -> None:
    armed_then_stopped_with_devices_offline(site, observer)
    with running(site) as started:
        time.sleep(1.0)  # the retained offlines are read; the devices take a moment
        for sensor in SENSORS:
            availability(observer, sensor, "online")
        time.sleep(GRACE + DEBOUNCE + 1.0)  # past the grace: nothing may come of it
        assert system_events(site, "trouble", since=started) == []
        assert system_events(site, "triggered", since=started) == []
        assert system_events(site, "pending", since=started) == []
        assert observer.events("trouble") == []
    with EventStore(site.store_path) as store:
        assert '"state":"armed_away"' in (store.load_snapshot() or "")


def test_a_device_not_back_is_in_trouble_after_the_grace_and_trips(
    site: Site, observer: Observer
) -> None:
    armed_then_stopped_with_devices_offline(site, observer)
    with running(site) as started:
        time.sleep(1.0)
        availability(observer, "front", "online")  # garden stays away
        observer.wait_for("home/alarm/state", "triggered", timeout=GRACE + 10)
        # Published at the decision, stored by the writer's commit a moment later.
        wait_until(lambda: system_events(site, "triggered", since=started), what="stored")
        assert system_events(site, "trouble", since=started) == ["garden"]
        with EventStore(site.store_path) as store:
            (trouble,) = store.system_events(since=started, event_type="trouble")
            (alarm,) = store.system_events(since=started, event_type="triggered")
        assert trouble.ts >= started + GRACE  # not before the grace ends
        assert alarm.ts >= started + GRACE
        assert (alarm.data or {}).get("sensors") == ["garden"]
