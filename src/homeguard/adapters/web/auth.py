"""Logins, sessions, CSRF tokens and the lockout after repeated wrong passwords.

A session is a random token in an HttpOnly, SameSite=Strict cookie; each session has its
own CSRF token, which the page reads from ``GET /api/session`` and sends back in the
``X-CSRF-Token`` header of every state-changing request (a cross-site page can neither
read it nor set that header without a CORS preflight, which this server never allows).

Wrong passwords are counted per user name and per client address with the panel's own
:class:`~homeguard.core.codes.CodeLock`: five in five minutes lock logins for 60 s,
doubling for each lockout in a row.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
import secrets
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from homeguard.core.codes import CodeLock, hash_pin, verify_pin
from homeguard.core.model import CodePolicy
from homeguard.errors import LoginFailed, LoginLocked

COOKIE = "homeguard_session"
CSRF_HEADER = "X-CSRF-Token"
LOOPBACK_USER = "local"
MAX_SESSIONS = 1000
LOGIN_POLICY = CodePolicy(max_failures=5, window=300.0, lockout=60.0)


@dataclass(frozen=True)
class Session:
    token: str
    user: str
    csrf: str
    expires: float


def is_loopback(address: str | None) -> bool:
    """Exactly a loopback address: an IP literal in 127.0.0.0/8, ``::1``, or the name
    ``localhost``; never a DNS name that merely starts with "127." (DNS rebinding)."""
    if address is None:
        return False
    if address.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def host_name(host_header: str | None) -> str | None:
    """The host part of a Host header ("[::1]:8080" → "::1"); None for a header that is
    not ``host`` or ``host:port`` (a port of digits only)."""
    if not host_header:
        return None
    if host_header.startswith("["):
        host, _, rest = host_header[1:].partition("]")
        return host if rest == "" or (rest[:1] == ":" and rest[1:].isdigit()) else None
    if host_header.count(":") > 1:  # only a bare IPv6 literal has several
        return host_header if _is_ip(host_header) else None
    host, colon, port = host_header.partition(":")
    return host if not colon or port.isdigit() else None


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


class Sessions:
    """Users from the config, the sessions they opened, and the login lockout."""

    def __init__(
        self,
        users: Mapping[str, str],
        *,
        clock: Callable[[], float],
        lifetime: float,
    ) -> None:
        self._users = dict(users)
        self._clock = clock
        self._lifetime = lifetime
        self._sessions: dict[str, Session] = {}
        self._locks: dict[str, CodeLock] = {}
        self._mutex = threading.Lock()
        # Unknown names are checked against this, so both cases take the same time.
        self._decoy = hash_pin(secrets.token_hex(8), os.urandom(16))

    def login(self, user: str, password: str, client: str) -> Session:
        """A new session, or LoginLocked / LoginFailed."""
        keys = (f"user:{user}", f"client:{client}")
        now = self._clock()
        with self._mutex:
            until = max(self._locks.get(k, CodeLock()).locked_until for k in keys)
        if until > now:
            raise LoginLocked(until - now)
        stored = self._users.get(user)
        good = verify_pin(stored or self._decoy, password) and stored is not None
        with self._mutex:
            if not good:
                for key in keys:
                    lock = self._locks.get(key, CodeLock()).after_failure(LOGIN_POLICY, now)
                    self._locks[key] = lock
                raise LoginFailed("unknown user or wrong password")
            for key in keys:
                self._locks.pop(key, None)
        return self.open(user)

    def open(self, user: str) -> Session:
        now = self._clock()
        session = Session(
            token=secrets.token_urlsafe(32),
            user=user,
            csrf=secrets.token_urlsafe(32),
            expires=now + self._lifetime,
        )
        with self._mutex:
            if len(self._sessions) >= MAX_SESSIONS:
                self._drop_expired(now)
                if len(self._sessions) >= MAX_SESSIONS:  # drop the one closest to expiry
                    oldest = min(self._sessions.values(), key=lambda s: s.expires)
                    del self._sessions[oldest.token]
            self._sessions[session.token] = session
        return session

    def get(self, token: str | None) -> Session | None:
        """The live session of ``token``, its lifetime renewed; None if none."""
        if not token:
            return None
        now = self._clock()
        with self._mutex:
            session = self._sessions.get(token)
            if session is None:
                return None
            if session.expires <= now:
                del self._sessions[token]
                return None
            renewed = Session(session.token, session.user, session.csrf, now + self._lifetime)
            self._sessions[token] = renewed
            return renewed

    def close(self, token: str) -> None:
        with self._mutex:
            self._sessions.pop(token, None)

    @staticmethod
    def csrf_ok(session: Session, sent: str | None) -> bool:
        return sent is not None and hmac.compare_digest(session.csrf.encode(), sent.encode())

    def _drop_expired(self, now: float) -> None:
        for token in [t for t, s in self._sessions.items() if s.expires <= now]:
            del self._sessions[token]
