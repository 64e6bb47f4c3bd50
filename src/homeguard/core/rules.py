"""Evaluating edge rules: pure functions of (what happened, the panel, its settings, now)
to the rules that fire and the rules' new memory (core.state.RuleState).

What a rule reacts to is a :data:`Happening`: a sensor changed to a state, or the panel
became a state; schedules are read from the clock (:func:`schedules_due`). Times of day
and days of the week are local to the rule book's time zone (zoneinfo: the tz database,
no clock read). core.rule_run carries out what fires, with the panel.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from datetime import time as day_time
from functools import lru_cache
from zoneinfo import ZoneInfo

from homeguard.core.model import PanelSettings, PanelState, SensorState
from homeguard.core.rulebook import (
    PanelTrigger,
    RuleBook,
    RuleSpec,
    ScheduleTrigger,
    SensorMatch,
    SensorTrigger,
    SequenceTrigger,
    TimeWindow,
)
from homeguard.core.state import Panel, RuleState, StepSeen


@dataclass(frozen=True, slots=True)
class SensorChanged:
    sensor_id: str
    state: SensorState


@dataclass(frozen=True, slots=True)
class PanelChanged:
    state: PanelState


Happening = SensorChanged | PanelChanged


@dataclass(frozen=True, slots=True)
class Firing:
    """A rule fires; ``sensors``: the ones whose changes made it (none for a schedule
    or a change of the panel's state)."""

    rule: RuleSpec
    sensors: tuple[str, ...] = ()


def react(
    happening: Happening,
    panel: Panel,
    settings: PanelSettings,
    now: float,
    done: frozenset[str] = frozenset(),
) -> tuple[RuleState, list[Firing]]:
    """The rules that fire on ``happening`` with ``panel`` as it is then, and the rules'
    memory after it. A rule in ``done`` (it already fired for this input) does not fire
    again: its own actions cannot make it fire in a loop."""
    state = panel.rules
    firings: list[Firing] = []
    for rule in settings.rules.rules:
        trigger = rule.trigger
        state, sensors = _triggered(rule, happening, state, settings, now)
        if sensors is None or not may_fire(rule, state, panel, settings, now, done=done):
            continue
        if isinstance(trigger, SequenceTrigger):  # a sequence starts again once it fired
            state = replace(state, steps={**state.steps, rule.name: _no_steps(trigger)})
        state = replace(state, last_fired={**state.last_fired, rule.name: now})
        firings.append(Firing(rule, sensors))
    return state, firings


def may_fire(
    rule: RuleSpec,
    state: RuleState,
    panel: Panel,
    settings: PanelSettings,
    now: float,
    *,
    done: frozenset[str],
) -> bool:
    """Whether ``rule``, triggered now, fires: not yet for this input, not within its
    cooldown, and its conditions hold."""
    if rule.name in done:
        return False
    last = state.last_fired.get(rule.name)
    if rule.cooldown > 0 and last is not None and 0 <= now - last < rule.cooldown:
        return False
    conditions = rule.conditions
    if conditions.panel is not None and panel.state not in conditions.panel:
        return False
    if conditions.window is not None and not in_window(
        conditions.window, settings.rules.timezone, now
    ):
        return False
    return all(_holds(match, panel, settings) for match in conditions.sensors)


def _triggered(
    rule: RuleSpec, happening: Happening, state: RuleState, settings: PanelSettings, now: float
) -> tuple[RuleState, tuple[str, ...] | None]:
    """The rules' memory after ``happening``, and the sensors that make ``rule``'s
    trigger come with it (None: it does not come)."""
    trigger = rule.trigger
    match trigger, happening:
        case SequenceTrigger(), SensorChanged():
            return _sequence_step(rule.name, trigger, happening, state, settings, now)
        case SensorTrigger(), SensorChanged() if _matches(trigger.match, happening, settings):
            return state, (happening.sensor_id,)
        case PanelTrigger(), PanelChanged() if happening.state in trigger.states:
            return state, ()
    return state, None


def _matches(match: SensorMatch, happening: SensorChanged, settings: PanelSettings) -> bool:
    spec = settings.sensor(happening.sensor_id)
    return spec is not None and match.selects(spec) and match.state.accepts(happening.state)


def _holds(match: SensorMatch, panel: Panel, settings: PanelSettings) -> bool:
    states = [panel.sensor(s.id).state for s in settings.sensors if match.selects(s)]
    if match.every:
        return bool(states) and all(match.state.accepts(s) for s in states)
    return any(match.state.accepts(s) for s in states)


def _no_steps(trigger: SequenceTrigger) -> tuple[StepSeen | None, ...]:
    return (None,) * len(trigger.steps)


def _sequence_step(  # noqa: PLR0917 - the pieces of _triggered's case
    name: str,
    trigger: SequenceTrigger,
    happening: SensorChanged,
    state: RuleState,
    settings: PanelSettings,
    now: float,
) -> tuple[RuleState, tuple[str, ...] | None]:
    """Note the steps ``happening`` makes; the sensors of the whole sequence when this
    completed it (every step within the window, in order if it must be), else None."""
    hit = [_matches(step, happening, settings) for step in trigger.steps]
    if not any(hit):
        return state, None
    seen = state.steps.get(name)
    if seen is None or len(seen) != len(trigger.steps):
        seen = _no_steps(trigger)
    seen = tuple(
        StepSeen(now, happening.sensor_id) if h else old for h, old in zip(hit, seen, strict=True)
    )
    state = replace(state, steps={**state.steps, name: seen})
    if any(s is None for s in seen):
        return state, None
    times = [s.at for s in seen if s is not None]
    if max(times) - min(times) > trigger.within:
        return state, None
    if trigger.ordered and times != sorted(times):
        return state, None
    return state, tuple(dict.fromkeys(s.sensor for s in seen if s is not None))


# --------------------------------------------------------------------- local time


def local(now: float, timezone: str) -> datetime:
    return datetime.fromtimestamp(now, ZoneInfo(timezone))


def seconds_of_day(moment: datetime) -> int:
    return moment.hour * 3600 + moment.minute * 60 + moment.second


def in_window(window: TimeWindow, timezone: str, now: float) -> bool:
    moment = local(now, timezone)
    seconds, day = seconds_of_day(moment), moment.weekday()
    start, end, days = window.start, window.end, window.days
    if start == end:
        return day in days
    if start < end:
        return start <= seconds < end and day in days
    return (seconds >= start and day in days) or (seconds < end and (day - 1) % 7 in days)


def _occurrence(trigger: ScheduleTrigger, zone: ZoneInfo, day: datetime) -> float | None:
    if day.weekday() not in trigger.days:
        return None
    hours, rest = divmod(trigger.at, 3600)
    at = day_time(hours, rest // 60, rest % 60)
    return datetime.combine(day.date(), at, tzinfo=zone).timestamp()


@lru_cache(maxsize=1024)
def next_time(trigger: ScheduleTrigger, timezone: str, after: float) -> float | None:
    """The first time the schedule comes after ``after``; None: it has no day."""
    zone = ZoneInfo(timezone)
    start = datetime.fromtimestamp(after, zone)
    for offset in range(-1, 9):
        t = _occurrence(trigger, zone, start + timedelta(days=offset))
        if t is not None and t > after:
            return t
    return None


def previous_time(trigger: ScheduleTrigger, timezone: str, until: float) -> float | None:
    """The last time the schedule came at or before ``until``."""
    zone = ZoneInfo(timezone)
    start = datetime.fromtimestamp(until, zone)
    for offset in range(1, -9, -1):
        t = _occurrence(trigger, zone, start + timedelta(days=offset))
        if t is not None and t <= until:
            return t
    return None


def next_schedule(book: RuleBook, state: RuleState) -> float | None:
    """When the next schedule comes, to wake the panel for it."""
    since = state.scheduled_until
    if since is None:
        return None
    times = [
        next_time(rule.trigger, book.timezone, since)
        for rule in book.scheduled
        if isinstance(rule.trigger, ScheduleTrigger)
    ]
    due = [t for t in times if t is not None]
    return min(due) if due else None


def schedules_due(book: RuleBook, state: RuleState, now: float) -> tuple[RuleState, list[RuleSpec]]:
    """The scheduled rules whose time came since the last call (each once, however many
    of its times passed; skipped when more than its catch_up late), and the new state."""
    scheduled = book.scheduled
    if not scheduled:
        return state, []
    since = state.scheduled_until
    if since is None:
        return replace(state, scheduled_until=now), []
    due: list[RuleSpec] = []
    passed = False
    for rule in scheduled:
        trigger = rule.trigger
        assert isinstance(trigger, ScheduleTrigger)
        upcoming = next_time(trigger, book.timezone, since)
        if upcoming is None or upcoming > now:
            continue
        passed = True
        last = previous_time(trigger, book.timezone, now)
        if last is not None and now - last <= trigger.catch_up:
            due.append(rule)
    if passed:
        state = replace(state, scheduled_until=now)
    return state, due
