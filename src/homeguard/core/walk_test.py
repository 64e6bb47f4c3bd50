"""The walk test: from disarmed, with a code that may disarm, the installer or owner
walks through the house and trips every sensor. Each trip (open, motion, detection,
tamper) is a ``walk_test`` event and a chime; none starts an entry delay or an alarm,
24-hour zones included (that is what the test is for). It ends by ``WALK_TEST_END``, a
disarm, its timeout, arming (which ends it first and goes on) or a manual ``TRIGGER``.

The panel stays ``disarmed`` throughout: the walk test is a flag of the disarmed panel
(``Panel.walk_test``), not a state, so Home Assistant and everything that reads
``<base>/alarm/state`` see nothing they do not know."""

from __future__ import annotations

from dataclasses import replace

from homeguard.core import chime
from homeguard.core.model import PanelState
from homeguard.core.run import Run
from homeguard.core.signals import EventKind
from homeguard.core.state import RejectReason, WalkTest


def start(run: Run, who: str | None, source: str, now: float) -> None:
    """Start a walk test (or, during one, give it its whole time again)."""
    if run.panel.state is not PanelState.DISARMED:
        run.reject(
            RejectReason.NOT_ALLOWED,
            f"no walk test while {run.panel.state.value}: disarm first",
        )
        return
    timeout = run.settings.features.walk_test_timeout
    current = run.panel.walk_test
    if current is not None:
        run.panel = replace(run.panel, walk_test=replace(current, until=now + timeout))
        return
    run.panel = replace(run.panel, walk_test=WalkTest(now, now + timeout, who))
    run.event(
        EventKind.WALK_TEST_STARTED,
        f"walk test started: every sensor's trip is recorded, no alarm, for {timeout:.0f} s",
        user=who,
        source=source,
        until=now + timeout,
    )


def end(run: Run, t: float, reason: str, who: str | None = None, source: str | None = None) -> None:
    """End the walk test, if one is under way, saying which sensors were tested."""
    current = run.panel.walk_test
    if current is None:
        return
    run.panel = replace(run.panel, walk_test=None)
    untested = [spec.id for spec in run.settings.sensors if spec.id not in current.tested]
    run.event(
        EventKind.WALK_TEST_ENDED,
        f"walk test ended ({reason}): {len(current.tested)} sensor(s) tested, {len(untested)} not",
        reason=reason,
        tested=list(current.tested),
        untested=untested,
        user=who,
        source=source,
    )


def tripped(run: Run, sensor_id: str, t: float, *, tamper: bool) -> None:
    """A sensor tripped during the walk test: recorded and confirmed by a chime. A
    sensor that went missing (not active, not tampered) is a trouble, not a test."""
    current = run.panel.walk_test
    assert current is not None
    status = run.panel.sensor(sensor_id)
    if not tamper and not status.active:
        return
    what = "TAMPER" if tamper or status.state is None else status.state.value
    first = sensor_id not in current.tested
    if first:
        current = replace(current, tested=(*current.tested, sensor_id))
        run.panel = replace(run.panel, walk_test=current)
    run.event(
        EventKind.WALK_TEST,
        f"walk test: {sensor_id} {what.lower()}",
        sensor=sensor_id,
        state=what,
        first=first,
        tested=len(current.tested),
    )
    chime.chirp(run, run.settings.features.chime_chirp, t)
