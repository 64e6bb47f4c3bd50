"""Which sensors sign (and encrypt) their messages, with which secret, and the checks.

:class:`MessageSecurity` is what the controller consults for every sensor message and
every panel command: it opens a signed (or encrypted) sensor payload into the plain
payload the codecs decode, and marks commands from the MQTT command topic as trusted
when ``panel.mqtt_commands`` is ``trusted``. :class:`DeviceSigner` is the device's side,
used by the simulated sensors. :func:`load_security` reads the secrets once, at start.

Secrets are bytes in frozen dataclasses that leave them out of their repr; no message,
log line or event made here contains one.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

from homeguard.adapters.sealing import seal, unseal
from homeguard.config import Config
from homeguard.core import signing
from homeguard.core.signals import Command
from homeguard.errors import ConfigError, SecurityRejected
from homeguard.services.provisioning import revoked_accounts, security_folder

__all__ = ["DeviceKey", "DeviceSigner", "MessageSecurity", "load_security"]


@dataclass(frozen=True, slots=True)
class DeviceKey:
    """One signing device's secret (never in a repr) and whether it also encrypts."""

    secret: bytes = field(repr=False)
    encrypted: bool = False


@dataclass(frozen=True)
class MessageSecurity:
    """The site's message checks; the default checks nothing (no sensor signs)."""

    keys: Mapping[str, DeviceKey] = field(default_factory=lambda: MappingProxyType({}))
    window: float = 30.0
    trusted_commands: bool = False
    # Configured sensors whose login was revoked (`homeguard revoke`): nothing they
    # say is believed, and each is a trouble until removed from the config.
    revoked: frozenset[str] = frozenset()

    def open_sensor(
        self, sensor_id: str, payload: bytes, last_seq: int | None, now: float
    ) -> tuple[bytes, int | None]:
        """The payload for the codecs and the seq to remember (None: not signed).

        Raises SecurityRejected for a message of a signing sensor that fails a check.
        """
        if sensor_id in self.revoked:
            raise SecurityRejected("revoked", "the device's login was revoked")
        key = self.keys.get(sensor_id)
        if key is None:
            return payload, None
        if key.encrypted:
            payload = unseal(key.secret, payload)
        verified = signing.verify(
            payload,
            device_id=sensor_id,
            secret=key.secret,
            last_seq=last_seq,
            now=now,
            window=self.window,
        )
        return verified.body, verified.seq

    def command(self, command: Command) -> Command:
        """A command decoded from the MQTT command topic, trusted when so configured."""
        return replace(command, trusted=True) if self.trusted_commands else command


@dataclass(frozen=True)
class DeviceSigner:
    """A device's side: sign (and seal) the fields of one report."""

    device_id: str
    key: DeviceKey

    def payload(self, fields: Mapping[str, Any], now: float) -> bytes:
        body = json.dumps(signing.sign(self.key.secret, self.device_id, fields)).encode()
        return seal(self.key.secret, body, now) if self.key.encrypted else body


def load_security(config: Config, data_dir: Path) -> MessageSecurity:
    """Every signing sensor's secret: inline, or from the provisioning directory; and
    the configured sensors that were revoked there (a revoked signing sensor has no
    secret any more: it is not an error, it is a trouble the controller reports).

    Raises ConfigError naming the sensor and the file (never the secret) when one is
    missing or unreadable.
    """
    directory = security_folder(config, data_dir)
    revoked = revoked_accounts(directory) & {sensor.id for sensor in config.sensors}
    keys: dict[str, DeviceKey] = {}
    for sensor in config.sensors:
        if not sensor.signed or sensor.id in revoked:
            continue
        if sensor.secret is not None:
            secret = sensor.secret.get_secret_value()
        else:
            secret = _provisioned_secret(directory / "devices" / f"{sensor.id}.json", sensor.id)
        keys[sensor.id] = DeviceKey(secret.encode("utf-8"), sensor.encrypted)
    return MessageSecurity(
        keys=MappingProxyType(keys),
        window=config.signing.window,
        trusted_commands=config.panel.mqtt_commands == "trusted",
        revoked=revoked,
    )


def _provisioned_secret(path: Path, sensor_id: str) -> str:
    problem = f"sensor {sensor_id!r} is signed but {path}"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(
            f"{problem} does not exist: give the sensor a secret or provision it"
        ) from None
    except (OSError, ValueError):
        raise ConfigError(f"{problem} is not a readable JSON file") from None
    secret = data.get("secret") if isinstance(data, dict) else None
    if not isinstance(secret, str) or not secret:
        raise ConfigError(f'{problem} has no "secret" string')
    return secret
