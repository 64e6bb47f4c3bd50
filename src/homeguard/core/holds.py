"""Timed holds of the siren and the light: a chime, a squawk, a rule's action
(:class:`~homeguard.core.signals.HoldActuator`).

A hold is a list of steps (on or off, until when) kept in the panel, the first one
current; each step ends at its own time (a timer of the panel, see
core.timers.comfort_timers), so a hold resumed after a restart ends when it would have.
``Panel.actuators`` decides from the alarm and the holds together: the alarm's own use
wins, so a hold never silences an alarm. Besides:

- a new hold of an actuator replaces the one it had (the last word wins); 0 s ends it;
- while the alarm sounds, a hold of the siren is ignored (the alarm has the siren: a
  hold must not make it outlast the alarm), and an alarm that starts ends it;
- a valid DISARM ends the siren's hold (disarming silences), and switching an actuator
  by hand ends its hold.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from homeguard.core.run import Run
from homeguard.core.signals import ActuatorKind, HoldActuator
from homeguard.core.state import Hold, Panel


def hold(run: Run, request: HoldActuator, now: float) -> None:
    if request.actuator is ActuatorKind.SIREN and run.panel.siren_on:
        return
    steps(run, request.actuator, [(request.on, request.seconds)], now)  # 0 s: ends it


def steps(run: Run, kind: ActuatorKind, pattern: Iterable[tuple[bool, float]], now: float) -> None:
    """Hold ``kind`` through ``pattern``: (on, seconds) steps, one after the other."""
    held: list[Hold] = []
    until = now
    for on, seconds in pattern:
        until += seconds
        if until > now:  # a step too short to tell on this clock is none
            held.append(Hold(on, until))
    run.update(_with(run.panel, kind, tuple(held)))


def end(run: Run, kind: ActuatorKind, *, tell: bool = True) -> None:
    """End ``kind``'s hold; ``tell`` False: the caller switches the actuator itself."""
    if kind not in run.panel.holds:
        return
    panel = _with(run.panel, kind, ())
    if tell:
        run.update(panel)
    else:
        run.panel = panel


def expire(run: Run, t: float) -> None:
    """The steps that are over by ``t`` end; the next step of each hold takes over."""
    panel = run.panel
    for kind, held in panel.holds.items():
        left = tuple(step for step in held if step.until > t)
        if left != held:
            panel = _with(panel, kind, left)
    run.update(panel)


def _with(panel: Panel, kind: ActuatorKind, held: tuple[Hold, ...]) -> Panel:
    holds = {k: v for k, v in panel.holds.items() if k is not kind}
    if held:
        holds[kind] = held
    return replace(panel, holds=holds)
