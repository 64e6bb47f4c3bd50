"""Days of a household's life as sensor state changes and panel events.

Each resident's day is a timeline (asleep, home, away) drawn from their habits with
jitter; weekdays take workers out, weekends bring lie-ins, family outings and late
nights. While someone is home and awake they walk between rooms (every room on the way
sees them); they open windows in the morning, use the back door now and then, get up in
the night. The panel is armed as people arm it: away when the last one leaves (unless
forgotten), night when the last one awake goes to bed, disarmed on the way in or down.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from enum import StrEnum

from homeguard.core.household.layout import HouseholdSpec, HouseLayout, Resident
from homeguard.core.model import ArmMode, SensorState
from homeguard.core.records import SystemRecord

HOUR = 3600.0
DAY = 86400.0
PIR_HOLD = 60.0  # a motion sensor clears this long after the last movement


@dataclass(frozen=True, slots=True, order=True)
class Change:
    """A sensor's state changed at ``ts`` (the device's clock)."""

    ts: float
    device: str
    state: SensorState


class Where(StrEnum):
    HOME = "home"
    AWAY = "away"
    ASLEEP = "asleep"


@dataclass(frozen=True, slots=True)
class Stay:
    """One resident is ``where`` from ``start`` to ``end``."""

    resident: int
    where: Where
    start: float
    end: float
    came_in: bool = False  # through the front door, from away
    goes_out: bool = False  # through the front door, to away


def routine(spec: HouseholdSpec, stays: list[Stay], walker: Walker, rng: random.Random) -> None:
    """What the residents do in the house during ``stays``, as ``walker`` sees it."""
    for stay in stays:
        resident = spec.residents[stay.resident]
        bed = bed_of(spec, resident)
        if stay.where is Where.HOME:
            walker.home(stay, bed)
        elif stay.where is Where.ASLEEP:
            walker.asleep(stay, bed, resident.night_visit)
    _windows_and_garden(spec, stays, walker, rng)


# ---------------------------------------------------------------------------- timelines


def timelines(spec: HouseholdSpec, rng: random.Random) -> list[Stay]:
    """Each resident's stays, day by day; shared plans (outings) are drawn per day."""
    days = spec.days
    outings: list[tuple[float, float] | None] = []
    parties: list[bool] = []
    for day in range(days):
        weekend = _weekday(spec, day) >= 5
        if weekend and rng.random() < 0.6:
            leave = rng.uniform(10.0, 13.0)
            outings.append((leave, leave + rng.uniform(2.0, 6.0)))
        elif not weekend and rng.random() < 0.1:
            outings.append((rng.uniform(18.5, 19.5), rng.uniform(21.0, 22.0)))
        else:
            outings.append(None)
        parties.append(_weekday(spec, day) == 5 and rng.random() < 0.4)
    stays: list[Stay] = []
    for index, resident in enumerate(spec.residents):
        stays += _resident_stays(spec, index, resident, (outings, parties), rng)
    stays.sort(key=lambda s: (s.start, s.resident))
    return stays


def _resident_stays(
    spec: HouseholdSpec,
    index: int,
    resident: Resident,
    shared: tuple[list[tuple[float, float] | None], list[bool]],
    rng: random.Random,
) -> list[Stay]:
    outings, parties = shared
    plan: list[tuple[Where, float]] = []  # (where, from hour since start)
    for day in range(spec.days):
        base = day * 24.0
        weekend = _weekday(spec, day) >= 5
        wake = (resident.weekend_wake if weekend else resident.wake) + rng.gauss(0, 0.3)
        sleep = (resident.weekend_sleep if weekend else resident.sleep) + rng.gauss(0, 0.4)
        plan.append((Where.HOME, base + wake))
        outing = outings[day]
        if not weekend and resident.leave is not None and resident.back is not None:
            leave = resident.leave + rng.gauss(0, 0.15)
            back = resident.back + rng.gauss(0, 0.5)
            plan += [(Where.AWAY, base + leave), (Where.HOME, base + back)]
        elif not weekend and rng.random() < 0.6:
            leave = rng.uniform(9.5, 15.0)
            plan += [(Where.AWAY, base + leave), (Where.HOME, base + leave + rng.uniform(1, 2.5))]
        if outing is not None and base + outing[0] > plan[-1][1] + 0.2:
            jitter = rng.uniform(0.0, 0.05)
            plan += [(Where.AWAY, base + outing[0] + jitter), (Where.HOME, base + outing[1])]
        if parties[day] and resident.sleep >= 22.0:
            back = 24.0 + rng.uniform(0.5, 2.0)
            plan += [(Where.AWAY, base + 20.0 + rng.uniform(0, 0.5)), (Where.HOME, base + back)]
            sleep = back + rng.uniform(0.1, 0.3)
        plan.append((Where.ASLEEP, max(base + sleep, plan[-1][1] + 0.1)))
    stays: list[Stay] = []
    start_hour = 0.0
    where, came_in = Where.ASLEEP, False
    for next_where, planned in plan:
        hour = max(planned, start_hour + 0.05)
        goes_out = next_where is Where.AWAY
        stays.append(Stay(index, where, _at(spec, start_hour), _at(spec, hour), came_in, goes_out))
        came_in = where is Where.AWAY
        where, start_hour = next_where, hour
    stays.append(Stay(index, where, _at(spec, start_hour), _at(spec, spec.days * 24.0), came_in))
    return [s for s in stays if s.end > s.start]


def bed_of(spec: HouseholdSpec, resident: Resident) -> str:
    """The room ``resident`` sleeps in: their own if the house has it."""
    rooms = {room.name for room in spec.layout.rooms}
    return resident.room if resident.room in rooms else spec.layout.bedroom


def _weekday(spec: HouseholdSpec, day: int) -> int:
    """0 Monday ... 6 Sunday, of simulated day ``day`` in local time."""
    local_days = math.floor((spec.start + spec.utc_offset) / DAY) + day
    return (local_days + 3) % 7  # 1970-01-01 was a Thursday


def _at(spec: HouseholdSpec, hours: float) -> float:
    return spec.start + min(hours, spec.days * 24.0) * HOUR


# ---------------------------------------------------------------------------- walking


class Walker:
    """Turns people walking about into motion intervals and door changes."""

    def __init__(self, layout: HouseLayout, rng: random.Random) -> None:
        self._layout = layout
        self._rng = rng
        self._motion: dict[str, list[tuple[float, float]]] = {}
        self._contacts: list[Change] = []
        rooms = [room.name for room in layout.rooms]
        weight = {layout.kitchen: 3.0, layout.living: 4.0, layout.hall: 1.0}
        self._rooms = rooms
        self._weights = [weight.get(name, 1.5) for name in rooms]

    def visit(self, room: str, at: float, dwell: float) -> None:
        motion = self._layout.room(room).motion
        if motion is not None:
            self._motion.setdefault(motion, []).append((at, at + dwell + PIR_HOLD))

    def walk(self, start: str, end: str, at: float, dwell: float) -> float:
        """Walk from ``start`` to ``end``, staying ``dwell`` s there; returns arrival."""
        route = self._layout.path(start, end)
        for room in route[:-1]:
            self.visit(room, at, self._rng.uniform(3.0, 10.0))
            at += self._rng.uniform(4.0, 12.0)
        self.visit(route[-1], at, dwell)
        return at

    def contact(self, device: str, opened: float, closed: float | None) -> None:
        self._contacts.append(Change(opened, device, SensorState.OPEN))
        if closed is not None:
            self._contacts.append(Change(closed, device, SensorState.CLOSED))

    def contact_change(self, change: Change) -> None:
        self._contacts.append(change)

    def home(self, stay: Stay, bed: str) -> None:
        """Awake at home: come in (or get up), move about, go out (or to bed)."""
        rng, layout = self._rng, self._layout
        door = layout.room(layout.hall).doors[0]
        at = stay.start
        room = layout.hall if stay.came_in else bed
        if stay.came_in:
            self.contact(door, at, at + rng.uniform(4.0, 12.0))
        self.visit(room, at, rng.uniform(20.0, 90.0))
        end = stay.end - 60.0
        at += rng.uniform(60.0, 600.0)
        while at < end:
            target = rng.choices(self._rooms, self._weights)[0]
            dwell = rng.expovariate(1 / 600.0)
            at = self.walk(room, target, at, min(dwell, end - at)) + dwell
            room = target
            at += rng.expovariate(1 / 300.0)
        leaving_at = max(stay.start, stay.end - rng.uniform(40.0, 120.0))
        if stay.end >= stay.start + 120.0:
            arrive = self.walk(room, layout.hall if stay.goes_out else bed, leaving_at, 30.0)
            if stay.goes_out:
                self.contact(door, arrive + 20.0, arrive + rng.uniform(26.0, 35.0))

    def asleep(self, stay: Stay, bed: str, night_visit: float) -> None:
        """Asleep; now and then up in the night (the bathroom is off the landing)."""
        rng = self._rng
        hours = (stay.end - stay.start) / HOUR
        if hours < 3.0 or rng.random() >= night_visit:
            return
        at = stay.start + rng.uniform(1.0, hours - 1.0) * HOUR
        neighbours = self._layout.neighbours(bed)
        out = neighbours[0] if neighbours else bed
        self.visit(bed, at, 5.0)
        back = self.walk(bed, out, at + 8.0, rng.uniform(120.0, 360.0))
        self.walk(out, bed, back + rng.uniform(150.0, 400.0), 10.0)

    def changes(self) -> list[Change]:
        changes = list(self._contacts)
        for device, intervals in self._motion.items():
            intervals.sort()
            start, end = intervals[0]
            for begin, finish in intervals[1:]:
                if begin <= end:
                    end = max(end, finish)
                    continue
                changes += [
                    Change(start, device, SensorState.MOTION),
                    Change(end, device, SensorState.NO_MOTION),
                ]
                start, end = begin, finish
            changes += [
                Change(start, device, SensorState.MOTION),
                Change(end, device, SensorState.NO_MOTION),
            ]
        changes.sort()
        return changes


# ---------------------------------------------------------------------------- windows


def _windows_and_garden(
    spec: HouseholdSpec, stays: list[Stay], walker: Walker, rng: random.Random
) -> None:
    """Airing the bedroom after getting up, the kitchen window while cooking, the back
    door to the garden in the afternoon."""
    layout = spec.layout
    kitchen = layout.room(layout.kitchen)
    for stay in stays:
        if stay.where is not Where.HOME or stay.came_in:
            continue
        bed = bed_of(spec, spec.residents[stay.resident])
        windows = layout.room(bed).windows
        if windows and rng.random() < 0.5 and stay.end - stay.start > 1800.0:
            opened = stay.start + rng.uniform(120.0, 600.0)
            closed = min(opened + rng.uniform(600, 2400), stay.end)
            walker.contact(windows[0], opened, closed)
            for at in (opened, closed):  # whoever opens or closes it is in the room
                walker.visit(bed, at - 5.0, 30.0)
    for day in range(spec.days):
        base = spec.start + day * DAY
        home = [s for s in stays if s.where is Where.HOME and s.start < base + 20 * HOUR]
        home = [s for s in home if s.end > base + 16 * HOUR]
        if not home:
            continue
        stay = home[0]
        lo, hi = max(stay.start, base + 16 * HOUR), min(stay.end, base + 20 * HOUR)
        if hi - lo < 3600.0:
            continue
        if kitchen.windows and rng.random() < 0.3:
            opened = rng.uniform(lo, hi - 3000.0)
            walker.visit(layout.kitchen, opened - 5.0, 60.0)
            walker.contact(kitchen.windows[0], opened, opened + rng.uniform(1200.0, 2700.0))
        if kitchen.doors and rng.random() < 0.3:
            out = rng.uniform(lo, hi - 2400.0)
            back = out + rng.uniform(300.0, 1800.0)
            for at in (out, back):
                walker.visit(layout.kitchen, at - 5.0, 30.0)
                walker.contact(kitchen.doors[0], at, at + rng.uniform(4.0, 10.0))


# ---------------------------------------------------------------------------- panel


def arm_as_people_do(
    spec: HouseholdSpec, stays: list[Stay], rng: random.Random
) -> list[SystemRecord]:
    """Arming and disarming, as the people in ``stays`` would do it."""
    moments = sorted(
        (stay.start, stay.resident, stay.where) for stay in stays if stay.start > spec.start
    )
    where = dict.fromkeys(range(len(spec.residents)), Where.ASLEEP)
    armed: ArmMode | None = None
    records: list[SystemRecord] = []
    for at, resident, now_where in moments:
        was = where[resident]
        where[resident] = now_where
        awake = [r for r, w in where.items() if w is Where.HOME]
        sleeping = [r for r, w in where.items() if w is Where.ASLEEP]
        name = spec.residents[resident].name
        if now_where is Where.AWAY and not awake and not sleeping:
            if armed is None and rng.random() >= spec.arm_forgotten:
                armed = ArmMode.AWAY
                records.append(_armed(at + 60.0, armed, name))
        elif now_where is Where.ASLEEP and not awake:
            if armed is None and rng.random() < 0.85:
                armed = ArmMode.NIGHT
                records.append(_armed(at + 30.0, armed, name))
        elif now_where is Where.HOME and armed is not None:
            delay = rng.uniform(5.0, 20.0) if was is Where.AWAY else rng.uniform(30.0, 120.0)
            records.append(
                SystemRecord(at + delay, "disarmed", f"disarmed by {name}", {"user": name})
            )
            armed = None
    return records


def _armed(at: float, mode: ArmMode, user: str) -> SystemRecord:
    return SystemRecord(at, "armed", f"{mode.value} by {user}", {"mode": mode.value, "user": user})
