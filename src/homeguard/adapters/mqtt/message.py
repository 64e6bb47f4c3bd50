"""The values the MQTT client takes and gives: addresses, wills, received messages."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

# The largest payload we publish, and the largest the broker homeguard configures
# accepts (with its topic: adapters.broker.MAX_PACKET_BYTES). Far above any homeguard
# message; a bigger one would make that broker drop the connection, and we would send
# it again after reconnecting, for ever.
MAX_PAYLOAD = 256 * 1024


@dataclass(frozen=True, slots=True)
class Message:
    """A message received from the broker; ``mid`` is what `MqttClient.ack` needs."""

    topic: str
    payload: bytes
    qos: int
    retain: bool
    mid: int
    dup: bool


@dataclass(frozen=True, slots=True)
class TlsFiles:
    """Certificates for a TLS connection; ``cert_file``/``key_file`` for client auth."""

    ca_file: Path | str | None = None  # None: the system's trusted CAs
    cert_file: Path | str | None = None
    key_file: Path | str | None = None


@dataclass(frozen=True, slots=True)
class BrokerAddress:
    """Where the broker is and how we log in."""

    host: str
    port: int
    username: str | None = None
    password: str | None = None
    tls: TlsFiles | None = None

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass(frozen=True, slots=True)
class Will:
    """The Last Will: published by the broker if we vanish without a clean disconnect."""

    topic: str
    payload: bytes | str
    qos: int = 1
    retain: bool = True


def as_bytes(payload: bytes | str) -> bytes:
    return payload.encode("utf-8") if isinstance(payload, str) else bytes(payload)


def check_qos(qos: int) -> None:
    if qos not in (0, 1, 2):
        raise ValueError(f"MQTT QoS must be 0, 1 or 2, not {qos!r}")
