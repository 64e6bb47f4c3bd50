"""A synthetic household: weeks of a family's life as their sensors would report it,
with a labelled ground truth of intrusions and sensor faults.

Pure and deterministic: the same :class:`HouseholdSpec` (seed included) gives the same
records, bit for bit, with no clock and no I/O; a simulated month takes seconds. The
normal life, the intrusions and the devices each draw from their own random stream, so
asking for more intrusions does not change the family's days.

    household = simulate_household(HouseholdSpec(days=28, seed=7))
    household.sensor_events   # SensorRecords, in order of arrival
    household.system_events   # the panel armed and disarmed as the family does it
    household.incidents       # what was injected, and when
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from homeguard.core.household.devices import plan_faults, report
from homeguard.core.household.intrusions import intrude
from homeguard.core.household.layout import (
    DEFAULT_LAYOUT,
    DEFAULT_RESIDENTS,
    HouseholdSpec,
    HouseLayout,
    Incident,
    IncidentKind,
    Resident,
    Room,
    layout_from_sensors,
)
from homeguard.core.household.life import Stay, Walker, arm_as_people_do, routine, timelines
from homeguard.core.model import SensorSpec
from homeguard.core.records import SensorRecord, SystemRecord

__all__ = [
    "DEFAULT_LAYOUT",
    "DEFAULT_RESIDENTS",
    "HouseLayout",
    "Household",
    "HouseholdSpec",
    "Incident",
    "IncidentKind",
    "Resident",
    "Room",
    "Stay",
    "layout_from_sensors",
    "simulate_household",
]


@dataclass(frozen=True)
class Household:
    """A simulated household's records and the truth about them."""

    spec: HouseholdSpec
    sensors: tuple[SensorSpec, ...]
    sensor_events: tuple[SensorRecord, ...]
    system_events: tuple[SystemRecord, ...]
    incidents: tuple[Incident, ...]
    stays: tuple[Stay, ...]

    @property
    def end(self) -> float:
        return self.spec.start + self.spec.days * 86400.0

    def intrusions(self) -> list[Incident]:
        return [i for i in self.incidents if i.kind.intrusion]

    def faults(self) -> list[Incident]:
        return [i for i in self.incidents if not i.kind.intrusion]


def simulate_household(spec: HouseholdSpec) -> Household:
    """Simulate ``spec``: same spec, same household."""
    sensors = tuple(spec.layout.sensors())
    life_rng = random.Random(f"{spec.seed}:life")
    stays = timelines(spec, life_rng)
    walker = Walker(spec.layout, life_rng)
    routine(spec, stays, walker, life_rng)
    panel = arm_as_people_do(spec, stays, life_rng)
    intrusions = intrude(spec, stays, walker, random.Random(f"{spec.seed}:intrusions"))
    device_rng = random.Random(f"{spec.seed}:devices")
    faults = plan_faults(spec, sensors, device_rng)
    records, fault_incidents = report(spec, sensors, walker.changes(), faults, device_rng)
    incidents = sorted([*intrusions, *fault_incidents], key=lambda i: (i.start, i.kind.value))
    return Household(
        spec=spec,
        sensors=sensors,
        sensor_events=tuple(records),
        system_events=tuple(sorted(panel, key=lambda r: r.ts)),
        incidents=tuple(incidents),
        stays=tuple(stays),
    )
