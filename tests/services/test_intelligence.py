"""The live health and anomaly service, on a real event store filled by the simulated
household, and the household's way into a store; what it finds goes through the
controller (recorded with its turn, published, seen by whatever follows the commits)."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import partial
from pathlib import Path

import pytest

from homeguard.adapters.store import EventStore
from homeguard.core.health import Health, assess, report_of
from homeguard.core.household import HouseholdSpec, IncidentKind, simulate_household
from homeguard.core.model import SensorSpec
from homeguard.core.records import Batch, SensorRecord
from homeguard.core.signals import Advisory, EventKind
from homeguard.services import intelligence
from homeguard.services.controller import Controller
from homeguard.services.health import device_health
from homeguard.services.household_player import write_into
from homeguard.services.intelligence import (
    Intelligence,
    IntelligenceSettings,
    watching,
)
from tests.conftest import wait_until
from tests.services.conftest import House, Observer, event, running

DAY = 86400.0


def ids_of(sensors: Sequence[SensorSpec]) -> list[str]:
    return [sensor.id for sensor in sensors]


@pytest.fixture
def filled(tmp_path: Path):  # type: ignore[no-untyped-def]
    household = simulate_household(
        HouseholdSpec(days=10, seed=4, faults_after=3, intrusions_after=8, intrusions_per_week=2)
    )
    with EventStore(tmp_path / "events.db", synchronous="normal") as store:
        sensors, systems = write_into(store, household)
        assert sensors == len(household.sensor_events)
        assert systems == len(household.system_events)
        assert write_into(store, household)[0] == 0  # the same household again: duplicates
        yield household, store


def test_maintenance_advice_names_the_faulty_devices_once(filled) -> None:  # type: ignore[no-untyped-def]
    household, store = filled
    advised: list[Advisory] = []
    service = Intelligence(
        store=store, sensor_ids=ids_of(household.sensors), advise=advised.append, clock=lambda: 0.0
    )
    made = service.step(household.end)
    assert made == advised
    flagged = {a.data["device"] for a in made if a.kind is EventKind.MAINTENANCE}
    silent = [f for f in household.faults() if f.kind is IncidentKind.SILENT]
    assert silent and silent[0].devices[0] in flagged
    assert all(
        a.data["health"] in {"service", "failed"} for a in made if a.kind is EventKind.MAINTENANCE
    )
    assert not store.system_events(event_type="maintenance")  # the service only reads
    # Nothing changed: no new maintenance advice on the next round.
    assert not [a for a in service.step(household.end + 1) if a.kind is EventKind.MAINTENANCE]
    healthy = {h.device_id for h in device_health(store, ids_of(household.sensors), household.end)}
    assert healthy == {s.id for s in household.sensors}


def test_every_sensors_health_comes_from_one_query_the_same_as_one_per_sensor(filled) -> None:  # type: ignore[no-untyped-def]
    """One read of the store, whatever the sensor count (100,000 sensors took seconds of
    queries, one each, on the scoring thread and for GET /api/health)."""
    household, store = filled
    queries: list[str | None] = []

    class Counting:
        def sensor_reports(self, fields, **where):  # type: ignore[no-untyped-def]
            queries.append(where.get("device"))
            return store.sensor_reports(fields, **where)

    health = device_health(Counting(), ids_of(household.sensors), household.end)  # type: ignore[arg-type]

    assert queries == [None]  # one query, for every device
    one_each = [
        assess(
            s.id,
            [
                report_of(r)
                for r in store.sensor_events(device=s.id, limit=None, newest_first=False)
            ],
            household.end,
        )
        for s in household.sensors
    ]
    assert health == one_each
    assert {h.state for h in health} != {Health.OK}  # the faults are found either way


def test_anomalies_are_scored_off_the_hot_path_and_not_twice(filled) -> None:  # type: ignore[no-untyped-def]
    household, store = filled
    intrusion = household.intrusions()[0]
    service = Intelligence(
        store=store, sensor_ids=ids_of(household.sensors), advise=lambda _: None, clock=lambda: 0.0
    )
    before = intrusion.start - 600.0
    service.step(before)  # trains on the eight days before, scores nothing yet
    made = service.step(intrusion.end + 1200.0)
    anomalies = [a for a in made if a.kind is EventKind.ANOMALY]
    assert anomalies, "the intrusion was not flagged"
    assert any(a.data["start"] <= intrusion.end for a in anomalies)
    assert not [a for a in service.step(intrusion.end + 1300.0) if a.kind is EventKind.ANOMALY]


def test_the_controller_records_and_publishes_the_advice(
    house: House, controller: Controller, observer: Observer
) -> None:
    """One writer: the advice is stored by the controller's store writer and published
    on the event topic, as the controller's own events are; the panel does not change."""
    state = controller.panel.state
    controller.advise(
        Advisory(
            EventKind.MAINTENANCE,
            "front needs attention: battery 12%",
            {"device": "front", "health": "service"},
        )
    )
    observer.wait_for("home/alarm/event", event("maintenance"))
    body = observer.events("maintenance")[0]
    assert body["device"] == "front" and body["health"] == "service"
    assert body["description"] == "front needs attention: battery 12%"

    def stored() -> bool:
        with house.store() as store:
            return bool(store.system_events(event_type="maintenance"))

    wait_until(stored, timeout=10, what="the maintenance event in the store")
    assert controller.panel.state is state


def _silent_front(house: House) -> None:
    """The front door reported every ten minutes for two days and then fell silent."""
    now = time.time()
    reports = [
        SensorRecord(t, "door", "front", "CLOSED", {"seq": n, "ts": t}, f"front:{n}")
        for n, t in enumerate(range(int(now - 2 * DAY), int(now - 3 * 3600), 600))
    ]
    house.data_dir.mkdir(parents=True, exist_ok=True)
    with house.store() as store:
        store.write(Batch(sensor_events=reports))


def test_the_running_service_hands_its_findings_to_the_controller(
    house: House, observer: Observer
) -> None:
    """As ``homeguard controller`` wires it: the service reads its own connection, the
    controller stores and publishes what it found."""
    _silent_front(house)
    site = house.site
    settings = IntelligenceSettings(every=0.2)
    with (
        running(site) as controller,
        watching(
            site.open_store, site.settings.sensors, controller.advise, time.time, settings=settings
        ),
    ):
        observer.wait_for("home/alarm/event", event("maintenance"), timeout=20)
    body = observer.events("maintenance")[0]
    assert body["device"] == "front" and body["health"] == "failed"
    with house.store() as store:
        stored = store.system_events(event_type="maintenance", limit=None)
    assert [e.data["device"] for e in stored] == ["front"]  # type: ignore[index]


def _opened_by(path: Path, pids: Path) -> EventStore:
    """A store opener that notes which process opened it (module-level: pickled)."""
    with pids.open("a") as out:
        out.write(f"{os.getpid()}\n")
    return EventStore(path, synchronous="normal")


@contextmanager
def _scoring(house: House, pids: Path) -> Iterator[list[Advisory]]:
    """The silent front door scored by `watching` every 0.2 s, its store opened by
    `_opened_by` (which notes in ``pids`` who opened it); what it found, once it found
    something."""
    _silent_front(house)
    opener = partial(_opened_by, house.site.store_path, pids)
    found: list[Advisory] = []
    settings = IntelligenceSettings(every=0.2)
    with watching(opener, house.site.settings.sensors, found.append, time.time, settings=settings):
        wait_until(lambda: found, timeout=30, what="the scoring's first finding")
        yield found


def test_the_scoring_runs_in_a_process_of_its_own(house: House, tmp_path: Path) -> None:
    """A round of scoring is seconds of Python for a busy week of events: in the
    controller's process it held the interpreter lock that alarms wait for. Its store is
    opened, and its rounds run, in another process; what it finds still comes back."""
    pids = tmp_path / "pids"
    with _scoring(house, pids) as found:
        scorers = {int(pid) for pid in pids.read_text().split()}
        assert os.getpid() not in scorers
    assert [(a.kind, a.data["device"]) for a in found] == [(EventKind.MAINTENANCE, "front")]
    [scorer] = scorers
    wait_until(lambda: not _alive(scorer), timeout=10, what="the scoring process to end")


def test_a_scoring_process_that_dies_is_started_again(
    house: House, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(intelligence, "RESTART_PAUSE", 0.1)
    pids = tmp_path / "pids"
    with _scoring(house, pids):
        [first] = {int(pid) for pid in pids.read_text().split()}
        assert first != os.getpid()
        os.kill(first, signal.SIGKILL)
        wait_until(  # a new process opens the store
            lambda: len(set(pids.read_text().split())) == 2,
            timeout=30,
            what="a second scoring process",
        )
    assert not _alive(first)


def test_a_scoring_process_that_cannot_start_is_tried_again(
    house: House, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(intelligence, "RESTART_PAUSE", 0.1)
    serve, attempts = intelligence._Keeper._serve, []

    def failing_once(keeper: intelligence._Keeper) -> int | None:
        attempts.append(1)
        if len(attempts) == 1:
            raise OSError("fork: Resource temporarily unavailable")
        return serve(keeper)

    monkeypatch.setattr(intelligence._Keeper, "_serve", failing_once)
    with _scoring(house, tmp_path / "pids") as found:
        assert found[0].data["device"] == "front"
    assert len(attempts) == 2


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie until its parent reaps it: not running.
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    return False
