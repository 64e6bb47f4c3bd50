"""What the web layer needs from the rest of homeguard, as protocols it defines itself.

The web adapter sits beside the other adapters and imports nothing from the services:
the wiring module hands it a :class:`Backend` whose parts the controller, the event store
and the MQTT client already satisfy.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from homeguard.core.health import DeviceHealth
from homeguard.core.model import PanelSettings
from homeguard.core.panel import Outcome, Panel
from homeguard.core.records import Delivery, DeviceRecord, EventQuery, EventRecord
from homeguard.core.signals import ActuatorKind, Input


class StatsView(Protocol):
    @property
    def started_at(self) -> float: ...
    @property
    def messages(self) -> int: ...
    @property
    def sensor_events(self) -> int: ...
    @property
    def rejected(self) -> Counter[str]: ...
    @property
    def actuators(self) -> dict[str, bool]: ...
    @property
    def store_waiting(self) -> int: ...
    @property
    def store_dropped(self) -> int: ...


class PanelView(Protocol):
    """One turn's picture of the panel (the controller's ``View``)."""

    @property
    def panel(self) -> Panel: ...
    @property
    def devices(self) -> Mapping[str, DeviceRecord]: ...
    @property
    def stats(self) -> StatsView: ...
    @property
    def at(self) -> float: ...


class PanelLink(Protocol):
    """The controller, seen from another thread."""

    def request(self, event: Input, timeout: float = 10.0) -> Outcome: ...
    def watch(self, listener: Callable[[PanelView], None]) -> None: ...
    def view(self) -> PanelView: ...


class EventQueries(Protocol):
    """The read side of the event store; safe to call from any thread."""

    def events(
        self, query: EventQuery, *, limit: int | None = 1000, offset: int = 0
    ) -> list[EventRecord]: ...
    def count_events(self, query: EventQuery) -> int: ...
    def event_counts(
        self, *, since: float, until: float, bucket: float, offset: float = 0.0
    ) -> list[tuple[float, int, int, int]]: ...
    def battery_levels(self, devices: Sequence[str], *, scan: int = 50) -> dict[str, float]: ...
    def size_bytes(self) -> int: ...


class SensorHealth(Protocol):
    """Every configured sensor's health at ``now`` (services.health.HealthReader)."""

    def __call__(self, now: float, *, reported_only: bool = False) -> list[DeviceHealth]: ...


class NotificationLog(Protocol):
    """The notification outbox, read side (duress rows never in it)."""

    def recent(self, limit: int = 50) -> list[Delivery]: ...
    def counts(self) -> dict[str, int]: ...


@dataclass(frozen=True)
class WebSettings:
    """How the dashboard is served and who may log in."""

    users: Mapping[str, str] = field(default_factory=dict)  # name → password hash
    loopback_without_login: bool = False
    session_seconds: float = 12 * 3600.0
    # Proxies (IP addresses or networks) whose X-Forwarded-For/-Proto are believed.
    trusted_proxies: tuple[str, ...] = ()


@dataclass(frozen=True)
class Backend:
    """Everything the web app uses, handed over by the wiring module."""

    panel: PanelLink
    settings: PanelSettings
    store: EventQueries
    actuators: Sequence[tuple[str, ActuatorKind]]  # configured (id, kind)
    broker: Callable[[], str]  # a description of the broker connection
    broker_connected: Callable[[], bool]
    clock: Callable[[], float]
    health: SensorHealth
    web: WebSettings = WebSettings()
    # The uplink's figures (UplinkFigures' fields), or None when there is no uplink.
    uplink: Callable[[], Mapping[str, Any] | None] = lambda: None
    notifications: NotificationLog | None = None  # none: no routes configured
