"""PIN hashing and checking, and the wrong-code lockout.

PINs are hashed with scrypt (memory-hard, in the standard library). A hash reads
``scrypt$<log2 n>$<r>$<p>$<salt b64>$<digest b64>`` so that its cost travels with it.

The panel's keypad checks with :func:`check_code`, which remembers, in this process's
memory only, a SHA-256 of each hash's code once it has been checked right (or given in
plain in the config): every later check against that hash, right or wrong, is then a
comparison instead of scrypt's 30 ms on the controller's thread, in front of whatever
arrives next, an alarm included. The dashboard's logins keep :func:`verify_pin`: there
a check that is fast only for accounts that logged in before would tell which did.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass, replace

from homeguard.core.model import CodePolicy

SCHEME = "scrypt"
DEFAULT_LOG2_N = 14  # 16 MiB of memory per check with r=8
_DIGEST_BYTES = 32


def hash_pin(pin: str, salt: bytes, *, log2_n: int = DEFAULT_LOG2_N, r: int = 8, p: int = 1) -> str:
    """Hash ``pin`` with a caller-supplied random ``salt`` (the core draws no randomness)."""
    if not pin:
        raise ValueError("a PIN must not be empty")
    if len(salt) < 8:
        raise ValueError("salt must be at least 8 bytes")
    digest = _scrypt(pin, salt, log2_n, r, p)
    return "$".join(
        (SCHEME, str(log2_n), str(r), str(p), _b64(salt), _b64(digest)),
    )


# A well-formed hash that no code matches (its digest is zeros): the users' codes of a
# config loaded by a command that never checks one (config.load_config(hash_codes=False)),
# where hashing each plain PIN and password would cost scrypt's 30 ms for nothing.
_ZEROS = base64.b64encode(bytes(_DIGEST_BYTES)).decode()
NO_CODE = f"{SCHEME}${DEFAULT_LOG2_N}$8$1${_ZEROS}${_ZEROS}"


def is_pin_hash(text: str) -> bool:
    try:
        _parse(text)
    except ValueError:
        return False
    return True


def verify_pin(pin_hash: str, pin: str) -> bool:
    """True when ``pin`` matches ``pin_hash``; constant-time in the digest comparison."""
    log2_n, r, p, salt, digest = _parse(pin_hash)
    if not pin:
        return False
    return hmac.compare_digest(_scrypt(pin, salt, log2_n, r, p), digest)


def check_code(pin_hash: str, pin: str) -> bool:
    """:func:`verify_pin`, with the code remembered once right (see the module)."""
    digest = _digest(pin_hash, pin)
    known = _known.get(pin_hash)
    if known is not None:
        return hmac.compare_digest(known, digest)
    if not verify_pin(pin_hash, pin):
        return False
    _known[pin_hash] = digest
    return True


def remember_code(pin_hash: str, pin: str) -> None:
    """``pin`` is the code of ``pin_hash`` (it was hashed from it just now)."""
    _known[pin_hash] = _digest(pin_hash, pin)


_known: dict[str, bytes] = {}  # a hash -> the digest of its code, once known


def _digest(pin_hash: str, pin: str) -> bytes:
    return hashlib.sha256(f"{pin_hash}\0{pin}".encode()).digest()


def _scrypt(pin: str, salt: bytes, log2_n: int, r: int, p: int) -> bytes:
    n = 1 << log2_n
    return hashlib.scrypt(
        pin.encode(),
        salt=salt,
        n=n,
        r=r,
        p=p,
        maxmem=256 * n * r + (1 << 20),
        dklen=_DIGEST_BYTES,
    )


def _parse(text: str) -> tuple[int, int, int, bytes, bytes]:
    parts = text.split("$")
    if len(parts) != 6 or parts[0] != SCHEME:
        raise ValueError("not a homeguard PIN hash (expected scrypt$n$r$p$salt$digest)")
    try:
        log2_n, r, p = int(parts[1]), int(parts[2]), int(parts[3])
        salt, digest = (
            base64.b64decode(parts[4], validate=True),
            base64.b64decode(parts[5], validate=True),
        )
    except ValueError as exc:
        raise ValueError("malformed PIN hash") from exc
    if not (1 <= log2_n <= 20 and 1 <= r <= 32 and 1 <= p <= 16) or len(digest) != _DIGEST_BYTES:
        raise ValueError("PIN hash parameters out of range")
    return log2_n, r, p, salt, digest


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@dataclass(frozen=True, slots=True)
class CodeLock:
    """Recent wrong codes and the lockout they caused, as plain data."""

    failures: tuple[float, ...] = ()
    locked_until: float = 0.0
    lockouts: int = 0  # lockouts since the last good code, for the doubling

    def locked(self, now: float) -> bool:
        return now < self.locked_until

    def after_failure(self, policy: CodePolicy, now: float) -> CodeLock:
        recent = (*(t for t in self.failures if now - t < policy.window), now)
        if len(recent) < policy.max_failures:
            return replace(self, failures=recent)
        duration = policy.lockout_for(self.lockouts)
        return CodeLock(failures=(), locked_until=now + duration, lockouts=self.lockouts + 1)

    def after_success(self) -> CodeLock:
        return CodeLock()
