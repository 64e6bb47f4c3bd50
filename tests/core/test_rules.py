"""Edge rules in the core: a fake clock, no broker (core.rules, core.rule_run)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from homeguard.core import rule_run, snapshot
from homeguard.core.model import Action, ArmMode, PanelSettings, PanelState, SensorState
from homeguard.core.panel import new_panel, resume, shift_times
from homeguard.core.rulebook import (
    ArmPanel,
    Conditions,
    DisarmPanel,
    HoldActuatorFor,
    NotifyRoute,
    PanelTrigger,
    PublishMessage,
    RaiseAlarm,
    RuleAction,
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
from homeguard.core.signals import (
    ActuatorKind,
    ClockStep,
    Command,
    EventKind,
    HoldActuator,
    Input,
    Notify,
    Publish,
    RecordEvent,
    SensorReport,
    Tick,
)
from homeguard.core.state import Outcome, Panel, RuleState, StepSeen
from tests.core.harness import MODES, PINS, SENSORS, USERS, House
from tests.core.test_properties import check_actuators, inputs

# A Monday noon, UTC.
MONDAY_NOON = datetime(2026, 11, 30, 12, 0, tzinfo=UTC).timestamp()
HOUR, DAY = 3600.0, 86400.0
# The hall's motion sensor alone does not trip in armed_away here (pets): only the
# guide's rule, with a door, makes it an alarm.
# (Without the supervised shed: its silence would be news of its own.)
QUIET_HALL = tuple(
    replace(s, modes=frozenset({ArmMode.VACATION})) if s.id == "hall" else s
    for s in SENSORS
    if s.id != "shed"
)
NOTHING = Conditions()
FRONT_OPENS = SensorMatch(StateMatch.OPEN, frozenset({"front"}))
HALL_MOTION = SensorMatch(StateMatch.MOTION, frozenset({"hall"}))
PUBLISH = PublishMessage("home/rules/test", "fired")


def rule(
    name: str,
    trigger: Trigger,
    *actions: RuleAction,
    conditions: Conditions = NOTHING,
    cooldown: float = 0.0,
) -> RuleSpec:
    return RuleSpec(name, trigger, actions or (PUBLISH,), conditions, cooldown)


@dataclass
class TimedHouse(House):
    """The harness's house, noting when each rule fired."""

    fired_at: list[float] = field(default_factory=list)

    def send(self, event: Input) -> Outcome:
        outcome = super().send(event)
        self.fired_at += [
            self.now
            for e in outcome.effects
            if isinstance(e, RecordEvent) and e.kind is EventKind.RULE_FIRED
        ]
        return outcome


def house_with(*rules: RuleSpec, timezone: str = "UTC", now: float = MONDAY_NOON) -> TimedHouse:
    panel_settings = PanelSettings(
        sensors=QUIET_HALL, users=USERS, modes=MODES, rules=RuleBook(rules, timezone)
    )
    house = TimedHouse(settings=panel_settings, now=now)
    house.panel = resume(house.panel, panel_settings, now).panel
    house.send(Tick())
    return house


def armed_away(house: House) -> House:
    house.cmd("ARM_AWAY", PINS["alice"])
    house.at(61)
    assert house.state is PanelState.ARMED_AWAY
    return house


def fired(house: House, name: str | None = None) -> list[RecordEvent]:
    return [e for e in house.events(EventKind.RULE_FIRED) if name in (None, e.data["rule"])]


GUIDE = rule(
    "intruder_inside",
    SequenceTrigger((HALL_MOTION, FRONT_OPENS), within=30),
    RaiseAlarm(),
    conditions=Conditions(panel=frozenset({PanelState.ARMED_AWAY, PanelState.PENDING})),
)

# --------------------------------------------------------------- the guide's rule


def test_motion_then_door_within_the_window_is_an_alarm_at_once() -> None:
    house = armed_away(house_with(GUIDE))
    house.sensor("hall", "MOTION")
    assert house.state is PanelState.ARMED_AWAY  # motion alone: nothing
    house.at(20)
    house.sensor("front", "OPEN")
    assert house.state is PanelState.TRIGGERED and house.siren
    assert not house.events(EventKind.PENDING)  # no entry delay at all
    assert house.panel.triggered_by == ("hall", "front")
    (event,) = fired(house)
    assert event.data == {
        "rule": "intruder_inside",
        "actions": ["alarm"],
        "sensors": ["hall", "front"],
    }
    kinds = [e.kind for e in house.effects if isinstance(e, RecordEvent)]
    assert kinds.index(EventKind.RULE_FIRED) < kinds.index(EventKind.TRIGGERED)


def test_the_door_alone_or_too_late_starts_the_entry_delay_as_usual() -> None:
    house = armed_away(house_with(GUIDE))
    house.sensor("front", "OPEN")
    assert house.state is PanelState.PENDING and not fired(house)
    house.cmd("DISARM", PINS["alice"])
    house.sensor("front", "CLOSED")
    armed_away(house)
    house.sensor("hall", "MOTION")
    house.at(31)
    house.sensor("front", "OPEN")
    assert house.state is PanelState.PENDING and not fired(house)


def test_door_then_motion_during_the_entry_delay_cuts_it_short() -> None:
    house = armed_away(house_with(GUIDE))
    house.sensor("front", "OPEN")
    house.at(5)
    assert house.state is PanelState.PENDING
    house.sensor("hall", "MOTION")
    assert house.state is PanelState.TRIGGERED and len(fired(house)) == 1


def test_conditions_read_the_state_the_door_opened_in() -> None:
    house = house_with(GUIDE)  # disarmed: the rule's panel condition does not hold
    house.sensor("hall", "MOTION")
    house.sensor("front", "OPEN")
    assert house.state is PanelState.DISARMED and not fired(house)


# ------------------------------------------------------- sequences, as properties

A = SensorMatch(StateMatch.OPEN, frozenset({"living"}))
B = SensorMatch(StateMatch.OPEN, frozenset({"front"}))


@given(
    first=st.sampled_from(["living", "front"]),
    gap=st.integers(min_value=1, max_value=120),
    within=st.integers(min_value=1, max_value=90),
    ordered=st.booleans(),
)
@settings(max_examples=150, deadline=None)
def test_two_events_fire_a_sequence_iff_within_the_window_and_in_order(
    first: str, gap: int, within: int, ordered: bool
) -> None:
    house = house_with(rule("seq", SequenceTrigger((A, B), within, ordered)))
    second = "front" if first == "living" else "living"
    house.sensor(first, "OPEN")
    house.at(gap)
    house.sensor(second, "OPEN")
    in_order = first == "living"
    expected = gap <= within and (in_order or not ordered)
    assert len(fired(house)) == int(expected)


@given(st.lists(st.tuples(st.sampled_from(["living", "front"]), st.integers(1, 60)), max_size=12))
@settings(max_examples=100, deadline=None)
def test_a_sequence_fires_exactly_when_its_last_steps_fall_in_the_window(
    events: list[tuple[str, int]],
) -> None:
    """Doors open and close again; the rule fires iff the latest opening of each door
    (since it last fired) are within 30 s of each other."""
    house = house_with(rule("seq", SequenceTrigger((A, B), 30)))
    last: dict[str, float] = {}
    expected = 0
    for sensor_id, delay in events:
        house.at(delay)
        house.sensor(sensor_id, "OPEN")
        last[sensor_id] = house.now
        if len(last) == 2 and max(last.values()) - min(last.values()) <= 30:
            expected += 1
            last.clear()
        house.sensor(sensor_id, "CLOSED")
    assert len(fired(house)) == expected


# ------------------------------------------------------------------ schedules

AT_2230 = 22 * 3600 + 30 * 60


@given(st.lists(st.floats(min_value=1, max_value=5 * HOUR), min_size=1, max_size=40))
@settings(max_examples=100, deadline=None)
def test_a_schedule_fires_once_a_day_at_its_time(ticks: list[float]) -> None:
    house = house_with(rule("nightly", ScheduleTrigger(AT_2230)))
    midnight = house.now - 12 * HOUR
    for step in ticks:
        house.at(step)
    days = int((house.now - midnight) // DAY) + 1
    expected = [
        midnight + day * DAY + AT_2230
        for day in range(days)
        if midnight + day * DAY + AT_2230 <= house.now
    ]
    # The panel asks to be woken at the time: each fires at it exactly, once.
    assert house.fired_at == expected


def test_arming_by_schedule_on_weekdays_only() -> None:
    weekdays = frozenset(range(5))
    house = house_with(
        rule("night_arming", ScheduleTrigger(AT_2230, weekdays), ArmPanel(ArmMode.HOME))
    )
    house.at(10.5 * HOUR)  # Monday 22:30
    assert house.state is PanelState.ARMED_HOME
    (armed,) = house.events(EventKind.ARMED)
    assert armed.data["user"] == "night_arming" and armed.data["source"] == "rule:night_arming"
    house.cmd("DISARM", PINS["alice"])
    house.at(4 * DAY)  # Tuesday to Friday: armed each night, disarmed again here once
    assert len(fired(house)) == 5
    house.cmd("DISARM", PINS["alice"])
    house.at(DAY)  # Saturday 22:30 passes: not a weekday
    assert house.state is PanelState.DISARMED and len(fired(house)) == 5


def test_a_time_missed_while_down_is_made_up_for_within_catch_up_only() -> None:
    book_rule = rule("nightly", ScheduleTrigger(AT_2230, catch_up=600), ArmPanel(ArmMode.HOME))
    house = house_with(book_rule)
    saved = snapshot.dump(house.panel)
    settings_ = house.settings
    for down, expected in ((10.5 * HOUR + 300, PanelState.ARMED_HOME), (11 * HOUR, None)):
        now = MONDAY_NOON + down
        outcome = resume(snapshot.load(saved, settings_), settings_, now)
        state = outcome.panel.state
        assert state is (expected or PanelState.DISARMED)
        assert outcome.panel.rules.scheduled_until == now


def test_a_time_the_clock_jumps_over_runs_within_catch_up_only() -> None:
    for jump, runs in ((10 * 60, 1), (HOUR, 0)):
        house = house_with(rule("nightly", ScheduleTrigger(AT_2230, catch_up=600)))
        house.at(10.5 * HOUR - 5 * 60)  # 22:25
        house.now += jump
        house.send(ClockStep(jump))  # 22:35 (5 min late) or 23:25 (55 min late)
        assert len(fired(house)) == runs, jump
        house.at(DAY)
        assert len(fired(house)) == runs + 1  # the next day as usual


def test_a_clock_stepped_back_does_not_run_a_schedule_twice() -> None:
    house = house_with(rule("nightly", ScheduleTrigger(AT_2230)))
    house.at(10.5 * HOUR + 60)
    assert len(fired(house)) == 1
    house.now -= HOUR
    house.send(ClockStep(-HOUR))
    house.at(2 * HOUR)
    assert len(fired(house)) == 1


# ----------------------------------------------------------- actions as data


def test_actions_come_out_as_inputs_and_effects() -> None:
    """Run with a fake engine that only records what it is fed: a hold is an input
    (core.panel carries it out), notify and publish are effects."""
    fed: list[Input] = []

    def engine(panel: Panel, settings_: PanelSettings, event: Input, now: float) -> Outcome:
        fed.append(event)
        return Outcome(panel, ())

    light = rule(
        "hall_light",
        SensorTrigger(HALL_MOTION),
        HoldActuatorFor(ActuatorKind.LIGHT, True, 120),
        NotifyRoute("family", "motion in the hall"),
        PublishMessage("home/rules/hall", "on", 0, True),
        DisarmPanel(),
    )
    panel_settings = PanelSettings(sensors=QUIET_HALL, rules=RuleBook((light,)))
    report = SensorReport("hall", SensorState.MOTION)
    outcome = rule_run.handle_with_rules(
        new_panel(MONDAY_NOON), panel_settings, report, MONDAY_NOON, engine
    )
    assert fed == [
        HoldActuator(ActuatorKind.LIGHT, True, 120),
        Command(Action.DISARM, source="rule:hall_light", trusted=True, by="hall_light"),
        report,
    ]
    assert Notify(EventKind.RULE_FIRED, "motion in the hall", route="family") in outcome.effects
    assert Publish("home/rules/hall", "on", 0, True) in outcome.effects


# ------------------------------------------------------- loops, windows, memory


def test_rules_that_trigger_each_other_stop_after_one_round() -> None:
    arm_on_disarm = rule(
        "rearm", PanelTrigger(frozenset({PanelState.DISARMED})), ArmPanel(ArmMode.HOME)
    )
    disarm_on_arm = rule("undo", PanelTrigger(frozenset({PanelState.ARMED_HOME})), DisarmPanel())
    house = house_with(arm_on_disarm, disarm_on_arm)
    house.cmd("ARM_HOME", PINS["alice"])  # undo fires, then rearm, then undo may not again
    assert [e.data["rule"] for e in fired(house)] == ["undo", "rearm"]
    assert house.state is PanelState.ARMED_HOME
    house.cmd("DISARM", PINS["alice"])
    assert [e.data["rule"] for e in fired(house)][2:] == ["rearm", "undo"]
    assert house.state is PanelState.DISARMED


def test_a_rule_that_retriggers_itself_fires_once_per_input() -> None:
    again = rule(
        "again",
        PanelTrigger(frozenset(PanelState)),
        ArmPanel(ArmMode.HOME),
        DisarmPanel(),
    )
    house = house_with(again)
    house.cmd("ARM_AWAY", PINS["alice"])
    assert len(fired(house)) == 1


def test_a_time_window_is_local_time_and_may_span_midnight() -> None:
    night = Conditions(window=TimeWindow(22 * 3600, 6 * 3600, frozenset({0})))  # Monday night
    light = rule(
        "hall_light",
        SensorTrigger(HALL_MOTION),
        HoldActuatorFor(ActuatorKind.LIGHT, True, 120),
        conditions=night,
    )
    # 21:30 UTC is 22:30 in Berlin (winter): in the window; noon is not.
    house = house_with(light, timezone="Europe/Berlin")
    for offset, expected in ((0, 0), (9.5 * HOUR, 1), (16 * HOUR, 2), (23 * HOUR, 2)):
        house.at(max(0.0, MONDAY_NOON + offset - house.now))
        house.sensor("hall", "MOTION")
        house.sensor("hall", "NO_MOTION")
        assert len(fired(house)) == expected, offset  # Tuesday 04:00 local still is


def test_a_cooldown_keeps_a_rule_quiet() -> None:
    house = house_with(rule("ping", SensorTrigger(HALL_MOTION), cooldown=60))
    for _ in range(3):
        house.sensor("hall", "MOTION")
        house.sensor("hall", "NO_MOTION")
        house.at(30)
    assert [round(t - MONDAY_NOON) for t in house.fired_at] == [0, 60]


def test_the_rules_memory_survives_a_restart_and_old_snapshots_load() -> None:
    seq = rule("seq", SequenceTrigger((A, B), 30))
    house = house_with(seq, rule("nightly", ScheduleTrigger(AT_2230)))
    house.sensor("living", "OPEN")
    saved = snapshot.load(snapshot.dump(house.panel), house.settings)
    assert saved == house.panel
    assert saved.rules.steps["seq"] == (StepSeen(MONDAY_NOON, "living"), None)
    house.now += 10
    house.panel = resume(saved, house.settings, house.now).panel
    house.sensor("front", "OPEN")  # completes the sequence begun before the restart
    assert len(fired(house)) == 1
    old = snapshot.dump(new_panel(MONDAY_NOON)).replace(',"rules":', ',"gone":')
    assert snapshot.load(old, house.settings).rules == RuleState()
    other = PanelSettings(
        sensors=QUIET_HALL, rules=RuleBook((rule("other", PanelTrigger(frozenset())),))
    )
    assert snapshot.load(snapshot.dump(house.panel), other).rules.steps == {}


def test_a_clock_step_moves_the_rules_memory_but_not_the_schedule() -> None:
    state = RuleState({"a": 100.0}, {"b": (StepSeen(90.0, "front"), None)}, 50.0)
    moved = shift_times(replace(new_panel(0.0), rules=state), 10.0).rules
    assert moved == RuleState({"a": 110.0}, {"b": (StepSeen(100.0, "front"), None)}, 50.0)


def test_an_input_that_changes_nothing_leaves_the_panel_as_it_was() -> None:
    """The controller stores a snapshot of a panel that is a new object: rules must not
    make one on every input."""
    house = house_with(GUIDE, rule("nightly", ScheduleTrigger(AT_2230)))
    panel = house.panel
    assert house.send(Tick()).panel is panel
    assert house.send(SensorReport("living", None)).panel.rules is panel.rules


_triggers = st.one_of(
    st.builds(PanelTrigger, st.frozensets(st.sampled_from(PanelState), min_size=1)),
    st.builds(
        SensorTrigger,
        st.builds(
            SensorMatch,
            st.sampled_from(StateMatch),
            st.frozensets(st.sampled_from(["front", "hall", "living"])),
        ),
    ),
    st.builds(
        SequenceTrigger,
        st.tuples(st.just(HALL_MOTION), st.just(FRONT_OPENS)),
        st.integers(1, 60).map(float),
        st.booleans(),
    ),
    st.builds(ScheduleTrigger, st.integers(0, 86399)),
)
_actions = st.sampled_from(
    [
        RaiseAlarm(),
        ArmPanel(ArmMode.AWAY),
        ArmPanel(ArmMode.HOME, force=True),
        DisarmPanel(),
        PUBLISH,
    ]
)
_rules = st.lists(
    st.builds(rule, st.text("abcdef", min_size=1, max_size=4), _triggers, _actions, _actions),
    max_size=5,
    unique_by=lambda r: r.name,
)


@given(_rules, st.lists(st.tuples(st.integers(0, 4000), inputs), max_size=25))
@settings(max_examples=150, deadline=None)
def test_any_rules_keep_the_panel_sound(
    rules: list[RuleSpec], steps: list[tuple[int, Input]]
) -> None:
    """Whatever the rules say, every input ends (the loop guard), each rule fires at most
    once per input, and the siren and light sound exactly while triggered (the light
    during the entry delay too) or held."""
    house = house_with(*rules)
    for delay, event in steps:
        house.at(delay)
        names = [
            e.data["rule"]
            for e in house.send(event).effects
            if isinstance(e, RecordEvent) and e.kind is EventKind.RULE_FIRED
        ]
        assert len(names) == len(set(names))
        check_actuators(house)


def test_a_light_rule_holds_the_light_for_its_time() -> None:
    light = rule(
        "hall_light", SensorTrigger(HALL_MOTION), HoldActuatorFor(ActuatorKind.LIGHT, True, 120)
    )
    house = house_with(light)
    house.sensor("hall", "MOTION")
    assert house.light and not house.siren
    house.at(119)
    assert house.light
    house.at(2)
    assert not house.light


def test_no_rule_sees_a_sensor_during_a_walk_test() -> None:
    alarm = rule("door_alarm", SensorTrigger(FRONT_OPENS), RaiseAlarm())
    house = house_with(alarm)
    assert house.cmd("WALK_TEST", PINS["alice"]).rejection is None
    house.sensor("front", "OPEN")
    assert house.state is PanelState.DISARMED and not fired(house)
    house.sensor("front", "CLOSED")
    house.cmd("WALK_TEST_END", PINS["alice"])
    house.sensor("front", "OPEN")
    assert house.state is PanelState.TRIGGERED and len(fired(house)) == 1
