"""``homeguard provision`` and ``homeguard revoke``: the files a secured site needs.

The files, their layout and the format of ``devices/<name>.json`` are described in
services.security_files, which also reads them back. Provisioning again keeps every
existing password, secret, key and certificate (so deployed devices keep working), adds
new accounts, rewrites topics, ACL and password file, and re-issues only the server
certificate when a host was added.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from homeguard.adapters import pki
from homeguard.adapters.broker import MAX_PACKET_BYTES, MAX_QUEUED_BYTES, MAX_QUEUED_MESSAGES
from homeguard.adapters.broker_auth import AclRule, acl_file, hash_password, password_file
from homeguard.config import Config
from homeguard.errors import ConfigError
from homeguard.services.accounts import Account, site_accounts
from homeguard.services.security_files import (
    FORMAT,
    PROVISION_DIR,
    DeviceCredentials,
    SecurityFiles,
    broker_security,
    load_credentials,
    private_dir,
    provisioned_folder,
    read_json_object,
    revoked_accounts,
    security_folder,
    with_credentials,
)

__all__ = [
    "FORMAT",
    "PROVISION_DIR",
    "DeviceCredentials",
    "ProvisionReport",
    "SecurityFiles",
    "broker_security",
    "load_credentials",
    "private_dir",
    "provision",
    "provisioned_folder",
    "revoke",
    "revoked_accounts",
    "security_folder",
    "with_credentials",
]

_LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")


@dataclass
class ProvisionReport:
    """What one run of `provision` did."""

    root: Path
    added: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    skipped_revoked: list[str] = field(default_factory=list)
    not_in_config: list[str] = field(default_factory=list)
    server_certificate_issued: bool = False

    def lines(self) -> list[str]:
        """A summary for the person who ran it."""
        out = [f"provisioned {self.root}"]
        if self.added:
            out.append(f"  added:   {', '.join(self.added)}")
        if self.kept:
            out.append(f"  kept:    {', '.join(self.kept)} (credentials unchanged)")
        if self.skipped_revoked:
            out.append(f"  revoked, not re-added: {', '.join(self.skipped_revoked)}")
        if self.not_in_config:
            out.append(
                f"  not in the config any more: {', '.join(self.not_in_config)} "
                "(still valid: homeguard revoke NAME to remove)"
            )
        if self.server_certificate_issued:
            out.append("  new broker certificate: server.crt (restart the broker)")
        out.append(f"  broker: add {self.root / 'mosquitto.conf'} to mosquitto.conf, reload it")
        return out


# ------------------------------------------------------------------------ files


def _write(path: Path, text: str, mode: int = 0o600) -> None:
    """Write atomically, created with ``mode`` from the start (never readable by others)."""
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        temporary.chmod(mode)
        temporary.replace(path)
    except BaseException:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise


def _ca(files: SecurityFiles, now: float) -> pki.Issued:
    if files.ca_cert.is_file() and files.ca_key.is_file():
        cert = files.ca_cert.read_text()
        return pki.Issued(cert, files.ca_key.read_text(), pki.certificate_serial(cert))
    ca = pki.new_ca("homeguard site CA", now)
    _write(files.ca_key, ca.key_pem)
    _write(files.ca_cert, ca.cert_pem, 0o644)
    return ca


def _server_hosts(config: Config) -> list[str]:
    hosts = list(_LOOPBACK_HOSTS)
    if config.mqtt.host is not None:
        hosts.append(config.mqtt.host)
    hosts += config.security.hosts
    return list(dict.fromkeys(hosts))


def _server_certificate(files: SecurityFiles, ca: pki.Issued, hosts: list[str], now: float) -> bool:
    """Issue the broker's certificate unless the current one covers every host."""
    if files.server_cert.is_file() and files.server_key.is_file():
        current = files.server_cert.read_text()
        if set(hosts) <= pki.certificate_hosts(current):
            return False
    server = pki.issue(ca, "homeguard broker", now, hosts=hosts)
    _write(files.server_key, server.key_pem)
    _write(files.server_cert, server.cert_pem, 0o644)
    return True


# ------------------------------------------------------------------------ provision


def provision(config: Config, out: Path, now: float) -> ProvisionReport:
    """Create or complete the security folder ``out`` for ``config`` (see module doc)."""
    files = SecurityFiles(Path(out).resolve())
    accounts = site_accounts(config)
    private_dir(files.root)
    private_dir(files.devices)
    report = ProvisionReport(files.root)
    ca = _ca(files, now)
    report.server_certificate_issued = _server_certificate(files, ca, _server_hosts(config), now)
    revoked = read_json_object(files.revoked)
    for account in accounts:
        if account.name in revoked:
            report.skipped_revoked.append(account.name)
            continue
        existing = read_json_object(files.device(account.name))
        if existing:
            report.kept.append(account.name)
        else:
            report.added.append(account.name)
        _write_device(files, config=config, ca=ca, account=account, existing=existing, now=now)
    configured = {a.name for a in accounts}
    report.not_in_config = sorted(
        p.stem for p in files.devices.glob("*.json") if p.stem not in configured
    )
    _write_broker_files(files, ca, revoked, now)
    return report


def _write_device(
    files: SecurityFiles,
    *,
    config: Config,
    ca: pki.Issued,
    account: Account,
    existing: Mapping[str, Any],
    now: float,
) -> None:
    name = account.name
    cert_path, key_path = files.device_cert(name), files.device_key(name)
    if cert_path.is_file() and key_path.is_file():
        serial = pki.certificate_serial(cert_path.read_text())
    else:
        issued = pki.issue(ca, name, now)
        _write(key_path, issued.key_pem)
        _write(cert_path, issued.cert_pem, 0o644)
        serial = issued.serial
    data = {
        "format": FORMAT,
        "device_id": name,
        "role": account.role.value,
        "username": existing.get("username", name),
        "password": existing.get("password") or secrets.token_urlsafe(32),
        "secret": existing.get("secret") or secrets.token_hex(32),
        "topics": {"publish": list(account.publish), "subscribe": list(account.subscribe)},
        "broker": {
            "host": config.mqtt.host or "127.0.0.1",
            "port": config.mqtt.port,
            "tls": config.mqtt.tls is not None,
        },
        "ca_file": str(files.ca_cert),
        "cert_file": str(cert_path),
        "key_file": str(key_path),
        "cert_serial": f"{serial:x}",
    }
    _write(files.device(name), json.dumps(data, indent=2) + "\n")


def _all_devices(files: SecurityFiles) -> list[dict[str, Any]]:
    return [read_json_object(path) for path in sorted(files.devices.glob("*.json"))]


def _write_broker_files(
    files: SecurityFiles, ca: pki.Issued, revoked: Mapping[str, Any], now: float
) -> None:
    """Password file, ACL, CRL and config snippet, from every device file present."""
    devices = _all_devices(files)
    hashes = {d["username"]: hash_password(d["password"]) for d in devices}
    rules = [
        AclRule(
            d["username"],
            read=tuple(d["topics"]["subscribe"]),
            write=tuple(d["topics"]["publish"]),
        )
        for d in devices
    ]
    _write(files.password_file, password_file(hashes))
    header = "Generated by `homeguard provision`: each account reads and writes only here."
    _write(files.acl_file, acl_file(rules, header))
    serials = [int(str(entry["cert_serial"]), 16) for entry in revoked.values()]
    _write(files.crl, pki.crl(ca, serials, now), 0o644)
    _write(files.broker_snippet, broker_snippet(files))


def broker_snippet(files: SecurityFiles, tls_port: int = 8883) -> str:
    """Lines for an existing Mosquitto's config: authentication, ACL, client ids bound
    to logins, size and queue limits, and a TLS listener where the certificate is the
    login."""
    return "\n".join(
        [
            "# Generated by `homeguard provision`: add to your mosquitto.conf.",
            "allow_anonymous false",
            f"password_file {files.password_file}",
            f"acl_file {files.acl_file}",
            "# A client's id is its login: no login can take over another's session.",
            "use_username_as_clientid true",
            "# Bounded messages and queues (homeguard's docs/broker.md has the sizing rule).",
            f"max_packet_size {MAX_PACKET_BYTES}",
            f"max_queued_messages {MAX_QUEUED_MESSAGES}",
            f"max_queued_bytes {MAX_QUEUED_BYTES}",
            f"listener {tls_port}",
            f"cafile {files.ca_cert}",
            f"certfile {files.server_cert}",
            f"keyfile {files.server_key}",
            f"crlfile {files.crl}",
            "require_certificate true",
            "# The certificate's name is the login: a password cannot borrow another's.",
            "use_identity_as_username true",
            "",
        ]
    )


# ------------------------------------------------------------------------ revoke


def revoke(name: str, out: Path, now: float) -> None:
    """Remove ``name`` from the password file and ACL, list its certificate in the CRL
    and delete its secret, key and certificate. A broker must reload (SIGHUP: Mosquitto
    2 rereads the password file, ACL and CRL) to drop it."""
    files = SecurityFiles(Path(out).resolve())
    if not files.exists():
        raise ConfigError(f"{files.root} is not a provisioned folder (run homeguard provision)")
    device = read_json_object(files.device(name))
    if not device:
        known = ", ".join(sorted(p.stem for p in files.devices.glob("*.json")))
        raise ConfigError(f"no account {name!r} in {files.root} (known: {known})")
    revoked = read_json_object(files.revoked)
    revoked[name] = {"cert_serial": device["cert_serial"], "revoked_at": now}
    _write(files.revoked, json.dumps(revoked, indent=2) + "\n")
    for path in (files.device(name), files.device_key(name), files.device_cert(name)):
        path.unlink(missing_ok=True)
    ca = pki.Issued(
        files.ca_cert.read_text(),
        files.ca_key.read_text(),
        pki.certificate_serial(files.ca_cert.read_text()),
    )
    _write_broker_files(files, ca, revoked, now)
