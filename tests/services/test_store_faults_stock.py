"""The store fails on the broker users already have: a default-config Mosquitto, which
delivers a client at most 20 unacknowledged messages. The controller holds the
acknowledgement of a message until its records are committed, so while the store fails
the messages that give it nothing to write (heartbeats above all) are acknowledged at
once: otherwise 20 heartbeats of an outage would leave the panel deaf to the doors."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import MosquittoProcess, wait_until
from tests.services.conftest import House, Observer, running
from tests.services.test_store_faults import (
    ENTRY,
    EVENT,
    SIREN_TIME,
    STATE,
    query,
    storage_event,
)

pytestmark = pytest.mark.faults


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[MosquittoProcess]:
    """Here the house's broker is a stock one (`listener` + `allow_anonymous` only)."""
    broker = MosquittoProcess(tmp_path / "stock-mosquitto", stock=True)
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


def test_heartbeats_during_a_store_outage_never_deafen_the_panel_on_a_stock_broker(
    house_factory: Callable[..., House], observer: Observer
) -> None:
    house = house_factory(entry=ENTRY, siren=SIREN_TIME, supervision=3600)
    holder: list[sqlite3.Connection] = []
    with running(house.site) as controller:
        observer.command("ARM_AWAY", "1234")
        observer.wait_for(STATE, "armed_away")
        broken = time.monotonic()
        other = sqlite3.connect(house.data_dir / "events.db", isolation_level=None)
        other.execute("BEGIN EXCLUSIVE")  # another program holds the write lock
        holder.append(other)
        try:
            observer.publish("home/security/window/living", "CLOSED")  # a write that fails
            observer.wait_for(EVENT, storage_event("trouble"), timeout=15, after=broken)
            for seq in range(100):  # five times the stock broker's in-flight window
                observer.publish("home/security/window/living", json.dumps({"seq": seq}))
            wait_until(lambda: controller.stats.messages >= 100, what="every heartbeat heard")
            tripped = time.monotonic()
            observer.publish("home/security/door/front", "OPEN")
            observer.wait_for(STATE, "pending", timeout=5, after=tripped)
        finally:
            other.execute("COMMIT")
            other.close()
        observer.wait_for(EVENT, storage_event("restored"), timeout=15, after=tripped)
        wait_until(
            lambda: (
                query(house, "SELECT state FROM sensor_events WHERE device_id = 'front'")
                == [("OPEN",)]
            ),
            what="the door's event stored once the store works again",
        )
