"""How good sensor health and anomaly detection are, as numbers, on a household with
known answers (``homeguard evaluate``; docs/intelligence.md).

A household is simulated (:mod:`homeguard.core.household`); the detector learns from its
first ``train_weeks`` (normal life, no intrusions) and scores the rest, where intrusions
are injected. An intrusion is caught when an anomaly overlaps it; every other anomaly is
a false flag (those whose reasons name a sensor that had a fault by then are counted
apart: a dead motion sensor makes people's walks look odd; a flag that merely includes
such a sensor is false). The trivial baseline
flags any activity between 01:00 and 05:00. Sensor health is run every
``health_every`` s over the whole simulation, as the live service would, and each fault
is scored by when its device first needed attention. Same seed, same numbers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from homeguard.adapters import isolation_forest
from homeguard.core.activity import DAY, HOUR, activations
from homeguard.core.health import HealthPolicy, Track, assess, report_of
from homeguard.core.household import Household, HouseholdSpec, Incident, simulate_household
from homeguard.services.anomaly import Anomaly, AnomalyDetector, AnomalyPolicy

WEEK = 7 * DAY


@dataclass(frozen=True, slots=True)
class DetectionScore:
    """One detector's intrusion figures over the scored weeks."""

    detector: str
    weeks: float
    intrusions: int
    caught: int
    flags: int
    false_flags: int
    fault_flags: int  # flags whose reasons name a sensor that had a fault by then

    @property
    def recall(self) -> float:
        return self.caught / self.intrusions if self.intrusions else 1.0

    @property
    def precision(self) -> float:
        return (
            (self.flags - self.false_flags - self.fault_flags) / self.flags if self.flags else 1.0
        )

    @property
    def false_per_week(self) -> float:
        return self.false_flags / self.weeks if self.weeks else 0.0


@dataclass(frozen=True, slots=True)
class FaultScore:
    """When sensor health first said a faulty device needed attention. ``lead_hours``:
    how long before the failure (negative: after it)."""

    kind: str
    device: str
    flagged: bool
    lead_hours: float | None
    reason: str


@dataclass(frozen=True)
class Evaluation:
    seed: int
    weeks: int
    train_weeks: int
    detection: list[DetectionScore]
    faults: list[FaultScore]
    false_maintenance: int  # attention on a healthy device (or before its fault)
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "weeks": self.weeks,
            "train_weeks": self.train_weeks,
            "detection": [
                {
                    **asdict(s),
                    "recall": round(s.recall, 3),
                    "precision": round(s.precision, 3),
                    "false_per_week": round(s.false_per_week, 2),
                }
                for s in self.detection
            ],
            "faults": [asdict(f) for f in self.faults],
            "false_maintenance": self.false_maintenance,
            "notes": self.notes,
        }

    def lines(self) -> list[str]:
        out = [f"seed {self.seed}: {self.weeks} weeks, trained on the first {self.train_weeks}"]
        for s in self.detection:
            out.append(
                f"  {s.detector:<17} intrusions caught {s.caught}/{s.intrusions}"
                f" (recall {s.recall:.0%}), precision {s.precision:.0%},"
                f" false flags {s.false_flags} ({s.false_per_week:.2f}/week),"
                f" on faulty sensors {s.fault_flags}"
            )
        for f in self.faults:
            when = "missed" if f.lead_hours is None else _lead(f.kind, f.lead_hours)
            out.append(f"  {f.kind:<17} {f.device:<15} {when}: {f.reason}")
        out.append(f"  maintenance false alarms: {self.false_maintenance}")
        out += [f"  note: {note}" for note in self.notes]
        return out


def _lead(kind: str, hours: float) -> str:
    if kind in ("chatter", "silent"):
        return f"flagged {-hours * 60:.0f} min after onset"
    return f"flagged {hours / 24:.1f} days before failure"


def evaluate(
    seed: int,
    *,
    weeks: int = 5,
    train_weeks: int = 2,
    forest: bool = True,
    health_every: float = 1800.0,
) -> Evaluation:
    """Simulate, train, score; ``forest``: also measure the IsolationForest (skipped,
    with a note, when the ml extra is missing)."""
    if weeks <= train_weeks:
        raise ValueError("weeks must be more than train_weeks")
    spec = HouseholdSpec(
        days=weeks * 7,
        seed=seed,
        intrusions_after=train_weeks * 7,
        intrusions_per_week=3.0,
    )
    household = simulate_household(spec)
    split = spec.start + train_weeks * WEEK
    notes: list[str] = []
    detection = [_detection("surprise", household, split, AnomalyPolicy(seed=seed))]
    if forest and isolation_forest.available():
        policy = AnomalyPolicy(model="isolation_forest", seed=seed)
        detection.append(_detection("isolation_forest", household, split, policy))
    elif forest:
        notes.append(isolation_forest.INSTALL_HINT)
    detection.append(_score("baseline 01-05h", household, split, _baseline(household, split)))
    faults, false_maintenance = _maintenance(household, health_every)
    return Evaluation(seed, weeks, train_weeks, detection, faults, false_maintenance, notes)


def _detection(
    name: str, household: Household, split: float, policy: AnomalyPolicy
) -> DetectionScore:
    events, panel = household.sensor_events, household.system_events
    detector = AnomalyDetector.train(
        events, panel, since=household.spec.start, until=split, policy=policy
    )
    found = detector.detect(events, panel, since=split, until=household.end)
    return _score(name, household, split, found)


def _baseline(household: Household, split: float) -> list[Anomaly]:
    """Any activation between 01:00 and 05:00 (local); activations less than half an
    hour apart make one flag, as the detector's windows do."""
    offset = household.spec.utc_offset
    found: list[Anomaly] = []
    for act in activations(household.sensor_events):
        if act.ts < split or not 1.0 <= (act.ts + offset) % DAY / HOUR < 5.0:
            continue
        if found and act.ts - found[-1].end <= 1800.0:
            last = found.pop()
            devices = tuple(sorted({*last.devices, act.device}))
            found.append(Anomaly(last.start, act.ts, 1.0, last.reasons, devices))
        else:
            found.append(Anomaly(act.ts, act.ts, 1.0, ("activity at night",), (act.device,)))
    return found


def _score(
    name: str, household: Household, split: float, found: Sequence[Anomaly]
) -> DetectionScore:
    intrusions = household.intrusions()
    faults = household.faults()
    caught = sum(any(_overlap(a, i) for a in found) for i in intrusions)
    true_flags = [a for a in found if any(_overlap(a, i) for i in intrusions)]
    on_faults = [
        a
        for a in found
        if a not in true_flags and any(f.start <= a.end and _names(a, f.devices) for f in faults)
    ]
    false_flags = len(found) - len(true_flags) - len(on_faults)
    weeks = (household.end - split) / WEEK
    return DetectionScore(
        name, weeks, len(intrusions), caught, len(found), false_flags, len(on_faults)
    )


def _names(anomaly: Anomaly, devices: Sequence[str]) -> bool:
    return any(device in reason for reason in anomaly.reasons for device in devices)


def _overlap(anomaly: Anomaly, incident: Incident) -> bool:
    return anomaly.start <= incident.end and anomaly.end >= incident.start


def _maintenance(household: Household, every: float) -> tuple[list[FaultScore], int]:
    policy = HealthPolicy()
    reports = {s.id: Track() for s in household.sensors}
    for record in household.sensor_events:
        reports[record.device_id].add(*report_of(record))
    faults = {f.devices[0]: f for f in household.faults()}
    first: dict[str, tuple[float, str]] = {}
    false_alarms = 0
    attention: dict[str, bool] = {}
    # From the day before the first fault can start: the days before are like it.
    at = household.spec.start + max(2.0, household.spec.faults_after - 1.0) * DAY
    while at < household.end:
        for device, history in reports.items():
            health = assess(device, history, at, policy)
            needs = health.state.needs_attention
            fault = faults.get(device)
            if needs and not attention.get(device, False):
                if fault is not None and at >= fault.start:
                    first.setdefault(device, (at, health.reason))
                else:
                    false_alarms += 1
            attention[device] = needs
        at += every
    scores = []
    for device, fault in faults.items():
        flagged = first.get(device)
        reference = fault.failure if fault.failure is not None else fault.start
        lead = None if flagged is None else (reference - flagged[0]) / HOUR
        scores.append(
            FaultScore(
                fault.kind.value,
                device,
                flagged is not None,
                None if lead is None else round(lead, 2),
                flagged[1] if flagged else "",
            )
        )
    return sorted(scores, key=lambda s: s.kind), false_alarms
