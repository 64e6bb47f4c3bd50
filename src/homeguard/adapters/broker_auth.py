"""Mosquitto's authentication files: the password file and the ACL file.

* `hash_password` writes Mosquitto 2's ``$7$`` password hash: PBKDF2-HMAC-SHA512 over
  the password with a random 12-byte salt, 101 iterations (Mosquitto's own default),
  as ``$7$<iterations>$<base64 salt>$<base64 64-byte digest>``; the same line
  ``mosquitto_passwd`` writes. The passwords homeguard generates are 32 random bytes,
  so the low iteration count costs nothing against guessing and keeps each CONNECT cheap.
* `password_file` and `acl_file` render whole files from plain data; `AclRule` is one
  user's read and write topic filters.

No library: the formats are small and documented in mosquitto.conf(5) and
mosquitto_passwd(1).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import socket
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from homeguard.core.topic import filter_problem

__all__ = [
    "AclRule",
    "BrokerSecurity",
    "ListenerTls",
    "acl_file",
    "hash_password",
    "password_file",
    "verify_password",
]

_SCHEME = "7"
_ITERATIONS = 101
_SALT_BYTES = 12


def hash_password(
    password: str, *, salt: bytes | None = None, iterations: int = _ITERATIONS
) -> str:
    """A Mosquitto 2 ``$7$`` (PBKDF2-SHA512) hash of ``password``."""
    salt = secrets.token_bytes(_SALT_BYTES) if salt is None else salt
    digest = hashlib.pbkdf2_hmac("sha512", password.encode("utf-8"), salt, iterations)
    return (
        f"${_SCHEME}${iterations}${base64.b64encode(salt).decode()}"
        f"${base64.b64encode(digest).decode()}"
    )


def verify_password(password_hash: str, password: str) -> bool:
    """True when ``password`` matches a ``$7$`` hash; False for any other scheme."""
    parts = password_hash.split("$")
    if len(parts) != 5 or parts[0] or parts[1] != _SCHEME or not parts[2].isdigit():
        return False
    try:
        salt = base64.b64decode(parts[3], validate=True)
        expected = base64.b64decode(parts[4], validate=True)
    except ValueError:
        return False
    digest = hashlib.pbkdf2_hmac("sha512", password.encode("utf-8"), salt, int(parts[2]))
    return hmac.compare_digest(digest, expected)


def _check_name(username: str) -> None:
    if not username or any(c in username for c in ":\n\r\0 ") or not username.isprintable():
        raise ValueError(f"{username!r} cannot be a Mosquitto user name")


def password_file(hashes: Mapping[str, str]) -> str:
    """The password file for ``{username: $7$ hash}``, sorted by name."""
    lines = []
    for username in sorted(hashes):
        _check_name(username)
        lines.append(f"{username}:{hashes[username]}")
    return "\n".join(lines) + "\n" if lines else ""


@dataclass(frozen=True, slots=True)
class AclRule:
    """What one user may read (subscribe to and receive) and write (publish)."""

    username: str
    read: tuple[str, ...] = ()
    write: tuple[str, ...] = ()


def _check_filter(topic_filter: str) -> None:
    if (problem := filter_problem(topic_filter)) is not None:
        raise ValueError(f"{topic_filter!r} cannot be an ACL topic: it {problem}")


def acl_file(rules: Iterable[AclRule], header: str = "") -> str:
    """The ACL file: one ``user`` block per rule. Anything not listed is denied."""
    lines = [f"# {line}".rstrip() for line in header.splitlines()]
    for rule in sorted(rules, key=lambda r: r.username):
        _check_name(rule.username)
        lines += ["", f"user {rule.username}"]
        both = [t for t in rule.read if t in rule.write]
        for access, topics in (
            ("readwrite", both),
            ("read", [t for t in rule.read if t not in both]),
            ("write", [t for t in rule.write if t not in both]),
        ):
            for topic in dict.fromkeys(topics):
                _check_filter(topic)
                lines.append(f"topic {access} {topic}")
    return "\n".join(lines) + "\n"


@dataclass(frozen=True, slots=True)
class ListenerTls:
    """TLS settings of a Mosquitto listener (mosquitto.conf(5), "Certificate based SSL/TLS")."""

    cafile: Path
    certfile: Path
    keyfile: Path
    require_certificate: bool = True
    crlfile: Path | None = None

    def config_lines(self) -> list[str]:
        """The lines that follow the ``listener`` line they apply to."""
        lines = [
            "# TLS: the broker proves who it is with certfile; clients verify it with cafile.",
            f"cafile {Path(self.cafile).resolve()}",
            f"certfile {Path(self.certfile).resolve()}",
            f"keyfile {Path(self.keyfile).resolve()}",
        ]
        if self.require_certificate:
            lines += [
                "# Every client must also show a certificate signed by cafile, and the",
                "# certificate's name is its login: a password cannot borrow another's.",
                "require_certificate true",
                "use_identity_as_username true",
            ]
        if self.crlfile is not None:
            lines += [
                "# Certificates of revoked devices (homeguard revoke) are refused.",
                f"crlfile {Path(self.crlfile).resolve()}",
            ]
        return lines


@dataclass(frozen=True, slots=True)
class BrokerSecurity:
    """What a local Mosquitto enforces: logins, the ACL, and TLS on its listener."""

    password_file: Path
    acl_file: Path
    tls: ListenerTls | None = None


def accepts_tcp(host: str, port: int, timeout: float = 0.5) -> bool:
    """True when something accepts a TCP connection at host:port (e.g. a TLS listener,
    which a plain MQTT probe cannot talk to)."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False
