"""From state changes to what the sensors report, with their batteries, links and faults.

Every device reports each change and, every ``heartbeat`` seconds, its current state
(as Zigbee and most battery sensors check in), as the JSON of the topic contract:
``seq``, ``ts`` (its own clock), ``battery`` and, where the spec says so, ``linkquality``.
The record's timestamp is when the controller got it: the device's time plus the link's
delay. Healthy devices are not perfect: the battery reading wobbles, a report goes missing
now and then, the link hiccups. Faulty ones follow their :class:`IncidentKind`.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from homeguard.core.household.layout import HouseholdSpec, Incident, IncidentKind
from homeguard.core.household.life import DAY, Change
from homeguard.core.model import SensorSpec, SensorState, SensorType
from homeguard.core.records import SensorRecord

DEAD_BATTERY = 3.0  # percent at which a device browns out and stops
LATE = 30.0  # seconds of delay that make a report useless: a report-delay fault's failure
_RESTING = {SensorType.MOTION: SensorState.NO_MOTION}


@dataclass(frozen=True, slots=True)
class _Fault:
    kind: IncidentKind
    start: float
    span: float  # seconds: battery decline to dead, delay growth to LATE


def plan_faults(
    spec: HouseholdSpec, sensors: Sequence[SensorSpec], rng: random.Random
) -> dict[str, _Fault]:
    """Which devices fail how and when: one fault of each kind in turn, each on its own
    device (chatter only on contacts), starting after ``spec.faults_after`` days."""
    kinds = (
        IncidentKind.BATTERY_FAILURE,
        IncidentKind.CHATTER,
        IncidentKind.SILENT,
        IncidentKind.REPORT_DELAY,
    )
    free = sorted(s.id for s in sensors)
    contacts = {s.id for s in sensors if s.type in (SensorType.DOOR, SensorType.WINDOW)}
    plan: dict[str, _Fault] = {}
    first = spec.start + spec.faults_after * DAY
    end = spec.start + spec.days * DAY
    for n in range(min(spec.faults, len(free))):
        kind = kinds[n % len(kinds)]
        pool = [d for d in free if d in contacts] if kind is IncidentKind.CHATTER else free
        if not pool or first >= end - DAY:
            continue
        device = rng.choice(pool)
        free.remove(device)
        span = rng.uniform(8.0, 16.0) * DAY if kind is IncidentKind.BATTERY_FAILURE else 0.0
        if kind is IncidentKind.REPORT_DELAY:
            span = rng.uniform(4.0, 8.0) * DAY
        latest = max(first, end - span - DAY)
        plan[device] = _Fault(kind, rng.uniform(first, latest), span)
    return plan


def report(
    spec: HouseholdSpec,
    sensors: Sequence[SensorSpec],
    changes: Sequence[Change],
    faults: dict[str, _Fault],
    rng: random.Random,
) -> tuple[list[SensorRecord], list[Incident]]:
    """Every record the controller would store, in order of arrival, and the faults."""
    by_device: dict[str, list[Change]] = {s.id: [] for s in sensors}
    for change in changes:
        if change.device in by_device:
            by_device[change.device].append(change)
    records: list[SensorRecord] = []
    incidents: list[Incident] = []
    for sensor in sensors:
        device = _Device(spec, sensor, faults.get(sensor.id), random.Random(rng.random()))
        records += device.records(by_device[sensor.id])
        if device.incident is not None:
            incidents.append(device.incident)
    records.sort(key=lambda r: (r.ts, r.device_id))
    return records, sorted(incidents, key=lambda i: i.start)


class _Device:
    def __init__(
        self, spec: HouseholdSpec, sensor: SensorSpec, fault: _Fault | None, rng: random.Random
    ) -> None:
        self._spec = spec
        self._sensor = sensor
        self._fault = fault
        self._rng = rng
        self._battery0 = rng.uniform(55.0, 100.0)
        self._drain = rng.uniform(0.02, 0.08) / DAY  # percent per second
        self._link = rng.uniform(90.0, 220.0)
        self._delay = rng.uniform(0.05, 0.4)
        self._topic = f"home/security/{sensor.type.value}/{sensor.id}"
        self.incident: Incident | None = None
        if fault is not None:
            self.incident = self._incident(fault)

    def _incident(self, fault: _Fault) -> Incident:
        end = self._spec.start + self._spec.days * DAY
        failure = fault.start
        if fault.kind is IncidentKind.BATTERY_FAILURE:
            failure = fault.start + fault.span
        elif fault.kind is IncidentKind.REPORT_DELAY:
            failure = fault.start + fault.span * math.log(LATE / 0.5) / math.log(120.0)
        return Incident(
            fault.kind,
            fault.start,
            end,
            (self._sensor.id,),
            failure=failure if failure < end else None,
            detail=f"{fault.kind.value} on {self._sensor.id}",
        )

    def records(self, changes: Sequence[Change]) -> list[SensorRecord]:
        out: list[SensorRecord] = []
        seq = 0
        for at, state, heartbeat in self._reports(changes):
            battery = self._battery(at)
            if battery <= DEAD_BATTERY:
                break
            if self._silent(at) or (heartbeat and self._rng.random() < 0.005):
                continue
            seq += 1
            metadata: dict[str, object] = {
                "topic": self._topic,
                "seq": seq,
                "ts": round(at, 3),
                "battery": max(0, min(100, round(battery + self._rng.gauss(0, 0.4)))),
            }
            if self._spec.link_quality:
                metadata["linkquality"] = self._link_quality(at)
            received = at + self._latency(at)
            out.append(
                SensorRecord(
                    round(received, 3),
                    self._sensor.type.value,
                    self._sensor.id,
                    state.value,
                    metadata,
                    f"{self._sensor.id}:{seq}",
                )
            )
        return out

    def _reports(self, changes: Sequence[Change]) -> Iterator[tuple[float, SensorState, bool]]:
        """(device time, state, is a heartbeat), in time order, chatter included."""
        spec = self._spec
        state = _RESTING.get(self._sensor.type, SensorState.CLOSED)
        changes = list(changes) + self._chatter(changes)
        changes.sort()
        beat = spec.start + self._rng.uniform(0.0, spec.heartbeat)
        end = spec.start + spec.days * DAY
        index = 0
        while beat < end or index < len(changes):
            if index < len(changes) and (changes[index].ts <= beat or beat >= end):
                change = changes[index]
                index += 1
                if change.ts >= end:
                    continue
                state = change.state
                yield change.ts, state, False
            else:
                yield beat, state, True
                beat += spec.heartbeat * self._rng.uniform(0.95, 1.05)

    def _chatter(self, changes: Sequence[Change]) -> list[Change]:
        fault = self._fault
        if fault is None or fault.kind is not IncidentKind.CHATTER:
            return []
        rng, device = self._rng, self._sensor.id
        end = self._spec.start + self._spec.days * DAY
        at = fault.start
        flaps: list[Change] = []
        while at < end:
            state = SensorState.CLOSED
            for change in changes:  # the contact's real state: flaps come back to it
                if change.ts > at:
                    break
                state = change.state
            t = at
            for n in range(rng.randint(3, 10) * 2):
                t += rng.uniform(0.3, 3.0)
                other = SensorState.OPEN if state is SensorState.CLOSED else SensorState.CLOSED
                flaps.append(Change(t, device, other if n % 2 == 0 else state))
            at += rng.uniform(300.0, 2400.0)
        return flaps

    def _battery(self, at: float) -> float:
        level = self._battery0 - self._drain * (at - self._spec.start)
        fault = self._fault
        if fault is not None and fault.kind is IncidentKind.BATTERY_FAILURE and at > fault.start:
            level0 = self._battery0 - self._drain * (fault.start - self._spec.start)
            done = (at - fault.start) / fault.span
            level = level0 * (1.0 - done**1.5) if done < 1.0 else 0.0
        return level

    def _silent(self, at: float) -> bool:
        fault = self._fault
        return fault is not None and fault.kind is IncidentKind.SILENT and at >= fault.start

    def _link_quality(self, at: float) -> int:
        link = self._link + self._rng.gauss(0, 12.0)
        fault = self._fault
        if fault is not None and fault.kind is IncidentKind.REPORT_DELAY and at > fault.start:
            link *= max(0.1, 1.0 - (at - fault.start) / fault.span)
        return max(0, min(255, round(link)))

    def _latency(self, at: float) -> float:
        rng = self._rng
        delay = self._delay + rng.expovariate(1 / 0.15)
        if rng.random() < 0.002:
            delay += rng.uniform(2.0, 20.0)  # a retry on a busy channel
        fault = self._fault
        if fault is not None and fault.kind is IncidentKind.REPORT_DELAY and at > fault.start:
            delay += 0.5 * 120.0 ** ((at - fault.start) / fault.span)
        return delay
