"""What the controller keeps said on the broker, retained, beyond the engine's effects.

After each (re)connection (a broker restart may have lost what was retained) it says
again that it is online, the panel's state, what the siren and the light are to do, the
Home Assistant discovery configs and every sensor's topic; after each decision that
changed the panel, each sensor's topic (``<base>/alarm/sensors/<id>``) that says
something new.
"""

from __future__ import annotations

from collections.abc import Mapping

from homeguard.core.model import PanelSettings
from homeguard.core.panel import Panel
from homeguard.services.outbound import Outbound

__all__ = ["Retained"]


class Retained:
    """See the module docstring. Used from the controller thread only."""

    def __init__(
        self, out: Outbound, settings: PanelSettings, discovery: Mapping[str, bytes]
    ) -> None:
        self._out = out
        self._settings = settings
        self._discovery = discovery
        # What was last said of each sensor (said again only when it changes).
        self._sensors_said: dict[str, tuple[object, ...]] = {}

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
