"""Sensor supervision: troubles (offline, silent, not heard since the start, revoked,
low battery) raised and cleared, sensors that go missing where that trips, and the
troubles of homeguard's own parts."""

from __future__ import annotations

from dataclasses import replace

from homeguard.core.alarm import trip
from homeguard.core.model import LOW_BATTERY_PERCENT
from homeguard.core.run import Run
from homeguard.core.signals import (
    Availability,
    EventKind,
    Notify,
    PublishState,
    Revoked,
    SensorReport,
    SystemHealth,
    SystemPart,
)
from homeguard.core.state import Trouble
from homeguard.core.timers import awaits_report, spoke_since_start

_TROUBLE_TEXT = {
    Trouble.OFFLINE: "is offline",
    Trouble.SUPERVISION: "silent beyond its supervision interval",
    Trouble.NO_REPORT: "not heard since the controller started",
    Trouble.LOW_BATTERY: "has a low battery",
    Trouble.REVOKED: "was revoked: remove it from the config",
}
_PART_NAMES = {SystemPart.STORAGE: "event store"}


def sensor_timer(run: Run, sensor_id: str, t: float) -> None:
    status = run.panel.sensor(sensor_id)
    spec = run.settings.sensor(sensor_id)
    assert spec is not None
    if status.trouble is None and status.offline_since is not None:
        _raise_trouble(run, sensor_id, Trouble.OFFLINE, t, since=status.offline_since)
    elif status.trouble is None:
        grace = run.settings.report_grace
        unheard = awaits_report(run.panel, run.settings, spec)
        if unheard and grace is not None and t >= run.panel.supervised_since + grace:
            _raise_trouble(run, sensor_id, Trouble.NO_REPORT, t)
        else:
            _raise_trouble(run, sensor_id, Trouble.SUPERVISION, t)
    else:
        run.set_sensor(sensor_id, replace(status, unavailable_tripped=True))
        trip(run, sensor_id, t)


def battery(run: Run, report: SensorReport, now: float) -> None:
    """Low-battery trouble: the device's own flag, or a percentage at or below
    LOW_BATTERY_PERCENT; a message that says neither changes nothing."""
    said = [report.battery_low] if report.battery_low is not None else []
    if report.battery is not None:
        said.append(report.battery <= LOW_BATTERY_PERCENT)
    if not said:
        return
    low = any(said)
    status = run.panel.sensor(report.sensor_id)
    if low == status.battery_low:
        return
    run.set_sensor(report.sensor_id, replace(status, battery_low=low))
    sensor_id = report.sensor_id
    if low:
        message = f"sensor {sensor_id} {_TROUBLE_TEXT[Trouble.LOW_BATTERY]}"
        trouble = Trouble.LOW_BATTERY.value
        run.event(EventKind.TROUBLE, message, sensor=sensor_id, trouble=trouble)
        run.effects.append(Notify(EventKind.TROUBLE, message))
    else:
        message = f"sensor {sensor_id}: battery no longer low"
        trouble = Trouble.LOW_BATTERY.value
        run.event(EventKind.RESTORED, message, sensor=sensor_id, trouble=trouble)


def availability(run: Run, report: Availability, now: float) -> None:
    if run.known_sensor(report.sensor_id) is None:
        return
    if report.online:
        clear_trouble(run, report.sensor_id, now)
        status = run.panel.sensor(report.sensor_id)
        run.set_sensor(report.sensor_id, replace(status, last_seen=now))
        return
    status = run.panel.sensor(report.sensor_id)
    if status.trouble is not None or status.offline_since is not None:
        return
    if now < run.panel.quiet_until and not spoke_since_start(
        run.panel, run.settings, status
    ):  # stale until the grace period says otherwise
        run.set_sensor(report.sensor_id, replace(status, offline_since=now))
    else:
        _raise_trouble(run, report.sensor_id, Trouble.OFFLINE, now)


def revoked(run: Run, event: Revoked, now: float) -> None:
    if run.known_sensor(event.sensor_id) is None:
        return
    if run.panel.sensor(event.sensor_id).trouble is not Trouble.REVOKED:
        _raise_trouble(run, event.sensor_id, Trouble.REVOKED, now)


def _raise_trouble(
    run: Run, sensor_id: str, trouble: Trouble, t: float, since: float | None = None
) -> None:
    """Raise ``trouble`` at ``t``; it counts (for trigger_unavailable) from ``since``."""
    status = run.panel.sensor(sensor_id)
    run.set_sensor(
        sensor_id,
        replace(
            status,
            trouble=trouble,
            trouble_since=t if since is None else since,
            unavailable_tripped=False,
            offline_since=None,
        ),
    )
    message = f"sensor {sensor_id} {_TROUBLE_TEXT[trouble]}"
    run.event(EventKind.TROUBLE, message, sensor=sensor_id, trouble=trouble.value)
    run.effects.append(Notify(EventKind.TROUBLE, message))


def clear_trouble(run: Run, sensor_id: str, now: float) -> None:
    status = run.panel.sensor(sensor_id)
    if status.offline_since is not None:  # back within the grace period: no news
        status = replace(status, offline_since=None)
        run.set_sensor(sensor_id, status)
    if status.trouble is None:
        return
    run.set_sensor(
        sensor_id,
        replace(status, trouble=None, trouble_since=None, unavailable_tripped=False),
    )
    run.event(EventKind.RESTORED, f"sensor {sensor_id} is back", sensor=sensor_id)


def system_health(run: Run, report: SystemHealth, now: float) -> None:
    """A part of homeguard failing or working again: a trouble, restored, and the
    retained state restated (its status lists the system troubles)."""
    part, troubles = report.part, run.panel.system_troubles
    name = _PART_NAMES[part]
    if not report.ok and part not in troubles:
        run.panel = replace(run.panel, system_troubles={**troubles, part: now})
        message = f"{name} failing: {report.detail}" if report.detail else f"{name} failing"
        run.event(EventKind.TROUBLE, message, part=part.value, detail=report.detail)
        run.effects.append(Notify(EventKind.TROUBLE, message))
        run.effects.append(PublishState(run.panel.state))
    elif report.ok and part in troubles:
        since = troubles[part]
        run.panel = replace(
            run.panel, system_troubles={p: t for p, t in troubles.items() if p is not part}
        )
        run.event(EventKind.RESTORED, f"{name} works again", part=part.value, since=since)
        run.effects.append(PublishState(run.panel.state))
    if report.lost:
        run.event(
            EventKind.RECORDS_DROPPED,
            f"{report.lost} events were dropped: the {name} could not store them",
            part=part.value,
            count=report.lost,
        )
