"""Fernet payload encryption keyed by the device secret."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest
from cryptography.fernet import Fernet

from homeguard.adapters.sealing import BAD_ENCRYPTION, fernet_key, seal, unseal
from homeguard.errors import SecurityRejected

SECRET = b"front-door-secret"


def test_the_key_is_derived_as_documented() -> None:
    digest = hmac.new(SECRET, b"homeguard-fernet-v1", hashlib.sha256).digest()
    assert fernet_key(SECRET) == base64.urlsafe_b64encode(digest)
    assert fernet_key(SECRET) != fernet_key(b"another secret")
    with pytest.raises(ValueError, match="empty"):
        fernet_key(b"")


def test_a_sealed_payload_opens_with_the_same_secret_only() -> None:
    token = seal(SECRET, b'{"state": "OPEN"}', 1764288000.0)
    assert b"OPEN" not in token
    assert unseal(SECRET, token) == b'{"state": "OPEN"}'
    assert unseal(SECRET, b"  " + token + b"\n") == b'{"state": "OPEN"}'
    # Any Fernet implementation given the derived key reads it (the documented format).
    assert Fernet(fernet_key(SECRET)).decrypt(token) == b'{"state": "OPEN"}'


@pytest.mark.parametrize(
    "token",
    [
        seal(b"another secret", b"OPEN", 0),
        seal(SECRET, b"OPEN", 0)[:-2] + b"AA",
        b"OPEN",
        b"",
        b"\xff\xfe",
        b"gAAAAA" + b"A" * 9000,
    ],
)
def test_anything_else_is_bad_encryption(token: bytes) -> None:
    with pytest.raises(SecurityRejected) as caught:
        unseal(SECRET, token)
    assert caught.value.reason == BAD_ENCRYPTION
    assert SECRET.decode() not in str(caught.value)
