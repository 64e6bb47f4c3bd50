"""The MQTT connection's socket: low latency, and few system calls per message.

Small MQTT packets otherwise meet Nagle's algorithm and delayed ACKs (tens of ms per
hop): the client sets TCP_NODELAY on every socket paho opens (paho 2.2 leaves Nagle
on), and on Linux TCP_QUICKACK, re-armed after every read from the socket, so that a
broker with Nagle on (Mosquitto's default) is not kept waiting for our TCP ACK until our
acknowledgements follow a commit (docs/performance.md).

paho reads a packet in three calls or more (its first byte, each byte of its length,
then the rest) and writes each packet with a call of its own: a system call each, and
one more to ask whether more waits. :class:`BufferedSocket` reads what the kernel holds
(up to :data:`CHUNK` bytes) in one call and serves paho's reads from it, and sends what
paho writes within :meth:`BufferedSocket.gathering` in one call at its end.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import ssl
from collections.abc import Iterator
from typing import Any

__all__ = [
    "CHUNK",
    "BufferedSocket",
    "gathering",
    "nodelay",
    "pending",
    "quick_ack",
    "set_nodelay",
]

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
    if isinstance(sock, BufferedSocket):
        sock = sock.raw
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
    quick-ACK mode on its own, so it is re-armed after every read (`BufferedSocket`).
    """
    if _QUICKACK is None:
        return
    with contextlib.suppress(OSError, AttributeError, TypeError):  # closed, not TCP
        sock.setsockopt(socket.IPPROTO_TCP, _QUICKACK, 1)


def pending(sock: Any) -> int:
    """Bytes read from the network that ``sock`` holds and ``select`` does not see (TLS
    records decrypted, a `BufferedSocket`'s buffer)."""
    return int(sock.pending()) if hasattr(sock, "pending") else 0


CHUNK = 65536  # bytes read at most per system call

_WOULD_BLOCK = (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError)


class BufferedSocket:
    """A socket (plain or TLS) for paho whose reads and writes take few system calls;
    see the module docstring. What it does not define is the socket's own."""

    def __init__(self, sock: Any) -> None:
        self.raw = sock
        self._in = b""  # read and not yet taken, from _at
        self._at = 0
        self._out = bytearray()  # written and not yet sent
        self._gathering = False

    def __getattr__(self, name: str) -> Any:  # fileno, setblocking, setsockopt, close...
        return getattr(self.raw, name)

    def recv(self, size: int) -> bytes:
        if self._at >= len(self._in):
            data: bytes = self.raw.recv(max(size, CHUNK))  # raises what the socket raises
            quick_ack(self.raw)
            if len(data) <= size:
                return data
            self._in, self._at = data, 0
        start, self._at = self._at, self._at + size
        return self._in[start : self._at]

    def pending(self) -> int:
        return max(0, len(self._in) - self._at) + pending(self.raw)

    def send(self, data: bytes | bytearray) -> int:
        if self._gathering:
            self._out += data
            return len(data)
        if self._out and not self.flush():  # what a gathering left goes first
            raise BlockingIOError("the socket's send buffer is full")
        return int(self.raw.send(data))

    def close(self) -> None:
        """What writes left goes first, as far as the socket takes it: paho closes the
        socket right after writing a DISCONNECT, which must reach the broker (no Last
        Will)."""
        self.flush()
        self.raw.close()

    @contextlib.contextmanager
    def gathering(self) -> Iterator[None]:
        """Within it, writes are kept, then sent together (`flush`) at its end."""
        self._gathering = True
        try:
            yield
        finally:
            self._gathering = False
            self.flush()

    def flush(self) -> bool:
        """Send what writes left, as far as the socket takes it now: True when all went.
        A connection that fails drops it; paho's next read finds the connection lost."""
        while self._out:
            try:
                sent = self.raw.send(self._out)
            except _WOULD_BLOCK:
                return False
            except OSError:
                self._out.clear()
                return True
            del self._out[:sent]
        return True


@contextlib.contextmanager
def gathering(sock: Any) -> Iterator[None]:
    """``sock.gathering()`` for a `BufferedSocket`; nothing for another."""
    if isinstance(sock, BufferedSocket):
        with sock.gathering():
            yield
    else:
        yield
