"""The live health and anomaly service, on a real event store filled by the simulated
household, and the household's way into a store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from homeguard.adapters.store import EventStore
from homeguard.core.household import HouseholdSpec, IncidentKind, simulate_household
from homeguard.services.household_player import write_into
from homeguard.services.intelligence import Intelligence, IntelligenceSettings, device_health

DAY = 86400.0


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


def test_maintenance_events_name_the_faulty_devices_and_are_published(filled) -> None:  # type: ignore[no-untyped-def]
    household, store = filled
    published: list[tuple[str, str]] = []
    service = Intelligence(
        store=store,
        sensors=household.sensors,
        publish=lambda topic, body: published.append((topic, body)),
        event_topic="home/alarm/event",
        clock=lambda: household.end,
        settings=IntelligenceSettings(),
    )
    made = service.step(household.end)
    flagged = {r.data["device"] for r in made if r.event_type == "maintenance"}  # type: ignore[index]
    silent = [f for f in household.faults() if f.kind is IncidentKind.SILENT]
    assert silent and silent[0].devices[0] in flagged
    stored = store.system_events(event_type="maintenance", limit=None)
    assert {e.data["device"] for e in stored} == flagged  # type: ignore[index]
    bodies = [json.loads(body) for topic, body in published if topic == "home/alarm/event"]
    assert {b["event"] for b in bodies} >= {"maintenance"}
    assert all(b["health"] in {"service", "failed"} for b in bodies if b["event"] == "maintenance")
    # Nothing changed: no new maintenance events on the next round.
    assert not [r for r in service.step(household.end + 1) if r.event_type == "maintenance"]
    healthy = {h.device_id for h in device_health(store, household.sensors, household.end)}
    assert healthy == {s.id for s in household.sensors}


def test_anomalies_are_scored_off_the_hot_path_and_not_twice(filled) -> None:  # type: ignore[no-untyped-def]
    household, store = filled
    intrusion = household.intrusions()[0]
    service = Intelligence(
        store=store,
        sensors=household.sensors,
        publish=None,
        event_topic="home/alarm/event",
        clock=lambda: 0.0,
    )
    before = intrusion.start - 600.0
    service.step(before)  # trains on the eight days before, scores nothing yet
    made = service.step(intrusion.end + 1200.0)
    anomalies = [r for r in made if r.event_type == "anomaly"]
    assert anomalies, "the intrusion was not flagged"
    assert any(a.data["start"] <= intrusion.end for a in anomalies)  # type: ignore[index]
    assert not [r for r in service.step(intrusion.end + 1300.0) if r.event_type == "anomaly"]
