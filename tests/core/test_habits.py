"""The house's habits that anomaly detection measures against: per panel state, per
sensor that wakes the house, per hour with its neighbours; and activations placed when
they happened."""

from __future__ import annotations

from homeguard.core.activity import Activation, PanelTimeline, activations, happened
from homeguard.core.habits import ActivityProfile
from homeguard.core.records import SensorRecord, SystemRecord

DAY = 86400.0
HOUR = 3600.0
START = 1_767_225_600.0  # a Thursday, midnight UTC


def _weekdays(days: int) -> list[float]:
    """Midnights of the first ``days`` weekdays from START."""
    out, day = [], 0
    while len(out) < days:
        if (int((START + day * DAY) // DAY) + 3) % 7 < 5:
            out.append(START + day * DAY)
        day += 1
    return out


def _house(days: int = 10) -> tuple[list[Activation], PanelTimeline, float]:
    """Weekdays: up at 07:00 in the bedroom, out at 08:00 (armed away), home at 17:00
    by the front door (disarmed 15 s later), kitchen, back door to the garden at 17:20,
    bed at 23:00 (armed night)."""
    acts: list[Activation] = []
    events: list[SystemRecord] = []
    midnights = _weekdays(days)
    for midnight in midnights:
        at = midnight + 7 * HOUR
        acts += [Activation(at + m * 60, room) for m, room in ((0, "bedroom"), (20, "kitchen"))]
        acts.append(Activation(at + 45 * 60, "kitchen"))
        events.append(SystemRecord(at + 50, "disarmed", "down"))
        out = midnight + 8 * HOUR
        acts += [Activation(out, "hall"), Activation(out + 20, "front_door")]
        events.append(SystemRecord(out + 60, "armed", "away", {"mode": "armed_away"}))
        back = midnight + 17 * HOUR
        acts += [Activation(back, "front_door"), Activation(back + 3, "hall")]
        events.append(SystemRecord(back + 15, "disarmed", "home"))
        acts += [Activation(back + 120, "kitchen"), Activation(back + 1200, "back_door")]
        events.append(SystemRecord(midnight + 23 * HOUR, "armed", "night", {"mode": "armed_night"}))
    until = midnights[-1] + DAY
    return sorted(acts, key=lambda a: a.ts), PanelTimeline.from_events(events), until


def test_activity_is_rarer_in_a_panel_state_where_nobody_does_it() -> None:
    acts, panel, until = _house()
    profile = ActivityProfile.learn(acts, START, until, panel=panel)
    noon = until + 12 * HOUR
    assert panel.at(START + 12 * HOUR) == "armed_away"  # as on every weekday's noon
    kitchen = profile.panel_surprise(Activation(noon, "kitchen"), "armed_away")
    coming_home = profile.panel_surprise(Activation(noon, "front_door"), "armed_away")
    assert kitchen > 4.0
    assert coming_home < 1.0  # the front door opens before the code is in
    assert profile.panel_surprise(Activation(noon, "kitchen"), "disarmed") == 0.0
    # A state never seen in the history says nothing.
    assert profile.panel_surprise(Activation(noon, "kitchen"), "armed_vacation") < 0.1


def test_the_house_wakes_up_by_its_usual_sensors() -> None:
    acts, panel, until = _house()
    profile = ActivityProfile.learn(acts, START, until, panel=panel)
    usual = profile.start_surprise(Activation(until, "front_door"))
    assert profile.start_surprise(Activation(until, "bedroom")) < 2.0
    assert profile.start_surprise(Activation(until, "back_door")) > usual + 3.0


def test_an_hour_borrows_from_its_neighbours() -> None:
    acts, panel, until = _house()
    profile = ActivityProfile.learn(acts, START, until, panel=panel)
    at_seven = profile.time_surprise(Activation(until + 7 * HOUR + 30, "bedroom"))
    just_before = profile.time_surprise(Activation(until + 6 * HOUR + 3500, "bedroom"))
    far = profile.time_surprise(Activation(until + 13 * HOUR, "bedroom"))
    assert at_seven < just_before < far


def test_an_activation_is_placed_when_the_device_says_it_happened() -> None:
    def record(received: float, sent: object, state: str = "OPEN") -> SensorRecord:
        return SensorRecord(received, "door", "front", state, {"ts": sent})

    late = record(START + 2400.0, START)  # a slow link: 40 minutes late
    assert happened(late) == START
    assert happened(record(START, START + 3600.0)) == START  # a clock far ahead: not believed
    assert happened(record(START, "soon")) == START
    assert happened(record(START + 2 * DAY, START)) == START + 2 * DAY  # too old to believe
    found = activations([SensorRecord(START - 10, "door", "front", "CLOSED"), late])
    assert [a.ts for a in found] == [START]
