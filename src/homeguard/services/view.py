"""What the controller shows those watching it (the dashboard, ``homeguard status``):
a :class:`View` of the panel after each turn, with the controller's :class:`Stats`."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace

from homeguard.core.panel import Panel
from homeguard.core.records import DeviceRecord

__all__ = ["Stats", "View", "Watchers"]

log = logging.getLogger("homeguard.controller")


@dataclass
class Stats:
    """What the controller has seen since it started, for status and the dashboard."""

    started_at: float = 0.0
    messages: int = 0
    sensor_events: int = 0
    system_events: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    actuators: dict[str, bool] = field(default_factory=dict)
    # Filled in by Controller.view(), from the writer:
    store_waiting: int = 0  # events not committed yet (held while the store fails)
    store_dropped: int = 0  # sensor events dropped because the store could not take them

    def copy(self, store_waiting: int, store_dropped: int) -> Stats:
        """A copy to hand to another thread, with the writer's figures filled in."""
        return replace(
            self,
            rejected=Counter(self.rejected),
            actuators=dict(self.actuators),
            store_waiting=store_waiting,
            store_dropped=store_dropped,
        )


@dataclass(frozen=True)
class View:
    """What the panel looks like after a turn, for those watching (the dashboard)."""

    panel: Panel
    devices: Mapping[str, DeviceRecord]
    stats: Stats
    at: float


class Watchers:
    """The listeners of a controller, told after every turn that changed something."""

    def __init__(self) -> None:
        self._listeners: list[Callable[[View], None]] = []
        self.changed = True  # since the watchers were last told

    def add(self, listener: Callable[[View], None]) -> None:
        self._listeners.append(listener)
        self.changed = True

    def tell(self, view: Callable[[], View]) -> None:
        """Call each listener with ``view()`` if something changed since last time."""
        if not (self.changed and self._listeners):
            return
        self.changed = False
        current = view()
        for listener in self._listeners:
            try:
                listener(current)
            except Exception:  # a watcher's bug must not stop the panel
                log.exception("panel watcher failed")
