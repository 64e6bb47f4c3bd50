"""Section ``rules``: edge rules, declarative (no code, no expressions), evaluated by the
panel (homeguard.core.rules; docs/rules.md). What a rule names elsewhere in the config
(sensors, topics, notification routes) is checked by homeguard.config.rule_checks;
the actions are in homeguard.config.rule_actions."""

from __future__ import annotations

import re
import zoneinfo
from typing import Any, Self

from pydantic import Field, field_validator, model_validator

from homeguard.config.base import ID_PATTERN, Misplaced, Seconds, Section
from homeguard.config.rule_actions import ActionConfig
from homeguard.core.model import PanelState, SensorType, ZoneKind
from homeguard.core.rulebook import (
    DAY_NAMES,
    EVERY_DAY,
    Conditions,
    PanelTrigger,
    RuleBook,
    RuleSpec,
    ScheduleTrigger,
    SensorMatch,
    SensorTrigger,
    SequenceTrigger,
    StateMatch,
    TimeWindow,
    Trigger,
)

_DAY_GROUPS = {"weekdays": frozenset(range(5)), "weekend": frozenset({5, 6}), "daily": EVERY_DAY}
_TIME = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)(?::([0-5]\d))?$")


def _time_of_day(value: Any) -> int:
    """Seconds after midnight of "HH:MM" or "HH:MM:SS"."""
    if isinstance(value, int) and not isinstance(value, bool):
        raise ValueError('write a time of day in quotes, such as "22:30" (YAML read a number)')
    found = _TIME.match(value) if isinstance(value, str) else None
    if found is None:
        raise ValueError(f'{value!r} is not a time of day such as "22:30" or "06:15:30"')
    hours, minutes, seconds = found.groups()
    return int(hours) * 3600 + int(minutes) * 60 + int(seconds or 0)


def _days(value: Any) -> frozenset[int]:
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, list | tuple) or not names:
        raise ValueError("give day names, e.g. [mon, tue] or weekdays")
    days: set[int] = set()
    for name in names:
        key = str(name).lower()[:3] if str(name).lower() not in _DAY_GROUPS else str(name).lower()
        if key in _DAY_GROUPS:
            days |= _DAY_GROUPS[key]
        elif key in DAY_NAMES and str(name).lower() in (key, _full_day(key)):
            days.add(DAY_NAMES.index(key))
        else:
            raise ValueError(
                f"{name!r} is not a day (mon ... sun, monday ... sunday, weekdays, weekend, daily)"
            )
    return frozenset(days)


def _full_day(short: str) -> str:
    return {"mon": "monday", "tue": "tuesday", "wed": "wednesday", "thu": "thursday",
            "fri": "friday", "sat": "saturday", "sun": "sunday"}[short]  # fmt: skip


class SensorMatchConfig(Section):
    """Sensors in a state: by id, zone and/or type (all given must match; none: any)."""

    sensor: str | tuple[str, ...] | None = Field(
        default=None, description="A sensor id, or a list of them."
    )
    zone: ZoneKind | None = Field(default=None, description="Sensors of this zone kind.")
    type: SensorType | None = Field(default=None, description="Sensors of this type.")
    state: StateMatch = Field(
        default=StateMatch.ACTIVE,
        description="active (open, motion, on, tamper), inactive, or one state: open, "
        "closed, motion, no_motion, tamper, on, off.",
    )

    @field_validator("state", mode="before")
    @classmethod
    def _yaml_booleans(cls, value: Any) -> Any:
        # YAML 1.1 reads an unquoted on/off as a boolean.
        return ("on" if value else "off") if isinstance(value, bool) else value

    def ids(self) -> tuple[str, ...]:
        return (self.sensor,) if isinstance(self.sensor, str) else tuple(self.sensor or ())

    def match(self, every: bool = False) -> SensorMatch:
        return SensorMatch(self.state, frozenset(self.ids()), self.zone, self.type, every)


class ConditionSensorConfig(SensorMatchConfig):
    """Sensors that must be in a state when the rule fires."""

    every: bool = Field(
        default=False, description="Every selected sensor must be in the state (default: one)."
    )


class TriggerConfig(SensorMatchConfig):
    """What makes the rule fire: exactly one of a sensor event (sensor/zone/type and
    state), a sequence, a panel state or a time (at)."""

    sequence: tuple[SensorMatchConfig, ...] | None = Field(
        default=None, description="Sensor events that must all happen within `within` s."
    )
    within: Seconds | None = Field(default=None, gt=0, description="The sequence's window.")
    ordered: bool = Field(default=False, description="The sequence's steps come in order.")
    panel: tuple[PanelState, ...] | None = Field(
        default=None, description="The panel becomes one of these states."
    )
    at: int | None = Field(default=None, description='A time of day, "HH:MM[:SS]", local.')
    days: frozenset[int] = Field(
        default=EVERY_DAY, description="With at: the days (mon ... sun, weekdays, weekend)."
    )
    catch_up: Seconds = Field(
        default=300.0,
        ge=0,
        description="With at: seconds late a time missed while homeguard was down still runs.",
    )

    @field_validator("at", mode="before")
    @classmethod
    def _time(cls, value: Any) -> int:
        return _time_of_day(value)

    @field_validator("days", mode="before")
    @classmethod
    def _day_names(cls, value: Any) -> frozenset[int]:
        return _days(value)

    @model_validator(mode="after")
    def _one_kind(self) -> Self:
        event = any(v is not None for v in (self.sensor, self.zone, self.type))
        kinds = [
            k
            for k, given in (
                ("a sensor event", event),
                ("sequence", self.sequence is not None),
                ("panel", self.panel is not None),
                ("at", self.at is not None),
            )
            if given
        ]
        if len(kinds) != 1:
            raise ValueError(
                "give exactly one trigger: a sensor event (sensor, zone or type, with "
                f"state), sequence, panel or at (given: {', '.join(kinds) or 'none'})"
            )
        if self.sequence is not None and (self.within is None or len(self.sequence) < 2):
            raise Misplaced("a sequence needs two steps or more and `within` seconds", "sequence")
        if self.sequence is None and (self.within is not None or self.ordered):
            raise Misplaced("only a sequence has within and ordered", "within")
        if self.at is None and (self.days != EVERY_DAY or "catch_up" in self.model_fields_set):
            raise Misplaced("only a time (at) has days and catch_up", "days")
        return self

    def trigger(self) -> Trigger:
        if self.sequence is not None:
            assert self.within is not None
            steps = tuple(step.match() for step in self.sequence)
            return SequenceTrigger(steps, self.within, self.ordered)
        if self.panel is not None:
            return PanelTrigger(frozenset(self.panel))
        if self.at is not None:
            return ScheduleTrigger(self.at, self.days, self.catch_up)
        return SensorTrigger(self.match())


class TimeConfig(Section):
    """A time window: from-to local time of day on some days."""

    start: int = Field(default=0, description='From, "HH:MM[:SS]" (default midnight).')
    end: int = Field(
        default=0,
        description='Until, "HH:MM[:SS]" (before start: over midnight; = start: all day).',
    )
    days: frozenset[int] = Field(
        default=EVERY_DAY, description="Days the window starts on (mon ... sun, weekdays)."
    )

    @field_validator("start", "end", mode="before")
    @classmethod
    def _time(cls, value: Any) -> int:
        return _time_of_day(value)

    @field_validator("days", mode="before")
    @classmethod
    def _day_names(cls, value: Any) -> frozenset[int]:
        return _days(value)

    def window(self) -> TimeWindow:
        return TimeWindow(self.start, self.end, self.days)


class ConditionsConfig(Section):
    """What must hold when the trigger comes: all of it."""

    sensors: tuple[ConditionSensorConfig, ...] = Field(
        default=(), description="Sensors in a state (each entry must hold)."
    )
    panel: tuple[PanelState, ...] | None = Field(
        default=None, description="The panel is in one of these states."
    )
    time: TimeConfig | None = Field(default=None, description="Local time of day and days.")

    def conditions(self) -> Conditions:
        return Conditions(
            tuple(s.match(s.every) for s in self.sensors),
            None if self.panel is None else frozenset(self.panel),
            None if self.time is None else self.time.window(),
        )


class RuleConfig(Section):
    """One rule: when `trigger` comes and `conditions` hold, carry out `actions`."""

    name: str = Field(pattern=ID_PATTERN, max_length=64, description="Unique name.")
    trigger: TriggerConfig = Field(description="What makes it fire.")
    conditions: ConditionsConfig = Field(
        default_factory=ConditionsConfig, description="What must hold then."
    )
    actions: tuple[ActionConfig, ...] = Field(min_length=1, description="What it does, in order.")
    cooldown: Seconds = Field(default=0.0, ge=0, description="Seconds before it may fire again.")

    def spec(self) -> RuleSpec:
        return RuleSpec(
            self.name,
            self.trigger.trigger(),
            tuple(a.action() for a in self.actions),
            self.conditions.conditions(),
            self.cooldown,
        )

    @property
    def uses_time(self) -> bool:
        return self.trigger.at is not None or self.conditions.time is not None


class RulesConfig(Section):
    """Edge rules (docs/rules.md)."""

    timezone: str | None = Field(
        default=None,
        description="IANA time zone of the rules' times and days, e.g. Europe/Berlin; "
        "required when a rule has a time.",
    )
    list: tuple[RuleConfig, ...] = Field(default=(), description="The rules.")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, name: str | None) -> str | None:
        if name is not None:
            try:
                zoneinfo.ZoneInfo(name)
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                raise ValueError(f"unknown time zone {name!r} (e.g. Europe/Berlin, UTC)") from None
        return name

    @model_validator(mode="after")
    def _checked(self) -> Self:
        seen: dict[str, int] = {}
        for index, rule in enumerate(self.list):
            if rule.name in seen:
                raise Misplaced(f"duplicate rule name (also list[{seen[rule.name]}])", "list",
                                index, "name")  # fmt: skip
            seen[rule.name] = index
            if rule.uses_time and self.timezone is None:
                raise Misplaced("a rule with a time needs rules.timezone", "list", index)
        return self

    def book(self) -> RuleBook:
        return RuleBook(tuple(r.spec() for r in self.list), self.timezone or "UTC")
