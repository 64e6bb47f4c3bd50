"""Every error homeguard raises, grouped by what the caller can do about it.

::

    HomeguardError
    ├── ConfigError            the configuration is wrong: fix the file (names key and line)
    ├── PayloadError           a message could not be understood: it is rejected and counted
    │   └── SecurityRejected   a signed or encrypted message failed its checks (bad
    │                          signature, replayed, stale): also a "security" event
    ├── CommandRejected        the panel refused a command (wrong code, open sensors, ...)
    ├── StoreError             the event store failed, e.g. its file has a schema newer
    │   │                      than this homeguard knows
    │   ├── StoreUnavailable   it cannot write for now (disk full, read-only, locked, I/O
    │   │                      error): the controller keeps the records and retries
    │   └── StoreRejected      it refuses what it was asked (a record it cannot hold, SQL
    │                          that does not fit the schema, a closed store): a bug,
    │                          which retrying would not cure; never a storage trouble
    ├── ControllerRunning      a controller for this site is alive already: stop it first
    ├── FeatureUnavailable     an optional extra is not installed: the message says which
    ├── BrokerError            the MQTT broker could not be reached or refused us
    │   └── BrokerUnavailable  nothing answers at the configured address
    ├── PkiError               a certificate or key could not be read or made
    ├── NotifyError            a notification could not be delivered (the service is
    │                          down, refused it, or its URL is wrong): the outbox keeps
    │                          it and retries; the message names no secret
    └── LoginRefused           the dashboard refused a login
        ├── LoginFailed        unknown user or wrong password (never which of the two)
        └── LoginLocked        too many wrong passwords: wait ``retry_after`` seconds

Third-party exceptions never leave the adapter that imports their library; they are
translated into one of these at the boundary.
"""

from __future__ import annotations


class HomeguardError(Exception):
    """Root of every error homeguard raises on purpose."""


class ConfigError(HomeguardError):
    """The configuration file is invalid; the message names the key and the line."""


class PayloadError(HomeguardError):
    """A message payload or topic could not be decoded; ``reason`` is a short tag."""

    def __init__(self, reason: str, detail: str = "") -> None:
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason}: {detail}" if detail else reason)


class SecurityRejected(PayloadError):
    """A message that must be signed (or encrypted) failed its checks; the detail never
    holds a secret, a signature or the payload."""


class CommandRejected(HomeguardError):
    """The panel refused a command; ``reason`` says why, ``sensors`` which ones block."""

    def __init__(self, reason: str, message: str, sensors: tuple[str, ...] = ()) -> None:
        self.reason = reason
        self.sensors = sensors
        super().__init__(message)


class StoreError(HomeguardError):
    """The event store could not open, read or write."""


class StoreUnavailable(StoreError):
    """The event store cannot write for now (disk full, read-only file, database locked,
    I/O error): the same write may succeed later."""


class StoreRejected(StoreError):
    """The event store refuses the operation as asked (a value that is not JSON, a
    constraint, SQL that does not fit the schema, a closed store): the same call would
    fail again, so it is a bug to report, not a condition to wait out."""


class ControllerRunning(HomeguardError):
    """Another controller for the site is alive (its lock is held, or it answers on the
    broker); the message names it."""


class FeatureUnavailable(HomeguardError):
    """A feature needs an optional extra that is not installed (``homeguard[ml]``); the
    message says how to install it. Everything else works without it."""


class BrokerError(HomeguardError):
    """The MQTT broker refused us or the connection failed."""


class BrokerUnavailable(BrokerError):
    """Nothing answers at the configured broker address."""


class PkiError(HomeguardError):
    """A certificate or key could not be read or made."""


class NotifyError(HomeguardError):
    """A notification target did not take a message; the message says why and never
    holds the target's URL, password or token."""


class LoginRefused(HomeguardError):
    """The dashboard refused a login."""


class LoginFailed(LoginRefused):
    """Unknown user or wrong password (never which of the two)."""


class LoginLocked(LoginRefused):
    """Too many wrong passwords: ``retry_after`` seconds to wait."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"too many failed logins: try again in {retry_after:.0f} s")
        self.retry_after = retry_after
