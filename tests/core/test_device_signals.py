"""Tamper as its own signal, low batteries, and sensors not heard since the start."""

from __future__ import annotations

from dataclasses import replace

from homeguard.core.model import (
    Action,
    ArmMode,
    PanelSettings,
    PanelState,
    SensorSpec,
    SensorState,
    SensorType,
)
from homeguard.core.panel import Panel, blocking_sensors, handle, new_panel
from homeguard.core.signals import Command, EventKind, RecordEvent, SensorReport, Tick

SETTINGS = PanelSettings(
    sensors=(
        SensorSpec("front", SensorType.DOOR),
        SensorSpec("pir", SensorType.MOTION, event_only=True),
    ),
    report_grace=60.0,
)


def _events(outcome_effects: tuple[object, ...], kind: EventKind) -> list[RecordEvent]:
    return [e for e in outcome_effects if isinstance(e, RecordEvent) and e.kind is kind]


def _feed(panel: Panel, event: object, now: float, settings: PanelSettings = SETTINGS) -> Panel:
    return handle(panel, settings, event, now).panel  # type: ignore[arg-type]


def _armed(panel: Panel, now: float) -> Panel:
    settings = replace(SETTINGS, report_grace=None)
    panel = _feed(panel, SensorReport("front", SensorState.CLOSED), now, settings)
    panel = _feed(panel, Command(Action.ARM_AWAY, force=True), now, settings)
    return _feed(panel, Tick(), now + 61, settings)


def test_a_repeated_tamper_flag_does_not_hide_the_door_opening() -> None:
    settings = replace(SETTINGS, report_grace=None)
    panel = _feed(new_panel(0), SensorReport("front", SensorState.CLOSED, tamper=True), 1, settings)
    assert panel.state is PanelState.TRIGGERED  # the rising edge of tamper: 24 h
    panel = _feed(panel, Command(Action.DISARM), 2, settings)
    panel = _armed(panel, 3)
    assert panel.state is PanelState.ARMED_AWAY
    panel = _feed(panel, SensorReport("front", SensorState.OPEN, tamper=True), 70, settings)
    assert panel.state is PanelState.PENDING  # the door, not a second tamper
    assert panel.sensor("front").tampered


def test_tamper_trips_again_only_after_it_cleared() -> None:
    settings = replace(SETTINGS, report_grace=None)
    panel = _armed(new_panel(0), 1)
    panel = _feed(panel, SensorReport("front", SensorState.CLOSED, tamper=False), 70, settings)
    outcome = handle(panel, settings, SensorReport("front", None, tamper=True), 71)
    assert outcome.panel.state is PanelState.TRIGGERED


def test_low_battery_is_a_trouble_that_blocks_arming_until_restored() -> None:
    settings = replace(SETTINGS, report_grace=None)
    outcome = handle(
        new_panel(0), settings, SensorReport("front", SensorState.CLOSED, battery=15), 1
    )
    troubles = _events(outcome.effects, EventKind.TROUBLE)
    assert [t.data["trouble"] for t in troubles] == ["low_battery"]
    panel = outcome.panel
    assert blocking_sensors(panel, settings, ArmMode.AWAY) == {"front": "low_battery"}
    outcome = handle(panel, settings, SensorReport("front", None, battery_low=False, battery=95), 2)
    assert [e.data["trouble"] for e in _events(outcome.effects, EventKind.RESTORED)] == [
        "low_battery"
    ]
    assert outcome.panel.sensor("front").battery == 95
    # The device's own flag counts as well; a message that says neither changes nothing.
    panel = _feed(outcome.panel, SensorReport("front", None, battery_low=True), 3, settings)
    assert panel.sensor("front").battery_low
    assert _feed(panel, SensorReport("front", None), 4, settings).sensor("front").battery_low


def test_a_sensor_not_heard_within_the_grace_period_blocks_arming() -> None:
    panel = _feed(new_panel(0), Tick(), 59)
    assert panel.sensor("front").trouble is None  # still within the grace period
    outcome = handle(panel, SETTINGS, Tick(), 60)
    troubles = _events(outcome.effects, EventKind.TROUBLE)
    assert [(t.data["sensor"], t.data["trouble"]) for t in troubles] == [("front", "no_report")]
    outcome = handle(outcome.panel, SETTINGS, Command(Action.ARM_AWAY), 61)
    assert outcome.rejection is not None and outcome.rejection.sensors == ("front",)  # not pir
    forced = handle(outcome.panel, SETTINGS, Command(Action.ARM_AWAY, force=True), 62)
    assert forced.rejection is None
    heard = handle(outcome.panel, SETTINGS, SensorReport("front", SensorState.CLOSED), 63)
    assert heard.panel.sensor("front").trouble is None


def test_any_message_within_the_grace_period_is_enough() -> None:
    panel = _feed(new_panel(0), SensorReport("front", None), 10)
    panel = _feed(panel, Tick(), 500)
    assert panel.sensor("front").trouble is None
