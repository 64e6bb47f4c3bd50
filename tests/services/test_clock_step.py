"""The wall clock set forward under a running controller (NTP fixing a Pi that booted
without a real-time clock): every deadline is kept. The real controller on a real
Mosquitto; its clock is a stepping clock over a fake wall clock, so this machine's
clock is never touched (docs/reliability.md)."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Callable
from contextlib import closing

import pytest

from homeguard.adapters.clock import SteppingClock
from homeguard.app import connected_controller
from tests.conftest import wait_until
from tests.services.conftest import House, Observer, event

pytestmark = [pytest.mark.faults, pytest.mark.broker]

STATE = "home/alarm/state"
SIREN = "home/control/alarm"
EVENT = "home/alarm/event"
ENTRY = 4.0
SIREN_TIME = 3.0
HOUR = 3600.0


class SettableWall:
    """The real time plus an offset the test sets, as NTP or ``date -s`` would."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


def stored(house: House) -> list[tuple[float, str, str]]:
    path = house.data_dir / "events.db"
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
        rows = db.execute("SELECT timestamp, event_type, data FROM system_events ORDER BY id")
        return [(float(t), str(kind), str(data)) for t, kind, data in rows]


def test_a_clock_step_forward_in_the_entry_delay_keeps_every_deadline(
    house_factory: Callable[..., House], observer: Observer
) -> None:
    # The shed is supervised (600 s): an hour's step must not make it look silent.
    house = house_factory(entry=ENTRY, siren=SIREN_TIME, supervision=600)
    wall = SettableWall()
    stop = threading.Event()
    with connected_controller(house.site, clock=SteppingClock(wall=wall)) as controller:
        thread = threading.Thread(target=controller.run, args=(stop,), daemon=True)
        thread.start()
        try:
            observer.command("ARM_AWAY", "1234")
            observer.wait_for(STATE, "armed_away")
            tripped = time.monotonic()
            observer.publish("home/security/door/front", json.dumps({"state": "OPEN"}))
            observer.wait_for(STATE, "pending", timeout=5, after=tripped)
            time.sleep(1.0)  # into the entry delay
            stepped_at = wall()
            wall.offset += HOUR

            siren_on = observer.wait_for(SIREN, "ON", timeout=ENTRY + 5, after=tripped)
            assert siren_on - tripped >= ENTRY - 0.1  # never early: the step is no time
            assert siren_on - tripped < ENTRY + 2.0  # nor an hour late
            siren_off = observer.wait_for(SIREN, "OFF", timeout=SIREN_TIME + 5, after=siren_on)
            assert siren_off - siren_on >= SIREN_TIME - 0.1
            observer.wait_for(STATE, "armed_away", after=siren_on)
            observer.wait_for(EVENT, event("clock_step"), after=tripped)

            (step,) = observer.events("clock_step")
            assert step["delta"] == pytest.approx(HOUR, abs=1.0)
            assert step["timestamp"] >= stepped_at + HOUR  # on the corrected clock
            assert not observer.events("trouble")  # no sensor looks silent
            assert controller.panel.sensor("shed").trouble is None
            assert controller.stats.started_at > stepped_at  # an uptime without the hour
            wait_until(
                lambda: "alarm_ended" in [kind for _, kind, _ in stored(house)],
                what="the alarm's end stored",
            )
        finally:
            stop.set()
            thread.join(timeout=15)
    rows = stored(house)
    kinds = [kind for _, kind, _ in rows]
    assert kinds.count("clock_step") == 1
    assert [k for k in kinds if k in ("pending", "triggered", "alarm_ended")] == [
        "pending",
        "triggered",
        "alarm_ended",
    ]
    times = {kind: t for t, kind, _ in rows}
    assert times["pending"] < stepped_at + 1.0  # records made before keep their time
    assert times["triggered"] >= stepped_at + HOUR  # and later ones are on the new clock
