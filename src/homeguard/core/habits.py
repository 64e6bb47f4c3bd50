"""What a house usually does, learned from a stretch of its history: the yardstick that
anomaly detection (:mod:`homeguard.core.activity`) measures each activation against.

Pure. An :class:`ActivityProfile` knows, per sensor:

- how often it is active at each hour of the day, weekdays and weekends apart;
- which activation follows which (steps less than :data:`STEP_GAP` apart);
- how often it is active in each state of the panel, per hour spent in that state
  (nobody walks the kitchen while the house is armed away; coming home does open the
  front door before the code is in);
- how often it is the first thing active after the house has been quiet for
  :data:`QUIET` seconds (people come in by the front door and wake up in their beds;
  the back door and the windows open when someone is already up).

Each is turned into bits of surprise, ``-log2`` of a smoothed frequency: what was
never seen is rare, not impossible.
"""

from __future__ import annotations

import bisect
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

DAY = 86400.0
HOUR = 3600.0
STEP_GAP = 900.0  # activations further apart than this are not a sequence
QUIET = 1800.0  # silence after which an activation starts the house's activity again
NEIGHBOUR_HOURS = 0.5  # what the hours either side count for an hour's habits
_PANEL_PRIOR = 2.0  # hours of "as usual" a panel state's rates start from


class Act(Protocol):
    @property
    def ts(self) -> float: ...

    @property
    def device(self) -> str: ...


class Panel(Protocol):
    @property
    def changes(self) -> tuple[tuple[float, str], ...]: ...

    def at(self, ts: float) -> str: ...


@dataclass(frozen=True)
class ActivityProfile:
    """The habits learned from ``days`` of history; see the module docstring."""

    devices: tuple[str, ...]
    days: float
    hourly: Mapping[tuple[str, bool, int], int]
    steps: Mapping[tuple[str, str], int]
    froms: Mapping[str, int]
    utc_offset: float = 0.0
    in_state: Mapping[tuple[str, str], int] = field(default_factory=dict)
    state_hours: Mapping[str, float] = field(default_factory=dict)
    starts: Mapping[str, int] = field(default_factory=dict)
    _weekdays: float = field(init=False, repr=False, compare=False)
    _rate: Mapping[str, float] = field(init=False, repr=False, compare=False)
    _start_total: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_weekdays", max(1.0, self.days * 5 / 7))
        hours = max(1.0, self.days * 24.0)
        totals: Counter[str] = Counter()
        for (device, _weekend, _hour), seen in self.hourly.items():
            totals[device] += seen
        object.__setattr__(self, "_rate", {d: (n + 0.5) / hours for d, n in totals.items()})
        object.__setattr__(self, "_start_total", sum(self.starts.values()))

    @classmethod
    def learn(
        cls,
        acts: Sequence[Act],
        since: float,
        until: float,
        *,
        panel: Panel | None = None,
        utc_offset: float = 0.0,
    ) -> ActivityProfile:
        hourly: Counter[tuple[str, bool, int]] = Counter()
        steps: Counter[tuple[str, str]] = Counter()
        froms: Counter[str] = Counter()
        in_state: Counter[tuple[str, str]] = Counter()
        starts: Counter[str] = Counter()
        previous: Act | None = None
        for act in acts:
            if not since <= act.ts < until:
                previous = act if act.ts < since else previous
                continue
            weekend, hour = when(act.ts, utc_offset)
            hourly[act.device, weekend, hour] += 1
            if panel is not None:
                in_state[act.device, panel.at(act.ts)] += 1
            if previous is not None and act.ts - previous.ts <= STEP_GAP:
                steps[previous.device, act.device] += 1
                froms[previous.device] += 1
            if previous is None or act.ts - previous.ts >= QUIET:
                starts[act.device] += 1
            previous = act
        devices = tuple(sorted({a.device for a in acts if since <= a.ts < until}))
        hours = _state_hours(panel, since, until) if panel is not None else {}
        return cls(
            devices,
            (until - since) / DAY,
            hourly,
            steps,
            froms,
            utc_offset,
            in_state,
            hours,
            starts,
        )

    def time_surprise(self, act: Act) -> float:
        """-log2 of the chance that ``act.device`` is active in that hour on such a day
        (smoothed: a sensor never seen then is rare, not impossible)."""
        weekend, hour = when(act.ts, self.utc_offset)
        days = self.days - self._weekdays if weekend else self._weekdays
        seen = sum(
            weight * self.hourly.get((act.device, weekend, (hour + shift) % 24), 0)
            for shift, weight in ((-1, NEIGHBOUR_HOURS), (0, 1.0), (1, NEIGHBOUR_HOURS))
        )
        spread = 1.0 + 2 * NEIGHBOUR_HOURS
        return -math.log2((seen / spread + 0.2) / (max(days, 1.0) + 0.4))

    def step_surprise(self, before: Act, after: Act) -> float:
        """-log2 of the chance that ``after`` follows ``before`` (smoothed)."""
        seen = self.steps.get((before.device, after.device), 0)
        total = self.froms.get(before.device, 0)
        return -math.log2((seen + 0.1) / (total + 0.1 * (len(self.devices) + 1)))

    def panel_surprise(self, act: Act, state: str) -> float:
        """How much rarer ``act.device`` is while the panel is in ``state`` than it is
        at all, in bits (0 when it is not rarer): log2 of its overall rate over its
        rate per hour in that state (which starts from the overall rate, so a state
        seldom seen says little)."""
        overall = self._rate.get(act.device, 0.5 / max(1.0, self.days * 24.0))
        hours = self.state_hours.get(state, 0.0)
        seen = self.in_state.get((act.device, state), 0)
        rate = (seen + _PANEL_PRIOR * overall) / (hours + _PANEL_PRIOR)
        return max(0.0, math.log2(overall / rate))

    def start_surprise(self, act: Act) -> float:
        """-log2 of the chance that the house's activity starts again, after a quiet
        spell, with ``act.device`` (smoothed)."""
        seen = self.starts.get(act.device, 0)
        return -math.log2((seen + 0.1) / (self._start_total + 0.1 * (len(self.devices) + 1)))


def _state_hours(panel: Panel, since: float, until: float) -> dict[str, float]:
    """Hours the panel spent in each state within [since, until)."""
    hours: dict[str, float] = {}
    index = bisect.bisect_right(panel.changes, since, key=lambda change: change[0])
    at, state = since, panel.at(since)
    for ts, new in panel.changes[index:]:
        if ts >= until:
            break
        hours[state] = hours.get(state, 0.0) + (ts - at) / HOUR
        at, state = ts, new
    hours[state] = hours.get(state, 0.0) + (until - at) / HOUR
    return hours


def when(ts: float, utc_offset: float) -> tuple[bool, int]:
    """(weekend, hour of day) of ``ts`` in local time."""
    local = ts + utc_offset
    weekday = (int(local // DAY) + 3) % 7  # 1970-01-01 was a Thursday
    return weekday >= 5, int(local % DAY // HOUR)
