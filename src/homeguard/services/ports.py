"""What the controller needs of the outside world: the MQTT client (:class:`Publisher`)
and the event store (:class:`EventLog`). The adapters provide them; a test can hand the
controller fakes of both (tests/services/test_controller.py)."""

from __future__ import annotations

from typing import Protocol

from homeguard.adapters.mqtt import Message
from homeguard.core.records import Batch, DeviceRecord

__all__ = ["EventLog", "Network", "Publisher", "Sink"]


class Sink(Protocol):
    """What publishing needs of the MQTT client (services.outbound)."""

    def publish(
        self,
        topic: str,
        payload: bytes | str,
        qos: int = 1,
        retain: bool = False,
        *,
        urgent: bool = False,
        replaceable: bool = False,
    ) -> None: ...


class Publisher(Sink, Protocol):
    """The part of the MQTT client the controller uses."""

    @property
    def connection_count(self) -> int: ...
    @property
    def session_contested(self) -> bool: ...
    def ack(self, *messages: Message) -> None: ...


class Network(Protocol):
    """An MQTT client whose network loop the controller runs on its own thread."""

    def poll(self, timeout: float, *, read: bool = True) -> None: ...
    def wake(self) -> None: ...


class EventLog(Protocol):
    """The part of the event store the controller uses."""

    def write(self, batch: Batch) -> object: ...
    def load_snapshot(self) -> str | None: ...
    def load_panel_sensors(self) -> dict[str, str]: ...
    def devices(self) -> list[DeviceRecord]: ...
    def prune(self, before: float) -> int: ...
