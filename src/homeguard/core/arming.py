"""Commands: code checks and the lockout, arming (with the sensors that block it),
disarming, bypassing zones, and switching the siren or light by hand."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import replace

from homeguard.core import chime, holds, walk_test
from homeguard.core.alarm import enter_armed, trigger
from homeguard.core.codes import check_code
from homeguard.core.model import (
    Action,
    ArmMode,
    PanelSettings,
    PanelState,
    SensorSpec,
    User,
    ZoneKind,
)
from homeguard.core.persistent_map import changed_keys
from homeguard.core.run import Run
from homeguard.core.signals import (
    ActuatorKind,
    ActuatorRequest,
    BypassRequest,
    Command,
    EventKind,
    Notify,
    SetActuator,
    SilentAlert,
)
from homeguard.core.state import NO_TRIPS, Panel, RejectReason, SensorStatus, Trouble


def blocking_sensors(panel: Panel, settings: PanelSettings, mode: ArmMode) -> dict[str, str]:
    """The sensors that keep ``mode`` from arming without force, in the order
    configured: id → "open" or trouble. Only those that could (``ReadinessIndex``) are
    looked at, not every sensor configured."""
    blockers: dict[str, str] = {}
    for sensor_id in settings.readiness.unready(panel, settings):
        spec = settings.sensor(sensor_id)
        if spec is not None and (reason := block_reason(panel, spec, mode)) is not None:
            blockers[sensor_id] = reason
    return blockers


def _unready(status: SensorStatus) -> bool:
    """Whether the sensor could keep a mode from arming (``block_reason``): an open
    contact, motion, a trouble or a low battery."""
    return status.active or status.trouble is not None or status.battery_low


class ReadinessIndex:
    """The sensors in a state that could keep a mode from arming, for the panel last
    shown: a cache kept with the settings (``PanelSettings.readiness``), not part of the
    panel, so that arming looks at the few sensors open or in trouble and not at every
    one configured (docs/performance.md). Shown another panel, it looks again at the
    sensors whose status differs from the one it knows (``changed_keys``), at all of
    them when the two maps share nothing. Safe from any thread (the dashboard's
    requests use it too)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sensors: Mapping[str, SensorStatus] | None = None  # those it was shown
        self._unready: set[str] = set()
        self._rank: dict[str, int] = {}
        self.looked_at = 0  # sensors' statuses looked at so far (the tests count them)

    def unready(self, panel: Panel, settings: PanelSettings) -> list[str]:
        """The ids of the sensors of ``panel`` that could keep a mode from arming, in
        the order configured (ids no longer configured last)."""
        with self._lock:
            self._follow(panel.sensors)
            if len(self._rank) != len(settings.sensors):
                self._rank = {spec.id: rank for rank, spec in enumerate(settings.sensors)}
            rank, last = self._rank, len(self._rank)
            return sorted(self._unready, key=lambda sid: (rank.get(sid, last), sid))

    def _follow(self, sensors: Mapping[str, SensorStatus]) -> None:
        if sensors is self._sensors:
            return
        changed = None if self._sensors is None else changed_keys(self._sensors, sensors)
        if changed is None:
            self._unready = {sid for sid, status in sensors.items() if _unready(status)}
            self.looked_at += len(sensors)
        else:
            for sensor_id in changed:
                status = sensors.get(sensor_id)
                if status is not None and _unready(status):
                    self._unready.add(sensor_id)
                else:
                    self._unready.discard(sensor_id)
            self.looked_at += len(changed)
        self._sensors = sensors


def block_reason(panel: Panel, spec: SensorSpec, mode: ArmMode) -> str | None:
    """Why the sensor keeps ``mode`` from arming without force ("open" or its trouble);
    None: it does not."""
    if spec.id in panel.bypassed or not spec.watched_in(mode):
        return None
    status = panel.sensor(spec.id)
    if status.trouble is not None:
        return status.trouble.value
    if status.battery_low:
        return Trouble.LOW_BATTERY.value
    if status.active and spec.zone_kind is not ZoneKind.INTERIOR:
        return "open"  # motion is momentary: a person at the keypad must not block arming
    return None


def command(run: Run, command: Command, now: float) -> None:
    if command.action is Action.TRIGGER:
        if run.panel.state is not PanelState.TRIGGERED:
            trigger(run, command.sensors, now)
        return
    mode = command.action.mode
    # Changing the mode of an armed panel unwatches zones: as strong as a disarm; so is
    # a walk test, during which no zone trips.
    needs_disarm_right = command.action in _DISARM_RIGHT or (
        mode is not None and _changes_armed_mode(run, mode)
    )
    needs_code = run.settings.codes_required and (
        needs_disarm_right or run.settings.code_arm_required
    )
    if command.trusted and command.code is None:
        needs_code = False  # vouched for by the broker's ACL; a code given is checked
    user = None
    if needs_code:
        user = _check_code(run, command.code, needs_disarm_right, command.source, now)
        if user is None:
            return
    if mode is not None:
        _arm(
            run, mode, force=command.force, user=user, source=command.source, now=now, by=command.by
        )
    elif command.action is Action.DISARM:
        _disarm(run, user, command.source, now, by=command.by)
    else:
        _comfort(run, command.action, user, command.source, now)
    _succeeded(run, user)


_DISARM_RIGHT = frozenset({Action.DISARM, Action.WALK_TEST})


def _comfort(run: Run, action: Action, user: User | None, source: str, now: float) -> None:
    """The walk test and the door chime (core.walk_test, core.chime)."""
    who = user.shown_name if user else None
    if action is Action.WALK_TEST:
        walk_test.start(run, who, source, now)
    elif action is Action.WALK_TEST_END:
        walk_test.end(run, now, "command", who, source)
    else:
        chime.switch(run, action is Action.CHIME_ON, who, source)


def _changes_armed_mode(run: Run, mode: ArmMode) -> bool:
    state = run.panel.state
    armed = state is PanelState.ARMING or state in {m.state for m in ArmMode}
    return armed and run.panel.mode is not mode


def _check_code(
    run: Run, code: str | None, disarm_right: bool, source: str, now: float
) -> User | None:
    """The user whose code this is and who holds the right (to disarm when
    ``disarm_right``, else to arm), or None after recording why not. A wrong code
    and a code without the right both count towards the lockout."""
    lock = run.panel.code_lock
    if lock.locked(now):
        message = f"code entry locked for {lock.locked_until - now:.0f} s"
        run.event(EventKind.LOCKED_OUT, message, source=source, until=lock.locked_until)
        run.reject(RejectReason.LOCKED_OUT, message)
        return None
    if not code:
        run.reject(RejectReason.CODE_REQUIRED, "a code is required")
        return None
    user = next((u for u in run.settings.users if check_code(u.pin_hash, code)), None)
    if user is None:
        run.event(EventKind.INVALID_CODE, "wrong code entered", source=source)
        run.reject(RejectReason.INVALID_CODE, "wrong code")
        _count_failure(run, source, now)
        return None
    if user.duress:
        # Silent: every visible channel shows what this user's code did as usual.
        run.effects.append(
            SilentAlert(
                EventKind.DURESS,
                f"duress code used by {user.name}",
                {"user": user.name, "source": source},
            )
        )
        run.effects.append(
            Notify(EventKind.DURESS, f"Duress code entered ({user.name})", silent=True)
        )
    if not (user.can_disarm if disarm_right else user.can_arm):
        message = f"{user.shown_name} may not {'disarm' if disarm_right else 'arm'}"
        run.event(EventKind.NOT_AUTHORIZED, message, user=user.shown_name, source=source)
        run.reject(RejectReason.NOT_AUTHORIZED, message)
        _count_failure(run, source, now)
        return None
    return user


def _count_failure(run: Run, source: str, now: float) -> None:
    lock = run.panel.code_lock.after_failure(run.settings.codes, now)
    run.panel = replace(run.panel, code_lock=lock)
    if lock.locked(now):
        message = f"too many wrong codes: code entry locked for {lock.locked_until - now:.0f} s"
        run.event(EventKind.LOCKED_OUT, message, source=source, until=lock.locked_until)
        run.effects.append(Notify(EventKind.LOCKED_OUT, message))


def _succeeded(run: Run, user: User | None) -> None:
    """After an action: only one carried out with the code of a user who may disarm
    clears the wrong-code count, so a known arm-only code cannot be slipped in
    between guesses to keep the lockout away."""
    if user is not None and user.can_disarm and run.rejection is None:
        run.panel = replace(run.panel, code_lock=run.panel.code_lock.after_success())


def _arm(
    run: Run,
    mode: ArmMode,
    *,
    force: bool,
    user: User | None,
    source: str,
    now: float,
    by: str | None = None,
) -> None:
    state = run.panel.state
    if state in (PanelState.PENDING, PanelState.TRIGGERED):
        run.reject(RejectReason.NOT_ALLOWED, f"cannot arm while {state.value}: disarm first")
        return
    if run.panel.mode is mode and state in (PanelState.ARMING, mode.state):
        return  # already arming or armed in this mode
    blockers = blocking_sensors(run.panel, run.settings, mode)
    names = tuple(sorted(blockers))
    if names and not force:
        message = f"cannot arm {mode.value}: not ready: " + ", ".join(
            f"{sid} ({blockers[sid]})" for sid in names
        )
        run.event(EventKind.FAILED_TO_ARM, message, mode=mode.value, sensors=blockers)
        run.reject(RejectReason.SENSORS_NOT_READY, message, names)
        return
    if names:
        run.panel = replace(run.panel, bypassed=run.panel.bypassed | set(names))
        run.event(
            EventKind.BYPASSED,
            "forced arming bypasses " + ", ".join(names),
            sensors=list(names),
            forced=True,
        )
    who = user.shown_name if user else by
    walk_test.end(run, now, "arming", who, source)
    chime.squawk_arm(run, now)
    run.panel = replace(run.panel, mode=mode, alarm_trips=NO_TRIPS, triggered_by=())
    exit_delay = run.settings.timing(mode).exit_delay
    if exit_delay > 0:
        run.become(PanelState.ARMING, now, now + exit_delay)
        run.event(
            EventKind.ARMING,
            f"arming {mode.value}",
            mode=mode.value,
            user=who,
            source=source,
            exit_delay=exit_delay,
        )
    else:
        enter_armed(run, mode, now, who, source)


def _disarm(run: Run, user: User | None, source: str, now: float, by: str | None = None) -> None:
    """Disarm; a valid disarm also silences a hold of the siren and ends a walk test,
    even on a panel that was disarmed already."""
    holds.end(run, ActuatorKind.SIREN)
    previous = run.panel.state
    if previous is PanelState.DISARMED:
        walk_test.end(run, now, "disarm", user.shown_name if user else None, source)
        return
    run.panel = replace(
        run.panel, mode=None, triggered_by=(), bypassed=frozenset(), alarm_trips=NO_TRIPS
    )
    run.become(PanelState.DISARMED, now)
    who = user.shown_name if user else by
    run.event(
        EventKind.DISARMED,
        f"disarmed from {previous.value}",
        user=who,
        source=source,
        previous=previous.value,
    )
    chime.squawk_disarm(run, now)


def bypass(run: Run, request: BypassRequest, now: float) -> None:
    """Bypassing a zone needs a code that may disarm, and a disarmed panel unless
    ``bypass_while_armed``; lifting a bypass (safer) needs one that may arm."""
    sensor_id = request.sensor_id
    if run.known_sensor(sensor_id) is None:
        return
    state = run.panel.state
    if request.bypass and state is not PanelState.DISARMED and not run.settings.bypass_while_armed:
        run.reject(
            RejectReason.NOT_ALLOWED,
            f"cannot bypass {sensor_id} while {state.value}: disarm first",
        )
        return
    user = None
    if run.settings.codes_required:
        user = _check_code(run, request.code, request.bypass, request.source, now)
        if user is None:
            return
    who = user.shown_name if user else None
    bypassed = run.panel.bypassed
    if request.bypass:
        run.panel = replace(run.panel, bypassed=bypassed | {sensor_id})
        run.event(
            EventKind.BYPASSED,
            f"sensor {sensor_id} bypassed",
            sensors=[sensor_id],
            forced=False,
            user=who,
            source=request.source,
        )
    else:
        run.panel = replace(run.panel, bypassed=bypassed - {sensor_id})
        run.event(
            EventKind.UNBYPASSED,
            f"sensor {sensor_id} no longer bypassed",
            sensors=[sensor_id],
            user=who,
            source=request.source,
        )
    _succeeded(run, user)


def switch(run: Run, request: ActuatorRequest, now: float) -> None:
    """A siren or light switched by hand. ON, or anything outside an alarm, is
    carried out; OFF during an alarm silences it, which is disarming: it needs a
    code that may disarm (counted like any other) and disarms."""
    state = run.panel.state
    if request.on or state not in (PanelState.PENDING, PanelState.TRIGGERED):
        holds.end(run, request.actuator, tell=False)  # the hand has the last word
        run.effects.append(SetActuator(request.actuator, request.on))
        return
    user = None
    if run.settings.codes_required:
        user = _check_code(run, request.code, True, request.source, now)
        if user is None:
            return
    _disarm(run, user, request.source, now)
    _succeeded(run, user)
