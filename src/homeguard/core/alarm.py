"""What an armed panel does: a zone that trips starts the entry delay or the alarm, the
exit delay ends in armed, the entry delay in the alarm, the siren time back in armed."""

from __future__ import annotations

from dataclasses import replace

from homeguard.core import holds, walk_test
from homeguard.core.model import ArmMode, PanelState, ZoneKind
from homeguard.core.run import Run
from homeguard.core.signals import ActuatorKind, EventKind, Notify
from homeguard.core.state import NO_TRIPS


def panel_timer(run: Run, t: float) -> None:
    state, mode = run.panel.state, run.panel.mode
    if state is PanelState.ARMING:
        assert mode is not None
        enter_armed(run, mode, t)
    elif state is PanelState.PENDING:
        trigger(run, run.panel.triggered_by, t)
    elif state is PanelState.TRIGGERED:
        run.event(EventKind.ALARM_ENDED, "siren time over", sensors=list(run.panel.triggered_by))
        run.panel = replace(run.panel, triggered_by=())
        if mode is None or run.settings.disarm_after_trigger:
            run.panel = replace(run.panel, mode=None, bypassed=frozenset(), alarm_trips=NO_TRIPS)
            run.become(PanelState.DISARMED, t)
        else:
            run.become(mode.state, t)
    else:  # pragma: no cover - a deadline only exists in the three states above
        run.panel = replace(run.panel, deadline=None)


def enter_armed(
    run: Run, mode: ArmMode, t: float, who: str | None = None, source: str | None = None
) -> None:
    run.become(mode.state, t)
    run.event(EventKind.ARMED, f"armed {mode.value}", mode=mode.value, user=who, source=source)
    # Exit error: a door or window still open when the exit delay ends counts as a trip.
    # Of the sensors that could be open (not every one configured), in the order configured.
    for sensor_id in run.settings.readiness.unready(run.panel, run.settings):
        spec = run.settings.sensor(sensor_id)
        if (
            spec is not None
            and run.panel.sensor(sensor_id).active
            and spec.zone_kind in (ZoneKind.ENTRY, ZoneKind.PERIMETER)
            and spec.watched_in(mode)
        ):
            trip(run, sensor_id, t)


def trip(run: Run, sensor_id: str, t: float, *, tamper: bool = False) -> None:
    """A sensor became active (or went missing, with trigger_unavailable)."""
    if run.panel.walk_test is not None:
        walk_test.tripped(run, sensor_id, t, tamper=tamper)
        return
    spec = run.settings.sensor(sensor_id)
    assert spec is not None
    state, mode = run.panel.state, run.panel.mode
    if sensor_id in run.panel.bypassed or state is PanelState.TRIGGERED:
        return
    if tamper or spec.zone_kind is ZoneKind.ALWAYS:
        _alarm(run, sensor_id, t, instant=True)
        return
    if mode is None or state is PanelState.ARMING or not spec.watched_in(mode):
        return
    if state is PanelState.PENDING:
        if spec.zone_kind is ZoneKind.PERIMETER:
            _alarm(run, sensor_id, t, instant=True)
        return  # entry and interior zones follow the entry delay already running
    delay = 0.0
    if spec.zone_kind is ZoneKind.ENTRY:
        delay = spec.entry_delay if spec.entry_delay is not None else run.timing().entry_delay
    _alarm(run, sensor_id, t, instant=delay <= 0, delay=delay)


def _alarm(run: Run, sensor_id: str, t: float, *, instant: bool, delay: float = 0.0) -> None:
    if run.panel.mode is not None:
        trips = run.panel.alarm_trips.get(sensor_id, 0)
        if trips >= run.settings.swinger_limit:
            run.panel = replace(run.panel, bypassed=run.panel.bypassed | {sensor_id})
            run.event(
                EventKind.SWINGER_SHUTDOWN,
                f"sensor {sensor_id} tripped {trips} times: bypassed until disarm",
                sensor=sensor_id,
                trips=trips,
            )
            return
        run.panel = replace(run.panel, alarm_trips={**run.panel.alarm_trips, sensor_id: trips + 1})
    if instant:
        trigger(run, (*run.panel.triggered_by, sensor_id), t)
    else:
        run.panel = replace(run.panel, triggered_by=(sensor_id,))
        run.become(PanelState.PENDING, t, t + delay)
        run.event(
            EventKind.PENDING,
            f"entry delay started by {sensor_id}",
            sensor=sensor_id,
            delay=delay,
        )


def trigger(run: Run, sensors: tuple[str, ...], t: float) -> None:
    walk_test.end(run, t, "alarm")
    # The alarm has the siren from now on: a hold (a chirp) must not outlast it.
    holds.end(run, ActuatorKind.SIREN, tell=False)
    run.panel = replace(run.panel, triggered_by=sensors)
    run.become(PanelState.TRIGGERED, t, t + run.timing().siren_time)
    what = ", ".join(sensors) or "manual trigger"
    run.event(EventKind.TRIGGERED, f"alarm triggered by {what}", sensors=list(sensors))
    run.effects.append(Notify(EventKind.TRIGGERED, f"Alarm! Triggered by {what}"))
