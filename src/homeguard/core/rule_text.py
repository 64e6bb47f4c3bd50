"""Rules said in words, for ``homeguard check-config`` and the dashboard."""

from __future__ import annotations

from homeguard.core.rulebook import (
    DAY_NAMES,
    PanelTrigger,
    RuleBook,
    RuleSpec,
    ScheduleTrigger,
    SensorMatch,
    SensorTrigger,
    SequenceTrigger,
    TimeWindow,
    action_name,
)


def clock(seconds: int) -> str:
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours:02d}:{minutes:02d}" + (f":{secs:02d}" if secs else "")


def days(chosen: frozenset[int]) -> str:
    if len(chosen) == 7:
        return "every day"
    if chosen == frozenset(range(5)):
        return "weekdays"
    return ",".join(DAY_NAMES[d] for d in sorted(chosen))


def sensors(match: SensorMatch) -> str:
    who = [", ".join(sorted(match.sensors))] if match.sensors else []
    who += [f"{match.zone.value} zone"] if match.zone is not None else []
    who += [match.type.value] if match.type is not None else []
    quantity = "every" if match.every else "any"
    return f"{quantity} {' '.join(who) or 'sensor'} {match.state.value}"


def trigger(rule: RuleSpec) -> str:
    match rule.trigger:
        case SensorTrigger(match=m):
            return sensors(m).removeprefix("any ")
        case SequenceTrigger(steps=steps, within=within, ordered=ordered):
            joint = " then " if ordered else " and "
            steps_said = joint.join(sensors(s).removeprefix("any ") for s in steps)
            return f"{steps_said} within {within:g} s"
        case PanelTrigger(states=states):
            return "panel becomes " + "/".join(sorted(s.value for s in states))
        case ScheduleTrigger(at=at, days=chosen):
            return f"at {clock(at)} {days(chosen)}"


def window(span: TimeWindow) -> str:
    return f"{clock(span.start)}-{clock(span.end)} {days(span.days)}"


def conditions(rule: RuleSpec) -> list[str]:
    said = [sensors(m) for m in rule.conditions.sensors]
    if rule.conditions.panel is not None:
        said.append("panel " + "/".join(sorted(s.value for s in rule.conditions.panel)))
    if rule.conditions.window is not None:
        said.append(window(rule.conditions.window))
    return said


def describe(rule: RuleSpec) -> str:
    """One line: when, if what, then what."""
    when = trigger(rule)
    given = conditions(rule)
    condition = f" if {' and '.join(given)}" if given else ""
    actions = "; ".join(action_name(a) for a in rule.actions)
    return f"when {when}{condition}: {actions}"


def rule_lines(book: RuleBook) -> list[str]:
    """check-config's summary of the rules."""
    if not book.rules:
        return []
    lines = [f"{len(book.rules)} rules (times in {book.timezone}):"]
    lines += [f"  {rule.name:<16} {describe(rule)}" for rule in book.rules]
    return lines
