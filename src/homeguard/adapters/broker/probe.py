"""Is a broker there? A real MQTT CONNECT/CONNACK exchange, without a client library."""

from __future__ import annotations

import contextlib
import secrets
import socket
import time
from collections.abc import Callable

from homeguard.adapters.broker_auth import accepts_tcp

__all__ = ["broker_answers", "wait_until_answers"]


def _connect_packet(client_id: str) -> bytes:
    """An MQTT 3.1.1 CONNECT: clean session, no will, no credentials, keepalive 10 s."""
    cid = client_id.encode()
    variable_header = b"\x00\x04MQTT" + b"\x04" + b"\x02" + (10).to_bytes(2, "big")
    body = variable_header + len(cid).to_bytes(2, "big") + cid
    assert len(body) < 128  # one-byte remaining length
    return b"\x10" + bytes([len(body)]) + body


def broker_answers(host: str, port: int, timeout: float = 1.0) -> bool:
    """True when an MQTT broker answers a CONNECT with a CONNACK at host:port.

    A CONNACK that refuses us (e.g. credentials required) still counts: a broker is
    there. The probe disconnects cleanly and leaves no session behind.
    """
    deadline = time.monotonic() + timeout
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.sendall(_connect_packet(f"homeguard-probe-{secrets.token_hex(4)}"))
            reply = b""
            while len(reply) < 4:
                sock.settimeout(max(0.01, deadline - time.monotonic()))
                chunk = sock.recv(4 - len(reply))
                if not chunk:
                    return False
                reply += chunk
            with contextlib.suppress(OSError):
                sock.sendall(b"\xe0\x00")  # DISCONNECT
    except OSError:  # refused, unreachable, timed out, reset
        return False
    return reply[0] == 0x20 and reply[1] == 0x02  # CONNACK, remaining length 2


def wait_until_answers(
    host: str, port: int, timeout: float, alive: Callable[[], bool], *, tls: bool = False
) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive():
            return False
        # A TLS listener cannot answer our plain probe: a TCP accept is the sign of life.
        if accepts_tcp(host, port) if tls else broker_answers(host, port, timeout=0.5):
            return True
        time.sleep(0.05)
    return False
