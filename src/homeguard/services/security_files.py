"""A provisioned security folder: where its files are, and how a site uses it (the
credentials each client logs in with, what a local broker enforces).

Layout of the folder (0700; every secret file 0600)::

    DIR/
      ca.crt  ca.key            the site's CA (ca.key never leaves this machine)
      server.crt  server.key    the broker's certificate (localhost, 127.0.0.1, hosts)
      crl.pem                   revoked client certificates, for Mosquitto's crlfile
      passwd                    Mosquitto password file ($7$ PBKDF2-SHA512 hashes)
      acl                       Mosquitto ACL file (see homeguard.services.accounts)
      mosquitto.conf            lines to add to a broker's config to use all of the above
      revoked.json              accounts revoked for good: never provisioned again
      devices/<name>.json       one per account: what that client needs (format below)
      devices/<name>.crt .key   its client certificate and key

``devices/<name>.json`` (format 1)::

    {"format": 1, "device_id": "front", "role": "sensor", "username": "front",
     "password": "<43 chars>", "secret": "<64 hex digits: 32 random bytes>",
     "topics": {"publish": ["home/security/door/front", ...], "subscribe": [...]},
     "broker": {"host": "127.0.0.1", "port": 1883, "tls": false},
     "ca_file": "/abs/DIR/ca.crt", "cert_file": "/abs/DIR/devices/front.crt",
     "key_file": "/abs/DIR/devices/front.key", "cert_serial": "<hex>"}

``secret`` is the device's key for message signing; the password is only for the
broker. ``homeguard provision`` and ``homeguard revoke`` (services.provisioning) write
the folder.
"""

from __future__ import annotations

import contextlib
import json
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from homeguard.adapters.broker_auth import BrokerSecurity, ListenerTls
from homeguard.adapters.mqtt import BrokerAddress, TlsFiles
from homeguard.config import Config
from homeguard.errors import ConfigError, HomeguardError

__all__ = [
    "FORMAT",
    "PROVISION_DIR",
    "DeviceCredentials",
    "SecurityFiles",
    "broker_security",
    "load_credentials",
    "private_dir",
    "provisioned_folder",
    "read_json_object",
    "revoked_accounts",
    "security_folder",
    "with_credentials",
]

FORMAT = 1
PROVISION_DIR = "security"  # under the data directory, unless security.provisioned


def private_dir(path: Path) -> None:
    """Create ``path`` for its owner only (0700), or tighten it; missing parents get
    the default mode."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.mkdir(mode=0o700, exist_ok=True)
    if stat.S_IMODE(path.stat().st_mode) != 0o700:
        with contextlib.suppress(PermissionError):  # not ours: its owner's to tighten
            path.chmod(0o700)


class SecurityFiles:
    """Where the files of a provisioned folder are (the layout above)."""

    __slots__ = (
        "acl_file",
        "broker_snippet",
        "ca_cert",
        "ca_key",
        "crl",
        "devices",
        "password_file",
        "revoked",
        "root",
        "server_cert",
        "server_key",
    )

    def __init__(self, root: Path) -> None:
        self.root = root
        self.ca_cert = root / "ca.crt"
        self.ca_key = root / "ca.key"
        self.server_cert = root / "server.crt"
        self.server_key = root / "server.key"
        self.crl = root / "crl.pem"
        self.password_file = root / "passwd"
        self.acl_file = root / "acl"
        self.broker_snippet = root / "mosquitto.conf"
        self.revoked = root / "revoked.json"
        self.devices = root / "devices"

    def device(self, name: str) -> Path:
        return self.devices / f"{name}.json"

    def device_cert(self, name: str) -> Path:
        return self.devices / f"{name}.crt"

    def device_key(self, name: str) -> Path:
        return self.devices / f"{name}.key"

    def exists(self) -> bool:
        return self.password_file.is_file() and self.devices.is_dir()


@dataclass(frozen=True)
class DeviceCredentials:
    """One account's ``devices/<name>.json``."""

    device_id: str
    role: str
    username: str
    password: str
    secret: str
    ca_file: Path
    cert_file: Path
    key_file: Path
    publish: tuple[str, ...] = ()
    subscribe: tuple[str, ...] = ()

    @classmethod
    def from_json(cls, data: Mapping[str, Any], relative_to: Path) -> DeviceCredentials:
        def path(key: str) -> Path:
            value = Path(str(data[key]))
            return value if value.is_absolute() else relative_to / value

        topics = data.get("topics") or {}
        return cls(
            device_id=str(data["device_id"]),
            role=str(data.get("role", "")),
            username=str(data["username"]),
            password=str(data["password"]),
            secret=str(data["secret"]),
            ca_file=path("ca_file"),
            cert_file=path("cert_file"),
            key_file=path("key_file"),
            publish=tuple(topics.get("publish", ())),
            subscribe=tuple(topics.get("subscribe", ())),
        )


def load_credentials(root: Path, name: str) -> DeviceCredentials | None:
    """The credentials of account ``name`` in a provisioned folder; None if it has none."""
    path = SecurityFiles(Path(root)).device(name)
    try:
        data = json.loads(path.read_text())
        return DeviceCredentials.from_json(data, path.parent)
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise HomeguardError(f"cannot read the credentials in {path}: {err}") from None


def read_json_object(path: Path) -> dict[str, Any]:
    """The JSON object in ``path``; empty when there is no such file."""
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as err:
        raise HomeguardError(f"cannot read {path}: {err}") from None
    if not isinstance(data, dict):
        raise HomeguardError(f"{path} is not a JSON object")
    return data


def revoked_accounts(root: Path) -> frozenset[str]:
    """The accounts revoked in a provisioned folder (none when it has no revoked.json)."""
    return frozenset(read_json_object(SecurityFiles(Path(root)).revoked))


def security_folder(config: Config, data_dir: Path) -> Path:
    """Where the site's security files live, provisioned yet or not: ``security.provisioned``,
    else ``<data_dir>/security``."""
    return config.security.provisioned or Path(data_dir) / PROVISION_DIR


def provisioned_folder(provisioned: Path | None, data_dir: Path) -> Path | None:
    """The site's provisioned folder: ``security.provisioned`` (which must exist), else
    ``<data_dir>/security`` when it was provisioned, else None (no credentials)."""
    if provisioned is not None:
        if not SecurityFiles(provisioned).exists():
            raise ConfigError(
                f"security.provisioned: {provisioned} is not a provisioned folder "
                "(run homeguard provision --out there)"
            )
        return provisioned
    default = Path(data_dir) / PROVISION_DIR
    return default if SecurityFiles(default).exists() else None


def with_credentials(address: BrokerAddress, credentials: DeviceCredentials) -> BrokerAddress:
    """``address`` logging in as ``credentials``; when it uses TLS, the files it does not
    name come from the provisioned CA and the account's own certificate."""
    tls = address.tls
    if tls is not None:
        cert, key = (
            (tls.cert_file, tls.key_file)
            if tls.cert_file is not None
            else (credentials.cert_file, credentials.key_file)
        )
        tls = TlsFiles(tls.ca_file or credentials.ca_file, cert, key)
    return BrokerAddress(
        address.host, address.port, credentials.username, credentials.password, tls
    )


def broker_security(root: Path, *, tls: bool) -> BrokerSecurity:
    """What a local Mosquitto needs to enforce a provisioned folder."""
    files = SecurityFiles(Path(root).resolve())
    listener = None
    if tls:
        listener = ListenerTls(
            cafile=files.ca_cert,
            certfile=files.server_cert,
            keyfile=files.server_key,
            require_certificate=True,
            crlfile=files.crl,
        )
    return BrokerSecurity(files.password_file, files.acl_file, listener)
