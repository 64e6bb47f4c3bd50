"""When the panel must wake next: its own deadline, each sensor's supervision, report
grace, restart grace and unavailability debounce, and the end of a hold or a walk test,
read from the stored panel."""

from __future__ import annotations

from homeguard.core.model import PanelSettings, SensorSpec
from homeguard.core.state import Panel, SensorStatus, Trouble


def next_wake(panel: Panel, settings: PanelSettings) -> float | None:
    due = [t for t, _ in pending_timers(panel, settings)]
    due.extend(comfort_timers(panel))
    return min(due) if due else None


def comfort_timers(panel: Panel) -> list[float]:
    """When a step of a hold (core.holds) or the walk test (core.walk_test) ends."""
    due = [held[0].until for held in panel.holds.values()]
    if panel.walk_test is not None:
        due.append(panel.walk_test.until)
    return due


def pending_timers(panel: Panel, settings: PanelSettings) -> list[tuple[float, str | None]]:
    """Every pending timer as (when, sensor id or None for the panel's own)."""
    timers: list[tuple[float, str | None]] = []
    if panel.deadline is not None:
        timers.append((panel.deadline, None))
    # Run twice per input over every configured sensor: a sensor's timer is worked out
    # again only when its status (a new object whenever it changes) or the panel's
    # times changed, or this is per event O(sensors) function calls (docs/performance.md).
    memo = settings.timer_memo
    quiet_until, supervised_since = panel.quiet_until, panel.supervised_since
    for spec in settings.sensors:
        status = panel.sensor(spec.id)
        known = memo.get(spec.id)
        if (
            known is not None
            and known[0] is status
            and known[1] == quiet_until
            and known[2] == supervised_since
        ):
            due = known[3]
        else:
            due = _sensor_timer(panel, settings, spec, status)
            memo[spec.id] = (status, quiet_until, supervised_since, due)
        if due is not None:
            timers.append((due, spec.id))
    return timers


def _sensor_timer(
    panel: Panel, settings: PanelSettings, spec: SensorSpec, status: SensorStatus
) -> float | None:
    """When the sensor's own timer runs out (supervision, report grace, restart grace,
    unavailability debounce); None: it has none."""
    due: float | None = None
    if status.trouble is None:
        if status.offline_since is not None:
            due = panel.quiet_until
        else:
            due = quiet_deadline(panel, settings, spec, status)
    elif (
        spec.trigger_unavailable
        and not status.unavailable_tripped
        and status.trouble is not Trouble.REVOKED  # our own doing, not an intruder's
    ):
        assert status.trouble_since is not None
        due = status.trouble_since + spec.unavailable_debounce
    if due is not None and not spoke_since_start(panel, settings, status):
        due = max(due, panel.quiet_until)  # the benefit of the doubt, see resume
    return due


def awaits_report(panel: Panel, settings: PanelSettings, spec: SensorSpec) -> bool:
    """Not heard since the controller started, and expected to be (not event_only)."""
    if settings.report_grace is None or spec.event_only:
        return False
    last_seen = panel.sensor(spec.id).last_seen
    return last_seen is None or last_seen < panel.supervised_since


def quiet_deadline(
    panel: Panel, settings: PanelSettings, spec: SensorSpec, status: SensorStatus
) -> float | None:
    """When a sensor that is in no trouble will be, if it stays silent: its supervision
    interval, or the report grace for one not heard since the start; None: never."""
    due: list[float] = []
    if spec.supervision is not None:
        heard = max(status.last_seen or panel.supervised_since, panel.supervised_since)
        due.append(heard + spec.supervision)
    if awaits_report(panel, settings, spec):
        assert settings.report_grace is not None
        due.append(panel.supervised_since + settings.report_grace)
    return min(due) if due else None


def spoke_since_start(panel: Panel, settings: PanelSettings, status: SensorStatus) -> bool:
    """Whether the sensor was heard from (online, or a message) since the last start."""
    started = panel.quiet_until - settings.restart_grace
    return status.last_seen is not None and status.last_seen >= started
