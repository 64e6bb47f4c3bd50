"""Labelled intrusions injected into a household's life.

Three kinds, each at a moment the household's own timeline makes plausible for a
burglar: at night while everyone sleeps (in through a door or a window), during the day
while the house is empty (in through a door, walking about), and in by a window of a
back room, through rooms in an order nobody in the house walks. The panel is left as the
residents set it: these are what anomaly detection is measured on, not the panel.
"""

from __future__ import annotations

import random

from homeguard.core.household.layout import HouseholdSpec, Incident, IncidentKind
from homeguard.core.household.life import DAY, HOUR, Change, Stay, Walker, Where
from homeguard.core.model import SensorState

_KINDS = (IncidentKind.NIGHT_ENTRY, IncidentKind.AWAY_ENTRY, IncidentKind.ODD_ORDER)
_MARGIN = 1800.0  # seconds kept clear of the residents' comings and goings


def intrude(
    spec: HouseholdSpec, stays: list[Stay], walker: Walker, rng: random.Random
) -> list[Incident]:
    """Inject ``spec.intrusions_per_week`` intrusions (on average) after
    ``spec.intrusions_after`` days; their changes go to ``walker``."""
    first = spec.start + spec.intrusions_after * DAY
    last = spec.start + spec.days * DAY - 2 * HOUR
    weeks = max(0.0, (last - first) / (7 * DAY))
    wanted = round(spec.intrusions_per_week * weeks)
    incidents: list[Incident] = []
    busy: list[tuple[float, float]] = []
    for n in range(wanted):
        kind = _KINDS[n % len(_KINDS)]
        for _attempt in range(200):
            at = rng.uniform(first, last)
            if not _fits(kind, at, stays, spec) or any(a - DAY < at < b + DAY for a, b in busy):
                continue
            incident = _break_in(kind, at, spec, walker, rng)
            incidents.append(incident)
            busy.append((incident.start, incident.end))
            break
    return sorted(incidents, key=lambda i: i.start)


def _fits(kind: IncidentKind, at: float, stays: list[Stay], spec: HouseholdSpec) -> bool:
    """Whether the house is as ``kind`` needs at ``at``, for a good while either side."""
    around = [s for s in stays if s.start < at + _MARGIN and s.end > at - _MARGIN]
    wheres = {s.where for s in around}
    whole = all(s.start <= at - _MARGIN and s.end >= at + _MARGIN for s in around)
    hour = ((at + spec.utc_offset) % DAY) / HOUR
    if kind is IncidentKind.NIGHT_ENTRY:
        return whole and wheres == {Where.ASLEEP} and 1.0 <= hour <= 4.5
    if kind is IncidentKind.AWAY_ENTRY:
        return whole and wheres == {Where.AWAY} and 9.0 <= hour <= 17.0
    return whole and (wheres == {Where.AWAY} or (wheres == {Where.ASLEEP} and hour < 5.0))


def _break_in(
    kind: IncidentKind, at: float, spec: HouseholdSpec, walker: Walker, rng: random.Random
) -> Incident:
    layout = spec.layout
    doors = [(r.name, d) for r in layout.rooms for d in r.doors]
    windows = [(r.name, w) for r in layout.rooms for w in r.windows]
    if kind is IncidentKind.ODD_ORDER and windows:
        back_rooms = [(r, w) for r, w in windows if r != layout.living] or windows
        room, device = rng.choice(back_rooms)
    elif kind is IncidentKind.NIGHT_ENTRY and windows and rng.random() < 0.5:
        room, device = rng.choice(windows)
    else:
        room, device = rng.choice(doors)
    is_door = any(device == d for _, d in doors)
    walker.contact(device, at, at + rng.uniform(5.0, 20.0) if is_door else None)
    walker.visit(room, at + 3.0, rng.uniform(20.0, 60.0))
    t = at + rng.uniform(30.0, 90.0)
    here = room
    visited = [room]
    for _ in range(rng.randint(3, 6)):
        options = [r.name for r in layout.rooms if r.name != here]
        if kind is IncidentKind.ODD_ORDER:
            target = rng.choice(options)  # anywhere, straight through the walls of habit
            walker.visit(target, t, rng.uniform(30.0, 120.0))
        else:
            target = rng.choice(options)
            t = walker.walk(here, target, t, rng.uniform(30.0, 120.0))
        visited.append(target)
        here = target
        t += rng.uniform(40.0, 150.0)
    if kind is IncidentKind.ODD_ORDER:
        walker.visit(room, t, 20.0)
    else:
        t = walker.walk(here, room, t, 20.0)
    end = t + rng.uniform(10.0, 30.0)
    if is_door:
        walker.contact(device, end, end + rng.uniform(4.0, 15.0))
    else:
        walker.contact_change(Change(end, device, SensorState.CLOSED))
    return Incident(kind, at, end + 120.0, (device,), detail=f"in by {device}: {'>'.join(visited)}")
