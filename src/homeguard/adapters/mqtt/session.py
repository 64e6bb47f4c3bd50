"""What the broker says about our connection: a refused CONNECT, and a session that
another client takes over.

MQTT 3.1.1 brokers close the older of two connections with one client id, without a
reason. A connection the broker closes within `KICK_WINDOW` s of accepting it,
`KICKS_TO_REPORT` times in a row, means another client uses our id (a second instance,
or a takeover). Pure: time is an argument.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["KICKS_TO_REPORT", "KICK_WINDOW", "TakeoverWatch", "refusal"]

# CONNACK reason codes (paho maps MQTT 3.1.1 return codes onto the MQTT 5 numbers).
_BAD_CREDENTIALS = 134  # 3.1.1 return code 4: bad user name or password
_NOT_AUTHORISED = 135  # 3.1.1 return code 5: not authorised
_SERVER_UNAVAILABLE = 136  # 3.1.1 return code 3: server unavailable (try again later)

# A connection closed by the broker this soon after it accepted it was probably closed
# for another client with our id; so many in a row and we say so.
KICK_WINDOW = 5.0
KICKS_TO_REPORT = 3


def refusal(code: int, reason: str, *, broker: str, client_id: str, user: str | None) -> str | None:
    """What to tell the user about a CONNACK that refused us; None when the broker is
    only unavailable for now (retrying is all there is to do)."""
    if code == _SERVER_UNAVAILABLE:
        return None
    if code in (_BAD_CREDENTIALS, _NOT_AUTHORISED):
        return (
            f"MQTT broker at {broker} refused {client_id!r} (user {user or 'anonymous'}): "
            f"{reason}; check the username, password and ACL"
        )
    return f"MQTT broker at {broker} refused the connection: {reason}"


@dataclass(slots=True)
class TakeoverWatch:
    """Counts the connections in a row that the broker closed right after accepting."""

    kicks: int = 0
    accepted_at: float = 0.0  # when the broker last accepted a connection

    def accepted(self, now: float) -> None:
        self.accepted_at = now

    def closed(self, now: float) -> int:
        """The broker closed our connection (we did not): the kicks in a row so far."""
        self.kicks = self.kicks + 1 if now - self.accepted_at < KICK_WINDOW else 0
        return self.kicks

    def broker_away(self) -> None:
        """No connection at all: the broker itself was away, no rival closed ours."""
        self.kicks = 0

    def contested(self, connected: bool, now: float) -> bool:
        """True while another client seems to use our id: enough kicks in a row, and
        the current connection (if any) has not lasted `KICK_WINDOW` s yet."""
        if self.kicks < KICKS_TO_REPORT:
            return False
        return not (connected and now - self.accepted_at >= KICK_WINDOW)
