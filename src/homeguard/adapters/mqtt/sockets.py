"""Socket options for a low-latency MQTT connection.

Small MQTT packets otherwise meet Nagle's algorithm and delayed ACKs (tens of ms per
hop): the client sets TCP_NODELAY on every socket paho opens (paho 2.2 leaves Nagle
on), and on Linux TCP_QUICKACK, re-armed after every packet received, so that a broker
with Nagle on (Mosquitto's default) is not kept waiting for our TCP ACK until our
acknowledgements follow a commit (docs/performance.md).
"""

from __future__ import annotations

import contextlib
import logging
import socket
from typing import Any

__all__ = ["nodelay", "quick_ack", "set_nodelay"]

_log = logging.getLogger(__name__)

_QUICKACK: int | None = getattr(socket, "TCP_QUICKACK", None)  # Linux only


def set_nodelay(sock: Any) -> None:
    """Send small packets at once (TCP_NODELAY); a warning when the socket cannot."""
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except (OSError, AttributeError) as err:  # e.g. not a TCP socket
        _log.warning("cannot set TCP_NODELAY on the MQTT socket: %s", err)


def nodelay(sock: Any) -> bool | None:
    """Whether ``sock`` has TCP_NODELAY set; None when it is no (open) socket."""
    if not isinstance(sock, socket.socket):
        return None
    try:
        return bool(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
    except OSError:
        return None


def quick_ack(sock: Any) -> None:
    """ACK what we received now, not after the kernel's delayed-ACK wait (Linux).

    A broker with Nagle on (Mosquitto's default) holds every further packet to us until
    our TCP ACK comes back, and Linux delays that ACK (up to 40 ms) hoping to send it
    with data: with ack-after-commit, our PUBACKs, a turn later. So each batch of the
    broker's in-flight window waited a turn or a delayed ACK. The kernel leaves
    quick-ACK mode on its own, so it is re-armed after every packet received.
    """
    if _QUICKACK is None:
        return
    with contextlib.suppress(OSError, AttributeError, TypeError):  # closed, not TCP
        sock.setsockopt(socket.IPPROTO_TCP, _QUICKACK, 1)
