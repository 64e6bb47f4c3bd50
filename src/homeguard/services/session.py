"""The controller's MQTT session, beyond the engine's effects: what it keeps said on the
broker (retained), and a session that another client keeps taking.

After each (re)connection (a broker restart may have lost what was retained) it says
again that it is online, the panel's state, what the siren and the light are to do, the
Home Assistant discovery configs and every sensor's topic; once at start every sensor's
topic (``<base>/alarm/sensors/<id>``) as resumed; after that, at the end of each turn,
the topic of each sensor a decision of the turn changed, once however often it changed,
when it says something new: bookkeeping after the alarms, and not every configured
sensor looked at per event. When the MQTT client says that another client keeps taking the
controller's session (the same client id: a second controller for the site, or a
takeover), a ``trouble`` (``session_taken_over``), and ``restored`` when it stops.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from homeguard.core.model import PanelSettings
from homeguard.core.panel import Panel
from homeguard.core.persistent_map import changed_keys
from homeguard.core.signals import EventKind, RecordEvent
from homeguard.services.outbound import Outbound
from homeguard.services.ports import Publisher

__all__ = ["SESSION_TAKEN_OVER", "Session"]

SESSION_TAKEN_OVER = "session_taken_over"  # the trouble of a contested MQTT session


class Session:
    """See the module docstring. Used from the controller thread only."""

    def __init__(
        self, out: Outbound, settings: PanelSettings, discovery: Mapping[str, bytes]
    ) -> None:
        self._out = out
        self._settings = settings
        self._discovery = discovery
        # What was last said of each sensor (said again only when it changes).
        self._sensors_said: dict[str, tuple[object, ...]] = {}
        self._sensors_due: set[str] = set()  # changed this turn: said at its end
        self._connections = 0
        self._contested = False  # another client keeps taking our MQTT session

    def follow(self, client: Publisher, panel: Panel, now: float) -> RecordEvent | None:
        """After a turn: after a new connection (a broker restart may have lost what was
        retained), say everything again; the event of a session that became contested,
        or ours again (None: no change)."""
        if client.connection_count != self._connections:
            self._connections = client.connection_count
            self.announce(panel, now)
        if client.session_contested == self._contested:
            return None
        self._contested = client.session_contested
        if not self._contested:
            description = "the controller's MQTT session is its own again"
            return RecordEvent(EventKind.RESTORED, description, {"trouble": SESSION_TAKEN_OVER})
        description = (
            "another MQTT client keeps taking the controller's session (same client "
            "id): a second controller for this site, or a takeover"
        )
        return RecordEvent(EventKind.TROUBLE, description, {"trouble": SESSION_TAKEN_OVER})

    def announce(self, panel: Panel, now: float) -> None:
        """After (re)connecting: say we are online and restate everything retained."""
        self._out.online()
        self._out.state(panel, now)
        for actuator in panel.actuators(self._settings):
            self._out.actuator(actuator.actuator, actuator.on)
        self._out.discovery(self._discovery)
        self._sensors_said.clear()
        self.sensors(panel)

    def changed(self, before: Panel, after: Panel) -> None:
        """A decision changed ``before`` into ``after``: its sensors whose status (a new
        object whenever it changes) or bypass changed are said by `say_changed`."""
        old, new = before.sensors, after.sensors
        changed = changed_keys(old, new)  # from what the two share: a few, not every one
        if changed is None:
            changed = {sid for sid, status in new.items() if old.get(sid) is not status}
        self._sensors_due.update(changed)
        self._sensors_due.update(before.bypassed ^ after.bypassed)

    def say_changed(self, panel: Panel) -> None:
        """At the end of a turn: say the sensors its decisions changed, once each."""
        if self._sensors_due:
            due, self._sensors_due = self._sensors_due, set()
            self.sensors(panel, sorted(due))

    def sensors(self, panel: Panel, ids: Iterable[str] | None = None) -> None:
        """Publish each sensor's (or each of ``ids``') state, trouble, bypass and
        battery when they changed."""
        if ids is None:
            ids = [spec.id for spec in self._settings.sensors]
        for sensor_id in ids:
            spec = self._settings.sensor(sensor_id)
            if spec is None:
                continue
            status = panel.sensor(spec.id)
            bypassed = spec.id in panel.bypassed
            battery = status.battery
            said = (status.state, status.trouble, bypassed, battery)
            if self._sensors_said.get(spec.id) != said:
                self._sensors_said[spec.id] = said
                self._out.sensor(spec.id, status, bypassed=bypassed, battery=battery)
