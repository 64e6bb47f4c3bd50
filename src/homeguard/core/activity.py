"""What the house did, window by window: the features anomaly detection scores.

Pure. Sensor records become *activations* (a contact opening, a motion sensor seeing
motion; reports that repeat a state are heartbeats and ignored). An
:class:`~homeguard.core.habits.ActivityProfile`, learned from a stretch of history,
knows the house's habits. Each window then gets a vector of features:

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
``rare_panel``      the activation rarest in the panel's state at the time, in bits
                    more than at all (:meth:`ActivityProfile.panel_surprise`)
``rare_panel_sum``  the same, summed
``rare_start``      the rarest activation that broke a quiet spell of 30 minutes
``rare_top``        the bits of the :data:`TOP` most surprising activations
==================  ==========================================================

:func:`explain` turns a window's unusual features into words.
"""

from __future__ import annotations

import bisect
import math
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from homeguard.core.habits import QUIET, STEP_GAP, ActivityProfile, when
from homeguard.core.records import SensorRecord, SystemRecord

DAY = 86400.0
HOUR = 3600.0
_ACTIVE = frozenset({"OPEN", "MOTION", "ON"})
TOP = 3  # activations whose bits make a window's score in full
REST_WEIGHT = 0.3  # what all of a window's bits add to it
CLOCK_SKEW = 5.0  # seconds a device's clock may run ahead of ours
LATE_AT_MOST = DAY  # a report older than this on arrival: its ts is not believed
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
    "rare_panel",
    "rare_panel_sum",
    "rare_start",
    "rare_top",
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
    would only drown what people do.

    An activation is placed when it happened: at the device's own ``ts`` when it sent
    one that is plausible (:func:`happened`), so that a slow link does not move a door
    opened at 18:00 to 18:40."""
    last: dict[str, str] = {}
    changes: dict[str, deque[float]] = {}
    quiet: dict[str, list[tuple[float, float]]] = {}  # per device: left-out stretches
    found: list[Activation] = []
    for ts, record in sorted(
        ((happened(r), r) for r in records), key=lambda x: (x[0], x[1].id or 0)
    ):
        device = record.device_id
        previous = last.get(device)
        last[device] = record.state
        if previous == record.state:
            continue
        recent = changes.setdefault(device, deque())
        recent.append(ts)
        while recent[0] < ts - FLAP_WINDOW:
            recent.popleft()
        if len(recent) >= FLAP_CHANGES:
            stretches = quiet.setdefault(device, [])
            if stretches and stretches[-1][1] >= recent[0]:
                stretches[-1] = (stretches[-1][0], ts + FLAP_QUIET)
            else:
                stretches.append((recent[0], ts + FLAP_QUIET))
        if record.state in _ACTIVE:
            found.append(Activation(ts, device))
    return [a for a in found if not _within(a.ts, quiet.get(a.device, ()))]


def happened(record: SensorRecord) -> float:
    """When what ``record`` reports happened: the device's ``ts`` when it is at most
    :data:`CLOCK_SKEW` s after the receipt and at most :data:`LATE_AT_MOST` s before it
    (a device clock that is far off is not believed), else the receipt."""
    sent = (record.metadata or {}).get("ts")
    if isinstance(sent, bool) or not isinstance(sent, int | float):
        return record.ts
    return float(sent) if record.ts - LATE_AT_MOST <= sent <= record.ts + CLOCK_SKEW else record.ts


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
    rarest_panel: tuple[Activation, str] | None = None  # and the panel's state then
    rarest_start: Activation | None = None  # what broke a quiet spell, the rarest


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
    weekend, _ = when(start, profile.utc_offset)
    local = (start + profile.utc_offset) % DAY / DAY * 2 * math.pi
    state = panel.at(start)
    times = [(profile.time_surprise(a), a) for a in group]
    rarest_time = max(times, key=lambda x: x[0])
    states = [(panel.at(a.ts), a) for a in group]
    panels = [(profile.panel_surprise(a, s), (a, s)) for s, a in states]
    rarest_panel = max(panels, key=lambda x: x[0])
    steps: list[tuple[float, tuple[Activation, Activation]]] = []
    starts: list[tuple[float, Activation]] = []
    bits = [t + p for (t, _), (p, _) in zip(times, panels, strict=True)]
    before = previous
    for n, act in enumerate(group):
        if before is not None and act.ts - before.ts <= STEP_GAP:
            steps.append((profile.step_surprise(before, act), (before, act)))
            bits[n] += steps[-1][0]
        if before is None or act.ts - before.ts >= QUIET:
            starts.append((profile.start_surprise(act), act))
            bits[n] += starts[-1][0]
        before = act
    rarest_step = max(steps, key=lambda x: x[0]) if steps else None
    rarest_start = max(starts, key=lambda x: x[0]) if starts else None
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
        float(sum(s == "armed_away" for s, _ in states)),
        rarest_panel[0],
        sum(p for p, _ in panels),
        rarest_start[0] if rarest_start else 0.0,
        sum(sorted(bits, reverse=True)[:TOP]),
    )
    return Window(
        start,
        end,
        features,
        tuple(group),
        rarest_time[1],
        rarest_step[1] if rarest_step else None,
        state,
        rarest_panel[1],
        rarest_start[1] if rarest_start else None,
    )


def surprise(window: Window) -> float:
    """How many bits of surprise the window's activity holds for the profile it was
    made with. Each activation's bits are its rarity at its hour and in the panel's
    state, the rarity of the step into it and, when it broke a quiet spell, of that
    (sums of -log2 frequencies: a naive negative log-likelihood). The score is the bits
    of the :data:`TOP` most surprising activations plus :data:`REST_WEIGHT` of all the
    window's bits: a few very rare things (a window at 03:00 while armed night) weigh
    more than many slightly unusual ones (a busy Sunday lunch)."""
    named = dict(zip(FEATURES, window.features, strict=True))
    every = (
        named["rare_time_sum"]
        + named["rare_step_sum"]
        + named["rare_panel_sum"]
        + named["rare_start"]
    )
    return named["rare_top"] + REST_WEIGHT * every


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
    if named["rare_panel"] > limit["rare_panel"] and window.rarest_panel is not None:
        act, state = window.rarest_panel
        reasons.append(f"{act.device} active while {state.replace('_', ' ')}, rare then")
    if named["rare_start"] > limit["rare_start"] and window.rarest_start is not None:
        reasons.append(f"{window.rarest_start.device} first after a quiet spell, rare")
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


def _clock(ts: float, profile: ActivityProfile) -> str:
    seconds = int((ts + profile.utc_offset) % DAY)
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}"
