"""The panel never waits for the disk: a real controller on a real Mosquitto while its
event store is full, read-only or locked (docs/reliability.md)."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path

import pytest

from homeguard.adapters.web.documents import state_document
from homeguard.adapters.web.schemas import SystemFigures
from homeguard.core.model import Action
from homeguard.core.signals import Command
from tests.conftest import wait_until
from tests.services.conftest import House, Observer, running

pytestmark = [pytest.mark.faults, pytest.mark.broker]

STATE = "home/alarm/state"
SIREN = "home/control/alarm"
EVENT = "home/alarm/event"
ENTRY = 3.0  # seconds of entry delay in these houses
SIREN_TIME = 3.0


class Sender:
    """Publishes window and door reports that carry a ``seq``, and remembers them."""

    def __init__(self, observer: Observer) -> None:
        self.observer = observer
        self.sent: list[int] = []

    def send(self, sensor: str, kind: str, state: str) -> None:
        seq = len(self.sent)
        body = {"state": state, "seq": seq, "ts": 1.7e9 + seq}
        self.observer.publish(f"home/security/{kind}/{sensor}", json.dumps(body))
        self.sent.append(seq)

    def windows(self, count: int) -> None:
        for _ in range(count):
            self.send("living", "window", "CLOSED")  # a watched window, staying closed


def query(house: House, sql: str) -> list[tuple[object, ...]]:
    """Read the store as another program would, read-only (it may be immutable now)."""
    path = house.data_dir / "events.db"
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
        return db.execute(sql).fetchall()


def stored_seqs(house: House) -> list[int]:
    rows = query(house, "SELECT metadata FROM sensor_events ORDER BY id")
    return [int(json.loads(str(metadata))["seq"]) for (metadata,) in rows]


def system_types(house: House) -> list[str]:
    return [
        str(kind) for (kind,) in query(house, "SELECT event_type FROM system_events ORDER BY id")
    ]


def storage_event(kind: str) -> Callable[[bytes], bool]:
    def test(payload: bytes) -> bool:
        body = json.loads(payload)
        return bool(body.get("event") == kind and body.get("part") == "storage")

    return test


def break_in_while_the_store_fails(
    house: House,
    observer: Observer,
    break_store: Callable[[], None],
    mend_store: Callable[[], None],
) -> None:
    """Armed away; the store breaks; the front door opens: the panel must go to pending
    at once and sound the siren after the entry delay, raise a storage trouble, then
    store everything in order exactly once when the store is mended, and acknowledge
    every message (a restarted controller gets none of them again)."""
    sender = Sender(observer)
    with running(house.site) as controller:
        observer.command("ARM_AWAY", "1234")
        observer.wait_for(STATE, "armed_away")
        sender.windows(5)
        wait_until(lambda: len(stored_seqs(house)) == 5, what="the first events stored")

        broken = time.monotonic()
        break_store()
        sender.windows(5)
        tripped = time.monotonic()
        sender.send("front", "door", "OPEN")
        observer.wait_for(STATE, "pending", timeout=5, after=tripped)
        observer.wait_for(EVENT, storage_event("trouble"), timeout=15, after=broken)
        assert "storage" in controller.panel.system_troubles
        siren_on = observer.wait_for(SIREN, "ON", timeout=ENTRY + 5, after=tripped)
        assert siren_on - tripped >= ENTRY - 0.1  # the entry delay, never early
        observer.wait_for(STATE, "triggered", after=tripped)
        # The status restated with the trouble (it follows the state message it goes with,
        # so it may arrive a moment after "triggered").
        observer.wait_for(
            "home/security/status",
            lambda p: json.loads(p)["system_troubles"] == ["storage"],
            after=broken,
        )
        shown = house.cli("status")
        assert "trouble:    storage" in shown.stdout, shown.stdout + shown.stderr
        sender.windows(5)
        assert stored_seqs(house) == list(range(5))  # nothing written meanwhile

        mended = time.monotonic()
        mend_store()
        observer.wait_for(EVENT, storage_event("restored"), timeout=15, after=mended)
        wait_until(lambda: stored_seqs(house) == sender.sent, what="every event stored")
        observer.wait_for(SIREN, "OFF", timeout=SIREN_TIME + 5, after=siren_on)
        wait_until(lambda: "alarm_ended" in system_types(house), what="the alarm's end stored")
        types = system_types(house)
        alarm = ["armed", "pending", "triggered"]
        assert [t for t in types if t in alarm] == alarm  # in order, each once
        for kind in ("trouble", "restored", "alarm_ended"):
            assert types.count(kind) == 1, f"{kind}: {' '.join(types)}"  # all, for a rare failure
        assert types.index("trouble") < types.index("restored")
        times = [float(str(t)) for (t,) in query(house, "SELECT timestamp FROM system_events")]
        assert times == sorted(times)
        assert not controller.panel.system_troubles
        assert controller.view().stats.store_waiting == 0

    # Restarted: the broker delivers again whatever was not acknowledged, before anything
    # new. Of the sensors' messages, only the marker published now may arrive.
    with running(house.site) as again:
        sender.windows(1)
        wait_until(lambda: stored_seqs(house) == sender.sent, what="the marker stored")
        assert again.stats.sensor_events == 1


@pytest.fixture
def small_disk(house_factory: Callable[..., House]) -> Iterator[House]:
    """A house whose data directory is a 4 MB tmpfs."""
    house = house_factory(entry=ENTRY, siren=SIREN_TIME, supervision=3600)
    house.data_dir.mkdir(parents=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4M", "tmpfs", str(house.data_dir)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {mounted.stderr.strip()}")
    try:
        yield house
    finally:
        subprocess.run(["umount", "-l", str(house.data_dir)], check=False)


def fill(filler: Path) -> Path:
    """Write ``filler`` until its filesystem is full."""
    # Unbuffered: a buffered file would raise ENOSPC again when it closes.
    with filler.open("wb", buffering=0) as out:
        try:
            while True:
                out.write(b"\0" * 65536)
        except OSError:
            pass
    return filler


def test_a_full_disk_never_stops_the_alarm(small_disk: House, observer: Observer) -> None:
    filler = small_disk.data_dir / "filler"
    break_in_while_the_store_fails(
        small_disk,
        observer,
        break_store=lambda: fill(filler),
        mend_store=filler.unlink,
    )


@pytest.fixture
def immutable(
    house_factory: Callable[..., House],
) -> Iterator[tuple[House, Callable[[bool], None]]]:
    """A house and a switch that makes its store's files immutable (``chattr +i``): the
    kernel then refuses every write, even root's, even through an open file."""
    if shutil.which("chattr") is None:
        pytest.skip("chattr is not installed")
    house = house_factory(entry=ENTRY, siren=SIREN_TIME, supervision=3600)
    files = [house.data_dir / "events.db", house.data_dir / "events.db-wal"]

    def switch(on: bool) -> None:
        # Not the -shm file: SQLite maps it into memory, and a write fault there is a
        # SIGBUS, not an error.
        done = subprocess.run(
            ["chattr", "+i" if on else "-i", *map(str, files)],
            capture_output=True,
            text=True,
            check=False,
        )
        if on and done.returncode != 0:
            pytest.skip(f"this filesystem has no immutable files: {done.stderr.strip()}")

    try:
        yield house, switch
    finally:
        subprocess.run(["chattr", "-i", *map(str, files)], capture_output=True, check=False)


def test_a_read_only_store_never_stops_the_alarm(
    immutable: tuple[House, Callable[[bool], None]], observer: Observer
) -> None:
    house, switch = immutable
    break_in_while_the_store_fails(
        house, observer, break_store=lambda: switch(True), mend_store=lambda: switch(False)
    )


def test_a_locked_store_never_stops_the_alarm(
    house_factory: Callable[..., House], observer: Observer
) -> None:
    house = house_factory(entry=ENTRY, siren=SIREN_TIME, supervision=3600)
    holder: list[sqlite3.Connection] = []

    def lock() -> None:  # another program holds the write lock
        other = sqlite3.connect(house.data_dir / "events.db", isolation_level=None)
        other.execute("BEGIN EXCLUSIVE")
        holder.append(other)

    def unlock() -> None:
        holder[0].execute("COMMIT")
        holder[0].close()

    try:
        break_in_while_the_store_fails(house, observer, break_store=lock, mend_store=unlock)
    finally:
        for connection in holder:
            connection.close()


def test_the_generated_broker_keeps_delivering_while_the_store_fails(
    small_disk: House, observer: Observer
) -> None:
    """Unacknowledged messages count against the broker's in-flight window; with
    Mosquitto's default of 20 the panel would stop hearing the sensors."""
    sender = Sender(observer)
    with running(small_disk.site) as controller:
        observer.command("ARM_AWAY", "1234")
        observer.wait_for(STATE, "armed_away")
        filler = fill(small_disk.data_dir / "filler")
        sender.windows(100)
        wait_until(lambda: controller.stats.messages >= 101, what="all 100 delivered")
        tripped = time.monotonic()
        sender.send("front", "door", "OPEN")
        observer.wait_for(STATE, "pending", timeout=5, after=tripped)
        filler.unlink()
        wait_until(lambda: stored_seqs(small_disk) == sender.sent, what="every event stored")


def test_a_dashboard_request_is_answered_while_the_store_fails(
    small_disk: House, observer: Observer
) -> None:
    with running(small_disk.site) as controller:
        observer.wait_for("home/alarm/availability", "online")
        filler = fill(small_disk.data_dir / "filler")
        observer.publish("home/security/window/living", "CLOSED")
        observer.wait_for(EVENT, storage_event("trouble"), timeout=15)
        # Answered once decided (the store would have made it wait for ever).
        outcome = controller.request(Command(Action.ARM_HOME, "1234", source="web"), timeout=5)
        assert outcome.rejection is None
        observer.wait_for(STATE, "armed_home")
        figures = SystemFigures.model_construct()
        document = state_document(controller.view(), small_disk.site.settings, [], {}, figures)
        assert "storage" in document.system_troubles
        filler.unlink()
        wait_until(lambda: "armed" in system_types(small_disk), what="the arming stored")
