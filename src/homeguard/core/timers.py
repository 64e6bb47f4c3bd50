"""When the panel must wake next: its own deadline, each sensor's supervision, report
grace, restart grace and unavailability debounce, and the end of a hold or a walk test,
read from the stored panel."""

from __future__ import annotations

import heapq
from collections.abc import Mapping

from homeguard.core.model import PanelSettings, SensorSpec
from homeguard.core.persistent_map import changed_keys
from homeguard.core.state import Panel, SensorStatus, Trouble


def next_wake(panel: Panel, settings: PanelSettings) -> float | None:
    due = [t for t, _ in panel_timers(panel, settings)]
    due.extend(comfort_timers(panel))
    return min(due) if due else None


def comfort_timers(panel: Panel) -> list[float]:
    """When a step of a hold (core.holds) or the walk test (core.walk_test) ends."""
    due = [held[0].until for held in panel.holds.values()]
    if panel.walk_test is not None:
        due.append(panel.walk_test.until)
    return due


def panel_timers(panel: Panel, settings: PanelSettings) -> list[tuple[float, str | None]]:
    """The next timers to run out, earliest first: the panel's own (sensor id None) and
    the earliest of the sensors' (the first configured of those due at once)."""
    timers: list[tuple[float, str | None]] = []
    if panel.deadline is not None:
        timers.append((panel.deadline, None))
    sensor = settings.timer_index.earliest(panel, settings)
    if sensor is not None:
        timers.append(sensor)
    return timers


class TimerIndex:
    """Each configured sensor's timer (supervision, report grace, restart grace,
    unavailability debounce) and a heap of them, earliest first, for the panel it was
    last shown: a cache kept with the settings (``PanelSettings.timer_index``), not part
    of the panel, so that an input works out again only the timers of the sensors it
    changed, whatever the number configured (docs/performance.md).

    Shown another panel, it works out the timers of the sensors whose status differs
    from the one it knows (``changed_keys``: from what the two maps do not share); all
    of them when the panel's times (``quiet_until``, ``supervised_since``)
    differ or the two maps share nothing: a restart, a clock step, a panel built anew.
    Used from the engine's thread only.
    """

    def __init__(self) -> None:
        self._sensors: Mapping[str, SensorStatus] | None = None  # those it was worked out for
        self._times = (0.0, 0.0)  # and the panel's quiet_until and supervised_since
        self._due: dict[str, float] = {}  # per sensor that has a timer, when it runs out
        # (when, rank in the configuration, sensor id); stale entries are left in place
        # and skipped: an entry stands while _due holds its time for its sensor.
        self._heap: list[tuple[float, int, str]] = []
        self._rank: dict[str, int] = {}
        self.worked_out = 0  # sensors' timers worked out so far (the tests count them)

    def earliest(self, panel: Panel, settings: PanelSettings) -> tuple[float, str] | None:
        """The sensor timer that runs out first (the first configured, of those due at
        once), as (when, sensor id); None: no sensor has one."""
        self._follow(panel, settings)
        heap, due = self._heap, self._due
        while heap and due.get(heap[0][2]) != heap[0][0]:
            heapq.heappop(heap)
        return (heap[0][0], heap[0][2]) if heap else None

    def _follow(self, panel: Panel, settings: PanelSettings) -> None:
        sensors, times = panel.sensors, (panel.quiet_until, panel.supervised_since)
        if sensors is self._sensors and times == self._times:
            return
        changed = None
        if times == self._times and self._sensors is not None:
            changed = changed_keys(self._sensors, sensors)
        if changed is None:
            self._rebuild(panel, settings)
        else:
            for sensor_id in changed:
                self._update(panel, settings, sensor_id)
        self._sensors, self._times = sensors, times

    def _rebuild(self, panel: Panel, settings: PanelSettings) -> None:
        if len(self._rank) != len(settings.sensors):
            self._rank = {spec.id: rank for rank, spec in enumerate(settings.sensors)}
        self._due = {}
        for spec in settings.sensors:
            due = _sensor_timer(panel, settings, spec, panel.sensor(spec.id))
            if due is not None:
                self._due[spec.id] = due
        self.worked_out += len(settings.sensors)
        self._heap = [(t, self._rank[sid], sid) for sid, t in self._due.items()]
        heapq.heapify(self._heap)

    def _update(self, panel: Panel, settings: PanelSettings, sensor_id: str) -> None:
        spec = settings.sensor(sensor_id)
        if spec is None:
            return
        due = _sensor_timer(panel, settings, spec, panel.sensor(sensor_id))
        self.worked_out += 1
        if due == self._due.get(sensor_id):
            return
        if due is None:
            del self._due[sensor_id]
            return
        self._due[sensor_id] = due
        heapq.heappush(self._heap, (due, self._rank[sensor_id], sensor_id))
        if len(self._heap) > 2 * len(self._due) + 64:  # mostly stale: start afresh
            self._heap = [(t, self._rank[sid], sid) for sid, t in self._due.items()]
            heapq.heapify(self._heap)


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
