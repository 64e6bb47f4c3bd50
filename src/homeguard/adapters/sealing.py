"""Payload encryption with Fernet; the only module that imports :mod:`cryptography`.

For sensors whose messages cross a broker that is not trusted (``encrypted: true``).
The Fernet key is derived from the device's secret, so provisioning hands out one
secret per device::

    key = urlsafe_base64(HMAC-SHA256(secret, "homeguard-fernet-v1"))

The plaintext is the signed JSON payload (see :mod:`homeguard.core.signing`): Fernet
hides it and authenticates the token; the inner signature still gives replay protection.
Every failure becomes :class:`~homeguard.errors.SecurityRejected` (``bad_encryption``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from cryptography.fernet import Fernet, InvalidToken

from homeguard.errors import SecurityRejected

__all__ = ["BAD_ENCRYPTION", "fernet_key", "seal", "unseal"]

BAD_ENCRYPTION = "bad_encryption"
_KEY_DOMAIN = b"homeguard-fernet-v1"
_MAX_TOKEN = 8192  # bytes: a 4 KiB payload, base64'd with Fernet's overhead


def fernet_key(secret: bytes) -> bytes:
    """The Fernet key (url-safe base64 of 32 bytes) belonging to a device secret."""
    if not secret:
        raise ValueError("an encryption secret must not be empty")
    return base64.urlsafe_b64encode(hmac.new(secret, _KEY_DOMAIN, hashlib.sha256).digest())


def seal(secret: bytes, plaintext: bytes, now: float) -> bytes:
    """A Fernet token of ``plaintext``, stamped with ``now``."""
    return Fernet(fernet_key(secret)).encrypt_at_time(plaintext, int(now))


def unseal(secret: bytes, token: bytes) -> bytes:
    """The plaintext of a token made with the same secret."""
    if len(token) > _MAX_TOKEN:
        raise SecurityRejected(BAD_ENCRYPTION, f"{len(token)} bytes, limit {_MAX_TOKEN}")
    try:
        return Fernet(fernet_key(secret)).decrypt(token.strip())
    except (InvalidToken, ValueError, TypeError):
        raise SecurityRejected(BAD_ENCRYPTION, "not a token made with this device's key") from None
