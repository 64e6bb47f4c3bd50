"""A house, the people who live in it, and what the generator is asked for.

Plain frozen values. :data:`DEFAULT_LAYOUT` is a two-storey house with a hall that every
route passes through; :func:`layout_from_sensors` fits a layout around a site's configured
sensors so that a simulated household can play into that site.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from homeguard.core.model import SensorSpec, SensorType


@dataclass(frozen=True, slots=True)
class Room:
    """A room with the sensors in it: an entrance door, windows, one motion sensor."""

    name: str
    motion: str | None = None
    doors: tuple[str, ...] = ()
    windows: tuple[str, ...] = ()


@dataclass(frozen=True)
class HouseLayout:
    """Rooms and which of them open onto each other; ``hall`` is where people come in."""

    rooms: tuple[Room, ...]
    links: tuple[tuple[str, str], ...]
    hall: str
    bedroom: str
    kitchen: str
    living: str
    _neighbours: Mapping[str, tuple[str, ...]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        names = [room.name for room in self.rooms]
        if len(set(names)) != len(names):
            raise ValueError("duplicate room names")
        for name in (self.hall, self.bedroom, self.kitchen, self.living, *sum(self.links, ())):
            if name not in names:
                raise ValueError(f"no such room: {name}")
        if not self.rooms[names.index(self.hall)].doors:
            raise ValueError(f"the hall ({self.hall}) needs a door")
        neighbours: dict[str, list[str]] = {name: [] for name in names}
        for a, b in self.links:
            neighbours[a].append(b)
            neighbours[b].append(a)
        object.__setattr__(self, "_neighbours", {k: tuple(v) for k, v in neighbours.items()})

    def room(self, name: str) -> Room:
        return next(room for room in self.rooms if room.name == name)

    def neighbours(self, name: str) -> tuple[str, ...]:
        return self._neighbours[name]

    def path(self, start: str, end: str) -> list[str]:
        """The rooms walked through from ``start`` to ``end``, both included."""
        before: dict[str, str | None] = {start: None}
        todo = deque([start])
        while todo:
            here = todo.popleft()
            if here == end:
                break
            for there in self._neighbours[here]:
                if there not in before:
                    before[there] = here
                    todo.append(there)
        if end not in before:
            return [start, end]  # rooms not linked: people still get there
        route: list[str] = []
        step: str | None = end
        while step is not None:
            route.append(step)
            step = before[step]
        return route[::-1]

    def sensors(self) -> list[SensorSpec]:
        """Every sensor of the house, as the panel would know it."""
        specs: list[SensorSpec] = []
        for room in self.rooms:
            specs += [SensorSpec(d, SensorType.DOOR, name=f"{room.name} door") for d in room.doors]
            specs += [
                SensorSpec(w, SensorType.WINDOW, name=f"{room.name} window") for w in room.windows
            ]
            if room.motion is not None:
                specs.append(SensorSpec(room.motion, SensorType.MOTION, name=f"{room.name} motion"))
        return specs


DEFAULT_LAYOUT = HouseLayout(
    rooms=(
        Room("hall", motion="hall_motion", doors=("front_door",)),
        Room("living", motion="living_motion", windows=("living_window",)),
        Room("kitchen", motion="kitchen_motion", doors=("back_door",), windows=("kitchen_window",)),
        Room("study", motion="study_motion", windows=("study_window",)),
        Room("landing", motion="landing_motion"),
        Room("bedroom", motion="bedroom_motion", windows=("bedroom_window",)),
        Room("kids_room", motion="kids_motion", windows=("kids_window",)),
    ),
    links=(
        ("hall", "living"),
        ("hall", "kitchen"),
        ("living", "kitchen"),
        ("hall", "study"),
        ("hall", "landing"),
        ("landing", "bedroom"),
        ("landing", "kids_room"),
    ),
    hall="hall",
    bedroom="bedroom",
    kitchen="kitchen",
    living="living",
)


def layout_from_sensors(specs: Iterable[SensorSpec]) -> HouseLayout:
    """A house around configured sensors: doors in the hall, one room per motion sensor
    (the first is the hall), windows shared out over the rooms in turn."""
    doors = [s.id for s in specs if s.type is SensorType.DOOR]
    motions = [s.id for s in specs if s.type is SensorType.MOTION]
    windows = [s.id for s in specs if s.type is SensorType.WINDOW]
    if not doors:
        raise ValueError("a simulated household needs at least one door sensor")
    names = ["hall", *(f"room_{m}" for m in motions[1:])]
    if len(names) < 2:
        names.append("room")
    motion_of = dict(zip(names, motions, strict=False))
    shared: dict[str, list[str]] = {name: [] for name in names}
    for i, window in enumerate(windows):
        shared[names[1 + i % (len(names) - 1)]].append(window)
    rooms = tuple(
        Room(
            name,
            motion=motion_of.get(name),
            doors=tuple(doors) if name == "hall" else (),
            windows=tuple(shared[name]),
        )
        for name in names
    )
    links = tuple(("hall", name) for name in names[1:])
    last = names[-1]
    return HouseLayout(rooms, links, hall="hall", bedroom=last, kitchen=names[1], living=names[1])


@dataclass(frozen=True, slots=True)
class Resident:
    """One person's habits, in hours of the day (local time); the generator jitters them.

    ``leave``/``back``: when a working weekday takes them out (None: stays home, going
    out on errands now and then)."""

    name: str
    wake: float = 6.75
    sleep: float = 23.0
    leave: float | None = 7.75
    back: float | None = 17.5
    weekend_wake: float = 8.75
    weekend_sleep: float = 23.75
    night_visit: float = 0.25  # chance per night of getting up (01:00-05:00)
    room: str | None = None  # where they sleep; None: the layout's bedroom


DEFAULT_RESIDENTS = (
    Resident("alex"),
    Resident("sam", wake=6.25, sleep=22.5, leave=7.25, back=16.5, night_visit=0.35),
    Resident(
        "kim", wake=7.25, sleep=21.0, leave=7.75, back=15.5, night_visit=0.1, room="kids_room"
    ),
)


class IncidentKind(StrEnum):
    """What the ground truth labels. Intrusions are for anomaly detection; the rest are
    sensor faults for predictive maintenance."""

    NIGHT_ENTRY = "night_entry"  # through a door or window while everyone sleeps
    AWAY_ENTRY = "away_entry"  # someone walks through the house while it is empty
    ODD_ORDER = "odd_order"  # in by a window, through rooms in an order nobody walks
    BATTERY_FAILURE = "battery_failure"  # the battery declines until the device dies
    CHATTER = "chatter"  # a contact flaps open/closed in bursts
    SILENT = "silent"  # the device stops reporting at all
    REPORT_DELAY = "report_delay"  # reports arrive later and later (a failing link)

    @property
    def intrusion(self) -> bool:
        return self in _INTRUSIONS


_INTRUSIONS = frozenset({IncidentKind.NIGHT_ENTRY, IncidentKind.AWAY_ENTRY, IncidentKind.ODD_ORDER})


@dataclass(frozen=True, slots=True)
class Incident:
    """One labelled incident: ``start`` and ``end`` bound what it did; for faults,
    ``failure`` is when the device stops being usable (None: from the start)."""

    kind: IncidentKind
    start: float
    end: float
    devices: tuple[str, ...]
    failure: float | None = None
    detail: str = ""


@dataclass(frozen=True)
class HouseholdSpec:
    """What to simulate. ``start`` is local midnight as Unix seconds (local time is Unix
    time plus ``utc_offset``); faults start no earlier than ``faults_after`` days in."""

    start: float = 1_767_225_600.0  # 2026-01-01 00:00 UTC, a Thursday
    days: int = 28
    seed: int = 0
    layout: HouseLayout = DEFAULT_LAYOUT
    residents: Sequence[Resident] = DEFAULT_RESIDENTS
    utc_offset: float = 0.0
    heartbeat: float = 600.0  # seconds between a device's unprompted reports
    intrusions_per_week: float = 2.0
    intrusions_after: float = 14.0  # days of normal life first (to learn from)
    faults: int = 4  # one of each fault kind, on different devices
    faults_after: float = 7.0
    arm_forgotten: float = 0.1  # chance that the last one out does not arm
    link_quality: bool = True  # devices report linkquality (0-255), as Zigbee does

    def __post_init__(self) -> None:
        if self.days < 1:
            raise ValueError("days must be at least 1")
        if not self.residents:
            raise ValueError("a household needs at least one resident")
        if self.heartbeat <= 0:
            raise ValueError("heartbeat must be positive")
