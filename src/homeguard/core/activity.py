"""What the house did, window by window: the features anomaly detection scores.

Pure. Sensor records become *activations* (a contact opening, a motion sensor seeing
motion; reports that repeat a state are heartbeats and ignored). A
:class:`ActivityProfile`, learned from a stretch of history, knows how often each sensor
is active at each hour (weekdays and weekends apart) and which activation follows which.
Each window then gets a vector of features:

==================  ==========================================================
``hour_sin/cos``    time of day, on a circle
``weekend``         1 on Saturday and Sunday
``armed_away``...   the panel's state at the window's start (from system events)
``activations``     how many (log)
``sensors``         how many different sensors were active
``rare_time``       the rarest activation for its hour, as -log2 of its frequency
``rare_time_sum``   the same, summed over the window
``rare_step``       the rarest step from one activation to the next (-log2)
``rare_step_sum``   the same, summed
``after_quiet``     log minutes of silence before the window's first activation
``while_away``      activations while the panel is armed away (coming home makes a
                    couple before the code is in)
==================  ==========================================================

:func:`explain` turns a window's unusual features into words.
"""

from __future__ import annotations

import bisect
import math
from collections import Counter, deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from homeguard.core.records import SensorRecord, SystemRecord

DAY = 86400.0
HOUR = 3600.0
_ACTIVE = frozenset({"OPEN", "MOTION", "ON"})
_STEP_GAP = 900.0
FLAP_WINDOW = 60.0
FLAP_CHANGES = 6
FLAP_QUIET = 3600.0  # activations further apart than this are not a sequence
PANEL_STATES = ("disarmed", "armed_away", "armed_night", "armed_home", "armed_vacation")
FEATURES = (
    "hour_sin",
    "hour_cos",
    "weekend",
    *PANEL_STATES,
    "activations",
    "sensors",
    "rare_time",
    "rare_time_sum",
    "rare_step",
    "rare_step_sum",
    "after_quiet",
    "while_away",
)


@dataclass(frozen=True, slots=True)
class Activation:
    ts: float
    device: str


def activations(records: Iterable[SensorRecord]) -> list[Activation]:
    """The moments sensors became active, oldest first (``records`` in any order).

    A sensor that changes state faster than people move things (:data:`FLAP_CHANGES`
    changes within :data:`FLAP_WINDOW` s) is flapping: its activations are left out
    until it has been calm for :data:`FLAP_QUIET` s. Sensor health reports it; here it
    would only drown what people do."""
    last: dict[str, str] = {}
    changes: dict[str, deque[float]] = {}
    quiet: dict[str, list[tuple[float, float]]] = {}  # per device: left-out stretches
    found: list[Activation] = []
    for record in sorted(records, key=lambda r: (r.ts, r.id or 0)):
        device = record.device_id
        previous = last.get(device)
        last[device] = record.state
        if previous == record.state:
            continue
        recent = changes.setdefault(device, deque())
        recent.append(record.ts)
        while recent[0] < record.ts - FLAP_WINDOW:
            recent.popleft()
        if len(recent) >= FLAP_CHANGES:
            stretches = quiet.setdefault(device, [])
            if stretches and stretches[-1][1] >= recent[0]:
                stretches[-1] = (stretches[-1][0], record.ts + FLAP_QUIET)
            else:
                stretches.append((recent[0], record.ts + FLAP_QUIET))
        if record.state in _ACTIVE:
            found.append(Activation(record.ts, device))
    return [a for a in found if not _within(a.ts, quiet.get(a.device, ()))]


def _within(ts: float, stretches: Sequence[tuple[float, float]]) -> bool:
    index = bisect.bisect_right(stretches, ts, key=lambda stretch: stretch[0])
    return index > 0 and ts <= stretches[index - 1][1]


@dataclass(frozen=True, slots=True)
class PanelTimeline:
    """The panel's state over time, from ``armed``/``disarmed`` system events."""

    changes: tuple[tuple[float, str], ...] = ()

    @classmethod
    def from_events(cls, events: Iterable[SystemRecord]) -> PanelTimeline:
        changes: list[tuple[float, str]] = []
        for event in sorted(events, key=lambda e: e.ts):
            if event.event_type == "armed":
                mode = str((event.data or {}).get("mode", "armed_away"))
                changes.append((event.ts, mode if mode in PANEL_STATES else "armed_away"))
            elif event.event_type == "disarmed":
                changes.append((event.ts, "disarmed"))
        return cls(tuple(changes))

    def at(self, ts: float) -> str:
        index = bisect.bisect_right(self.changes, ts, key=lambda change: change[0])
        return self.changes[index - 1][1] if index else "disarmed"


@dataclass(frozen=True)
class ActivityProfile:
    """How often each sensor is active per hour of day (weekday/weekend), and which
    activation follows which, learned from ``days`` of history."""

    devices: tuple[str, ...]
    days: float
    hourly: Mapping[tuple[str, bool, int], int]
    steps: Mapping[tuple[str, str], int]
    froms: Mapping[str, int]
    utc_offset: float = 0.0
    _weekdays: float = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_weekdays", max(1.0, self.days * 5 / 7))

    @classmethod
    def learn(
        cls, acts: Sequence[Activation], since: float, until: float, *, utc_offset: float = 0.0
    ) -> ActivityProfile:
        hourly: Counter[tuple[str, bool, int]] = Counter()
        steps: Counter[tuple[str, str]] = Counter()
        froms: Counter[str] = Counter()
        previous: Activation | None = None
        for act in acts:
            if not since <= act.ts < until:
                continue
            weekend, hour = _when(act.ts, utc_offset)
            hourly[act.device, weekend, hour] += 1
            if previous is not None and act.ts - previous.ts <= _STEP_GAP:
                steps[previous.device, act.device] += 1
                froms[previous.device] += 1
            previous = act
        devices = tuple(sorted({a.device for a in acts if since <= a.ts < until}))
        return cls(devices, (until - since) / DAY, hourly, steps, froms, utc_offset)

    def time_surprise(self, act: Activation) -> float:
        """-log2 of the chance that ``act.device`` is active in that hour on such a day
        (smoothed: a sensor never seen then is rare, not impossible)."""
        weekend, hour = _when(act.ts, self.utc_offset)
        days = self.days - self._weekdays if weekend else self._weekdays
        seen = self.hourly.get((act.device, weekend, hour), 0)
        return -math.log2((seen + 0.2) / (max(days, 1.0) + 0.4))

    def step_surprise(self, before: Activation, after: Activation) -> float:
        """-log2 of the chance that ``after`` follows ``before`` (smoothed)."""
        seen = self.steps.get((before.device, after.device), 0)
        total = self.froms.get(before.device, 0)
        return -math.log2((seen + 0.1) / (total + 0.1 * (len(self.devices) + 1)))


@dataclass(frozen=True, slots=True)
class Window:
    """One scored stretch of time: its features and the activations in it."""

    start: float
    end: float
    features: tuple[float, ...]
    acts: tuple[Activation, ...]
    rarest_time: Activation | None
    rarest_step: tuple[Activation, Activation] | None
    panel: str


def windows(
    acts: Sequence[Activation],
    panel: PanelTimeline,
    profile: ActivityProfile,
    since: float,
    until: float,
    *,
    length: float = 600.0,
) -> list[Window]:
    """The windows of ``length`` s in [since, until) that hold at least one activation
    (a quiet house is not scored)."""
    out: list[Window] = []
    index = 0
    while index < len(acts) and acts[index].ts < since:
        index += 1
    previous = acts[index - 1] if index > 0 else None
    start = since + ((acts[index].ts - since) // length) * length if index < len(acts) else until
    while index < len(acts) and start < until:
        end = start + length
        group: list[Activation] = []
        while index < len(acts) and acts[index].ts < end:
            group.append(acts[index])
            index += 1
        if group and group[-1].ts < until:
            out.append(_window(group, previous, panel, profile, (start, end)))
            previous = group[-1]
        if index < len(acts):
            start = since + ((acts[index].ts - since) // length) * length
    return out


def _window(
    group: list[Activation],
    previous: Activation | None,
    panel: PanelTimeline,
    profile: ActivityProfile,
    span: tuple[float, float],
) -> Window:
    start, end = span
    weekend, _ = _when(start, profile.utc_offset)
    local = (start + profile.utc_offset) % DAY / DAY * 2 * math.pi
    state = panel.at(start)
    times = [(profile.time_surprise(a), a) for a in group]
    rarest_time = max(times, key=lambda x: x[0])
    steps: list[tuple[float, tuple[Activation, Activation]]] = []
    before = previous
    for act in group:
        if before is not None and act.ts - before.ts <= _STEP_GAP:
            steps.append((profile.step_surprise(before, act), (before, act)))
        before = act
    rarest_step = max(steps, key=lambda x: x[0]) if steps else None
    quiet = (group[0].ts - previous.ts) if previous is not None else DAY
    features = (
        math.sin(local),
        math.cos(local),
        1.0 if weekend else 0.0,
        *(1.0 if state == name else 0.0 for name in PANEL_STATES),
        math.log1p(len(group)),
        float(len({a.device for a in group})),
        rarest_time[0],
        sum(t for t, _ in times),
        rarest_step[0] if rarest_step else 0.0,
        sum(s for s, _ in steps),
        math.log1p(min(quiet, DAY) / 60.0),
        float(sum(panel.at(a.ts) == "armed_away" for a in group)),
    )
    return Window(
        start,
        end,
        features,
        tuple(group),
        rarest_time[1],
        rarest_step[1] if rarest_step else None,
        state,
    )


AWAY_BITS = 2.0  # what an activation while armed away adds to a window's surprise


def surprise(window: Window) -> float:
    """How many bits of surprise the window's activity holds for the profile it was
    made with: each activation's rarity at its hour, each step's rarity after the one
    before, and :data:`AWAY_BITS` for each activation while armed away. The sum of
    -log2 frequencies is a (naive) negative log-likelihood of what happened."""
    named = dict(zip(FEATURES, window.features, strict=True))
    return named["rare_time_sum"] + named["rare_step_sum"] + AWAY_BITS * named["while_away"]


def explain(window: Window, usual: Sequence[float], profile: ActivityProfile) -> list[str]:
    """Why ``window`` is unusual: its features above ``usual`` (a high percentile of each
    feature in the training windows), in words."""
    named = dict(zip(FEATURES, window.features, strict=True))
    limit = dict(zip(FEATURES, usual, strict=True))
    reasons: list[str] = []
    if named["rare_time"] > limit["rare_time"] and window.rarest_time is not None:
        act = window.rarest_time
        reasons.append(f"{act.device} active at {_clock(act.ts, profile)}, rare at that hour")
    if named["rare_step"] > limit["rare_step"] and window.rarest_step is not None:
        a, b = window.rarest_step
        reasons.append(f"{b.device} right after {a.device}, an unusual order")
    if named["while_away"] > limit["while_away"]:
        reasons.append(f"{named['while_away']:.0f} activations while armed away")
    if named["after_quiet"] > limit["after_quiet"]:
        reasons.append("activity after a long quiet spell")
    if named["sensors"] > limit["sensors"] or named["activations"] > limit["activations"]:
        devices = sorted({a.device for a in window.acts})
        reasons.append(f"{len(window.acts)} activations on {', '.join(devices)}")
    if named["rare_time_sum"] > limit["rare_time_sum"] and not reasons:
        reasons.append(f"much activity that is rare at {_clock(window.start, profile)}")
    return reasons or [f"an unusual mix of activity at {_clock(window.start, profile)}"]


def _when(ts: float, utc_offset: float) -> tuple[bool, int]:
    local = ts + utc_offset
    weekday = (int(local // DAY) + 3) % 7  # 1970-01-01 was a Thursday
    return weekday >= 5, int(local % DAY // HOUR)


def _clock(ts: float, profile: ActivityProfile) -> str:
    seconds = int((ts + profile.utc_offset) % DAY)
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}"
