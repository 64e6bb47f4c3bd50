"""The synthetic household: deterministic, plausible, and labelled."""

from __future__ import annotations

from collections import Counter

import pytest

from homeguard.core.household import (
    DEFAULT_LAYOUT,
    Household,
    HouseholdSpec,
    IncidentKind,
    layout_from_sensors,
    simulate_household,
)
from homeguard.core.model import SensorSpec, SensorType

DAY = 86400.0


@pytest.fixture(scope="module")
def month() -> Household:
    return simulate_household(HouseholdSpec(days=28, seed=3))


def test_the_same_seed_gives_the_same_household_and_another_seed_another() -> None:
    spec = HouseholdSpec(days=10, seed=11, intrusions_after=3)
    first, again = simulate_household(spec), simulate_household(spec)
    assert first.sensor_events == again.sensor_events
    assert first.system_events == again.system_events
    assert first.incidents == again.incidents
    other = simulate_household(HouseholdSpec(days=10, seed=12, intrusions_after=3))
    assert other.sensor_events != first.sensor_events


def test_more_intrusions_do_not_change_the_familys_days() -> None:
    calm = simulate_household(HouseholdSpec(days=10, seed=5, intrusions_per_week=0))
    busy = simulate_household(
        HouseholdSpec(days=10, seed=5, intrusions_per_week=3, intrusions_after=2)
    )
    assert calm.stays == busy.stays
    assert calm.system_events == busy.system_events
    assert not calm.intrusions() and busy.intrusions()


def test_a_month_has_every_incident_kind_labelled_inside_the_month(month: Household) -> None:
    kinds = Counter(incident.kind for incident in month.incidents)
    assert set(kinds) == set(IncidentKind)
    for incident in month.incidents:
        assert month.spec.start <= incident.start < incident.end <= month.end
        assert all(device in {s.id for s in month.sensors} for device in incident.devices)
    for intrusion in month.intrusions():  # after the weeks of normal life
        assert intrusion.start >= month.spec.start + month.spec.intrusions_after * DAY


def test_records_look_like_what_the_controller_stores(month: Household) -> None:
    events = month.sensor_events
    assert [r.ts for r in events] == sorted(r.ts for r in events)
    assert len({r.dedup_key for r in events}) == len(events)
    for record in events[:500]:
        assert {"seq", "ts", "battery", "topic", "linkquality"} <= set(record.metadata or {})
        assert record.ts >= record.metadata["ts"]  # type: ignore[index]
    per_device = Counter(r.device_id for r in events)
    assert set(per_device) == {s.id for s in month.sensors}


def test_weekdays_empty_the_house_and_the_panel_follows(month: Household) -> None:
    modes = Counter((r.data or {}).get("mode") for r in month.system_events)
    assert modes["armed_away"] >= 15 and modes["armed_night"] >= 15
    disarms = sum(r.event_type == "disarmed" for r in month.system_events)
    arms = modes["armed_away"] + modes["armed_night"]
    assert disarms in {arms, arms - 1}  # the month may end armed
    # Weekday mornings: everyone leaves around 07:30-08:00.
    away = [s for s in month.stays if s.where.value == "away" and s.goes_out is False]
    assert any(7.0 <= (s.start % DAY) / 3600 <= 8.5 for s in away)


def test_the_failing_battery_dies_and_the_silent_device_falls_silent(month: Household) -> None:
    for incident in month.faults():
        device = incident.devices[0]
        after = [r for r in month.sensor_events if r.device_id == device and r.ts > incident.start]
        if incident.kind is IncidentKind.SILENT:
            assert not after
        elif incident.kind is IncidentKind.BATTERY_FAILURE:
            assert incident.failure is not None
            assert after and after[-1].ts <= incident.failure + 3600
            assert after[-1].metadata["battery"] <= 5  # type: ignore[index]


def test_a_layout_fits_around_configured_sensors() -> None:
    specs = [
        SensorSpec("front", SensorType.DOOR),
        SensorSpec("living", SensorType.WINDOW),
        SensorSpec("bedroom", SensorType.WINDOW),
        SensorSpec("hall", SensorType.MOTION),
        SensorSpec("lid", SensorType.TAMPER),
    ]
    layout = layout_from_sensors(specs)
    assert {s.id for s in layout.sensors()} == {"front", "living", "bedroom", "hall"}
    household = simulate_household(HouseholdSpec(days=3, seed=1, layout=layout, faults=0))
    assert {r.device_id for r in household.sensor_events} == {"front", "living", "bedroom", "hall"}
    with pytest.raises(ValueError, match="door"):
        layout_from_sensors([SensorSpec("hall", SensorType.MOTION)])


def test_impossible_specs_are_refused() -> None:
    with pytest.raises(ValueError, match="days"):
        HouseholdSpec(days=0)
    with pytest.raises(ValueError, match="resident"):
        HouseholdSpec(residents=())
    assert DEFAULT_LAYOUT.path("kitchen", "bedroom") == ["kitchen", "hall", "landing", "bedroom"]


def test_whoever_opens_or_closes_a_bedroom_window_is_seen_in_the_room(month: Household) -> None:
    rooms = {"bedroom_window": "bedroom_motion", "kids_window": "kids_motion"}
    faulty = {d for incident in month.incidents for d in incident.devices}
    state: dict[str, str] = {}
    checked = 0
    for record in sorted(month.sensor_events, key=lambda r: r.metadata["ts"]):  # type: ignore[index]
        device, sent = record.device_id, record.metadata["ts"]  # type: ignore[index]
        before, state[device] = state.get(device), record.state
        sensor = rooms.get(device)
        if sensor is None or before in (None, record.state) or {device, sensor} & faulty:
            continue  # not a bedroom window, or a check-in, or a fault
        if any(i.start - 60 <= sent <= i.end for i in month.intrusions()):
            continue  # the intruder comes in by the window, then into the room
        assert state.get(sensor) == "MOTION", (record, sent)
        checked += 1
    assert checked >= 10
