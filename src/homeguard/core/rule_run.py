"""Edge rules run with the panel: one input to :func:`homeguard.core.panel.handle`, with
the rules' reactions to it, their actions fed back through the engine in the same call.

The order within one call:

1. the schedules whose time came run, and (before a sensor's change) the timers due;
2. a sensor report's change is shown to the rules *before* the panel's zones act on it,
   with the sensor already in its new state: a rule that raises the alarm on a door
   that opens (after motion inside, say) sounds it at once, with no entry delay, and a
   condition on the panel's state reads the state the door opened in;
3. the input itself;
4. every change of the panel's state (from the timers, the input, or a rule's own
   command) is shown to the rules, until nothing more fires.

During a walk test (core.walk_test) a sensor's change is a test: no rule sees it.

Loop guard: a rule fires at most once per input, so a rule whose action changes the
panel in a way that would trigger it again, or two rules that trigger each other, stop
after one round each. Rules' commands come from the trusted source ``rule:<name>``
(no code asked).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from homeguard.core import rules
from homeguard.core.model import Action, ArmMode, PanelSettings
from homeguard.core.rulebook import (
    ArmPanel,
    DisarmPanel,
    HoldActuatorFor,
    NotifyRoute,
    PublishMessage,
    RaiseAlarm,
    RuleAction,
    action_name,
)
from homeguard.core.rules import Firing, Happening, PanelChanged, SensorChanged
from homeguard.core.signals import (
    ClockStep,
    Command,
    Effect,
    EventKind,
    HoldActuator,
    Input,
    Notify,
    Publish,
    PublishState,
    RecordEvent,
    SensorReport,
    Tick,
    WakeAt,
)
from homeguard.core.state import Outcome, Panel, RuleState, sensor_map
from homeguard.core.timers import next_wake

Engine = Callable[[Panel, PanelSettings, Input, float], Outcome]


class RuleRun:
    """One call of the engine with the rules: the panel, the effects so far, the rules
    that fired (the loop guard) and the changes still to show them."""

    def __init__(self, panel: Panel, settings: PanelSettings, now: float, engine: Engine) -> None:
        self.panel = panel
        self.settings = settings
        self.now = now
        self.engine = engine
        self.effects: list[Effect] = []
        self.done: set[str] = set()
        self.waiting: list[Happening] = []
        self.wake: float | None = None  # when the engine's timers are next due

    def feed(self, event: Input) -> Outcome:
        outcome = self.engine(self.panel, self.settings, event, self.now)
        self.panel = outcome.panel
        self.wake = None  # the engine's latest says when its timers are due
        for effect in outcome.effects:
            if isinstance(effect, PublishState):
                self.waiting.append(PanelChanged(effect.state))
            if isinstance(effect, WakeAt):  # one, worked out at the end
                self.wake = effect.at
            else:
                self.effects.append(effect)
        return outcome

    def settle(self) -> None:
        """Show the rules every change still waiting, and those their actions make."""
        while self.waiting:
            self.react(self.waiting.pop(0), self.panel)

    def react(self, happening: Happening, panel: Panel) -> None:
        state, firings = rules.react(
            happening, panel, self.settings, self.now, frozenset(self.done)
        )
        self.remember(state)
        for firing in firings:
            self.fire(firing)

    def schedules(self) -> None:
        book = self.settings.rules
        state, due = rules.schedules_due(book, self.panel.rules, self.now)
        self.remember(state)
        done = frozenset(self.done)
        for rule in due:
            if rules.may_fire(
                rule, self.panel.rules, self.panel, self.settings, self.now, done=done
            ):
                last_fired = {**self.panel.rules.last_fired, rule.name: self.now}
                self.remember(replace(self.panel.rules, last_fired=last_fired))
                self.fire(Firing(rule))

    def remember(self, state: RuleState) -> None:
        """The rules' new memory; the panel stays the same object when it is unchanged
        (the controller stores a snapshot only of a panel that changed)."""
        if state is not self.panel.rules:
            self.panel = replace(self.panel, rules=state)

    def fire(self, firing: Firing) -> None:
        rule = firing.rule
        self.done.add(rule.name)
        did = [action_name(action) for action in rule.actions]
        because = f" ({', '.join(firing.sensors)})" if firing.sensors else ""
        self.effects.append(
            RecordEvent(
                EventKind.RULE_FIRED,
                f"rule {rule.name} fired{because}: {'; '.join(did)}",
                {"rule": rule.name, "actions": did, "sensors": list(firing.sensors)},
            )
        )
        for action in rule.actions:
            self.act(rule.name, action, firing.sensors)

    def act(self, name: str, action: RuleAction, sensors: tuple[str, ...]) -> None:
        source = f"rule:{name}"
        match action:
            case RaiseAlarm():
                self.feed(Command(Action.TRIGGER, source=source, trusted=True, sensors=sensors))
            case ArmPanel(mode=mode, force=force):
                self.feed(
                    Command(_arm_action(mode), force=force, source=source, trusted=True, by=name)
                )
            case DisarmPanel():
                self.feed(Command(Action.DISARM, source=source, trusted=True, by=name))
            case HoldActuatorFor(actuator=actuator, on=on, seconds=seconds):
                self.feed(HoldActuator(actuator, on, seconds))
            case NotifyRoute(route=route, message=message):
                self.effects.append(Notify(EventKind.RULE_FIRED, message, route=route))
            case PublishMessage(topic=topic, payload=payload, qos=qos, retain=retain):
                self.effects.append(Publish(topic, payload, qos, retain))

    def outcome(self, main: Outcome) -> Outcome:
        schedule = rules.next_schedule(self.settings.rules, self.panel.rules)
        wakes = [t for t in (self.wake, schedule) if t is not None]
        if wakes:
            self.effects.append(WakeAt(min(wakes)))
        return Outcome(self.panel, tuple(self.effects), main.rejection)


def _arm_action(mode: ArmMode) -> Action:
    return Action(f"ARM_{mode.name}")


def handle_with_rules(
    panel: Panel, settings: PanelSettings, event: Input, now: float, engine: Engine
) -> Outcome:
    """``engine`` (core.panel's handling of one input) with the rules: see the module."""
    run = RuleRun(panel, settings, now, engine)
    if isinstance(event, ClockStep):  # the times move before anything runs
        main = run.feed(event)
        run.schedules()
        run.settle()
        return run.outcome(main)
    run.schedules()
    run.settle()
    if isinstance(event, SensorReport) and event.state is not None:
        before = run.panel.sensor(event.sensor_id)
        walking = run.panel.walk_test is not None  # its trips are tests, not events
        if settings.sensor(event.sensor_id) is not None and before.state is not event.state:
            due = next_wake(run.panel, settings)
            if due is not None and due <= now:
                run.feed(Tick())  # the panel as it is now, before the change
                run.settle()
                before = run.panel.sensor(event.sensor_id)
            preview = replace(
                run.panel,
                sensors=sensor_map(run.panel.sensors, settings).set(
                    event.sensor_id, replace(before, state=event.state)
                ),
            )
            if not walking:
                run.react(SensorChanged(event.sensor_id, event.state), preview)
                run.settle()
    main = run.feed(event)
    run.settle()
    return run.outcome(main)


def resumed(outcome: Outcome, settings: PanelSettings, now: float, engine: Engine) -> Outcome:
    """After a restart (core.panel.resume): schedules missed while down are made up for
    (within their catch_up), and the panel wakes for the next one."""
    run = RuleRun(outcome.panel, settings, now, engine)
    run.effects.extend(e for e in outcome.effects if not isinstance(e, WakeAt))
    run.wake = next((e.at for e in outcome.effects if isinstance(e, WakeAt)), None)
    run.schedules()
    run.settle()
    return run.outcome(outcome)
