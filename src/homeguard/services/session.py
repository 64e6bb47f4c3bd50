"""The controller's MQTT session, beyond the engine's effects: what it keeps said on the
broker (retained), and a session that another client keeps taking.

After each (re)connection (a broker restart may have lost what was retained) it says
again that it is online, the panel's state, what the siren and the light are to do, the
Home Assistant discovery configs and every sensor's topic; after each decision that
changed the panel, each sensor's topic (``<base>/alarm/sensors/<id>``) that says
something new. When the MQTT client says that another client keeps taking the
controller's session (the same client id: a second controller for the site, or a
takeover), a ``trouble`` (``session_taken_over``), and ``restored`` when it stops.
"""

from __future__ import annotations

from collections.abc import Mapping

from homeguard.core.model import PanelSettings
from homeguard.core.panel import Panel
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
        for actuator in panel.actuators:
            self._out.actuator(actuator.actuator, actuator.on)
        self._out.discovery(self._discovery)
        self._sensors_said.clear()
        self.sensors(panel)

    def sensors(self, panel: Panel) -> None:
        """Publish each sensor's state, trouble, bypass and battery when they changed."""
        for spec in self._settings.sensors:
            status = panel.sensor(spec.id)
            bypassed = spec.id in panel.bypassed
            battery = status.battery
            said = (status.state, status.trouble, bypassed, battery)
            if self._sensors_said.get(spec.id) != said:
                self._sensors_said[spec.id] = said
                self._out.sensor(spec.id, status, bypassed=bypassed, battery=battery)
