"""The alarm panel: a pure function of (panel, settings, input, now) to (panel, effects).

This module takes the inputs and hands each to the part of the engine that deals with it:
core.state (the stored panel), core.timers (when it must wake), core.run (one call of
the engine), core.alarm (zones that trip, the delays and the siren), core.arming
(commands and codes), core.supervision (troubles). Its names are the engine's API.

The stored panel holds the current state, the armed mode it belongs to and the absolute
time its timer runs out (``deadline``). Timed transitions (exit delay over, entry delay
over, siren time over, a sensor silent too long) are carried out by :func:`handle` for
whatever is due at ``now`` before the input itself, each at its own deadline, so a panel
restored after a restart resumes from the original start times.

Transitions, in short (see the README's table for the whole behaviour):

=================  ===============================  ====================================
state              event                            next state
=================  ===============================  ====================================
disarmed           ARM_<mode> (valid code)          arming (exit delay) or armed_<mode>
arming             exit delay over                  armed_<mode>
armed_<mode>       entry zone trips                 pending (entry delay)
armed_<mode>       perimeter/interior zone trips    triggered
pending            entry delay over                 triggered
pending            perimeter zone trips             triggered
triggered          siren time over                  armed_<mode> (or disarmed)
any but disarmed   DISARM (valid code)              disarmed
any                24h zone trips, TRIGGER          triggered
=================  ===============================  ====================================

Besides the states, the disarmed panel may be in a walk test (core.walk_test: trips are
recorded, none sounds), and the siren and light may be held for a time (core.holds: a
chime, a squawk, a rule's action); the alarm's own use of them always wins.
"""

from __future__ import annotations

from dataclasses import replace

from homeguard.core import arming, chime, holds, rule_run, supervision, walk_test
from homeguard.core.alarm import panel_timer, trip
from homeguard.core.arming import block_reason, blocking_sensors
from homeguard.core.evolve import evolve
from homeguard.core.model import PanelSettings, SensorState
from homeguard.core.persistent_map import PersistentMap
from homeguard.core.run import Run
from homeguard.core.sequence import SeqStep, check_seq
from homeguard.core.signals import (
    ActuatorRequest,
    Availability,
    BypassRequest,
    ClockStep,
    Command,
    EventKind,
    HoldActuator,
    Input,
    Notify,
    PublishState,
    Revoked,
    SensorReport,
    SystemHealth,
    Tick,
)
from homeguard.core.state import (
    Outcome,
    Panel,
    Rejection,
    RejectReason,
    SensorStatus,
    Trouble,
    new_panel,
    sensor_map,
    shift_times,
)
from homeguard.core.timers import comfort_timers, next_wake, panel_timers

__all__ = [
    "Outcome",
    "Panel",
    "RejectReason",
    "Rejection",
    "SensorStatus",
    "Trouble",
    "block_reason",
    "blocking_sensors",
    "handle",
    "new_panel",
    "next_wake",
    "resume",
    "shift_times",
]


def handle(panel: Panel, settings: PanelSettings, event: Input, now: float) -> Outcome:
    """Run what is due at ``now``, then apply ``event``. A :class:`ClockStep` moves the
    panel's times first: ``now`` is already on the stepped clock. With edge rules, they
    are evaluated with it and their actions fed back (core.rule_run)."""
    if settings.rules:
        return rule_run.handle_with_rules(panel, settings, event, now, _engine)
    return _engine(panel, settings, event, now)


def _engine(panel: Panel, settings: PanelSettings, event: Input, now: float) -> Outcome:
    """The panel alone, without the rules."""
    if isinstance(event, ClockStep):
        panel = shift_times(panel, event.delta)
    run = _Run(panel, settings)
    run.advance(now)
    match event:
        case SensorReport():
            run.sensor_report(event, now)
        case Command():
            run.command(event, now)
        case Availability():
            run.availability(event, now)
        case Revoked():
            run.revoked(event, now)
        case BypassRequest():
            run.bypass(event, now)
        case SystemHealth():
            run.system_health(event, now)
        case ActuatorRequest():
            run.switch(event, now)
        case HoldActuator():
            holds.hold(run, event, now)
        case ClockStep():
            run.clock_step(event)
        case Tick():
            pass
    return run.outcome()


def resume(panel: Panel, settings: PanelSettings, now: float) -> Outcome:
    """After a restart: run what fell due while down, then restate state, siren and light.

    Supervision restarts its count at ``now``: silence while we were down is ours. A
    restart is not news: for ``settings.restart_grace`` seconds, a sensor that has not
    spoken since the start gets the benefit of the doubt: its offline (often the
    retained one from before the start, or one queued in our session) is only noted,
    and no trouble or unavailability trip is raised for it. If it has not spoken by the
    end of the grace, it is in trouble from when it was heard offline. A sensor that
    has spoken since the start is treated as usual.
    """
    run = _Run(
        replace(
            panel,
            supervised_since=max(panel.supervised_since, now),
            quiet_until=now + settings.restart_grace,
            sensors=sensor_map(panel.sensors, settings),
            message_seqs=sensor_map(panel.message_seqs, settings),
        ),
        settings,
    )
    run.advance(now)
    settings.readiness.unready(run.panel, settings)  # built now, not at the first arming
    run.effects.append(PublishState(run.panel.state))
    run.effects.extend(run.panel.actuators(settings))
    if settings.rules:
        return rule_run.resumed(run.outcome(), settings, now, _engine)
    return run.outcome()


class _Run(Run):
    """One call of the engine, with a method for each input."""

    def advance(self, now: float) -> None:
        """Carry out every timer due by ``now``, earliest first, each at its own time
        (a hold's step or the walk test's end before others due at the same time)."""
        while True:
            due = [(t, sid) for t, sid in panel_timers(self.panel, self.settings) if t <= now]
            comfort = min(comfort_timers(self.panel), default=None)
            if comfort is not None and comfort <= now and all(comfort <= t for t, _ in due):
                self.comfort_timer(comfort)
                continue
            if not due:
                return
            t, sensor_id = min(due, key=lambda item: (item[0], item[1] is not None))
            if sensor_id is None:
                panel_timer(self, t)
            else:
                supervision.sensor_timer(self, sensor_id, t)

    def comfort_timer(self, t: float) -> None:
        holds.expire(self, t)
        current = self.panel.walk_test
        if current is not None and current.until <= t:
            walk_test.end(self, t, "timeout")

    def sensor_report(self, report: SensorReport, now: float) -> None:
        if self.known_sensor(report.sensor_id) is None:
            return
        seqs = None if report.seq is None else self.count_seq(report.sensor_id, report.seq)
        before = self.panel.sensor(report.sensor_id)
        supervision.clear_trouble(self, report.sensor_id, now)
        heard: dict[str, object] = {"last_seen": now}
        if report.state is not None:
            heard["state"] = report.state
        if report.tamper is not None:
            heard["tampered"] = report.tamper
        if report.battery is not None:
            heard["battery"] = report.battery
        status = evolve(self.panel.sensor(report.sensor_id), **heard)
        self.set_sensor(report.sensor_id, status, message_seqs=seqs)  # one copy of the panel
        supervision.battery(self, report, now)
        # Devices repeat their tamper flag in every message: only its rising edge trips,
        # so a door that opens while the flag is still set is heard as a door.
        tampering = status.tampered and not before.tampered
        if report.state is SensorState.TAMPER and before.state is not SensorState.TAMPER:
            tampering = True
        if tampering:
            trip(self, report.sensor_id, now, tamper=True)
        elif status.active and not before.active:
            trip(self, report.sensor_id, now)
            chime.door_opened(self, report.sensor_id, now)

    def count_seq(self, sensor_id: str, seq: int) -> PersistentMap[str, int] | None:
        """The panel's seqs with the device's last one (None: unchanged), for the caller
        to keep; a gap before this one is a loss, reported."""
        last = self.panel.message_seqs.get(sensor_id)
        check = check_seq(last, seq)
        seqs = None
        if check.last != last:
            seqs = sensor_map(self.panel.message_seqs, self.settings).set(sensor_id, check.last)
        if check.step is SeqStep.GAP:
            message = f"{check.lost} message(s) from {sensor_id} lost (seq {last} then {seq})"
            self.event(
                EventKind.MESSAGES_LOST,
                message,
                sensor=sensor_id,
                lost=check.lost,
                last_seq=last,
                seq=seq,
            )
            self.effects.append(Notify(EventKind.MESSAGES_LOST, message))
        return seqs

    def availability(self, report: Availability, now: float) -> None:
        supervision.availability(self, report, now)

    def revoked(self, event: Revoked, now: float) -> None:
        supervision.revoked(self, event, now)

    def clock_step(self, step: ClockStep) -> None:
        """Say that the clock was set: the times before and after it do not compare."""
        self.event(
            EventKind.CLOCK_STEP,
            f"system clock set {step.delta:+.1f} s: timers kept their remaining time",
            delta=step.delta,
        )

    def system_health(self, report: SystemHealth, now: float) -> None:
        supervision.system_health(self, report, now)

    def command(self, command: Command, now: float) -> None:
        arming.command(self, command, now)

    def bypass(self, request: BypassRequest, now: float) -> None:
        arming.bypass(self, request, now)

    def switch(self, request: ActuatorRequest, now: float) -> None:
        arming.switch(self, request, now)
