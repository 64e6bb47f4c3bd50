"""The MQTT broker: Mosquitto's config and process, or an embedded amqtt broker.

This is the only module that imports amqtt.

* `mosquitto_config` writes a Mosquitto 2.x configuration that loses nothing a house
  sends: the store is saved every second (Mosquitto's default is every 30 minutes) and
  the per-client queue holds days of a house's messages (the default of 1000 drops
  messages for a controller that was away), yet is bounded, like the size of one
  message, so that no login can exhaust the broker's memory (`MAX_QUEUED_MESSAGES`,
  `MAX_QUEUED_BYTES`, `MAX_PACKET_BYTES`; the sizing rule is in docs/broker.md). With a
  password file, each client's id is its user name, so that no login can take over
  another's session (the controller's above all).
* `reload_local_broker` makes the Mosquitto that `LocalBroker` started reread its
  password file, ACL and CRL (SIGHUP), found by the pid file it left in its data dir.
* `broker_answers` probes an address with a real MQTT CONNECT/CONNACK exchange.
* `LocalBroker` runs a broker on loopback: Mosquitto when its binary is installed,
  otherwise an embedded amqtt broker in its own thread and asyncio loop.

The embedded broker is for trying homeguard out and for tests, not for a real house.
Its limits:

* nothing is persisted: sessions, messages queued for offline clients and retained
  messages live in memory and are lost when the broker (or the process hosting it)
  stops, so the "QoS 1 while the controller was down" guarantee only holds while the
  embedded broker keeps running;
* amqtt's own anonymous mode keeps no session for a disconnected client (it silently
  drops the QoS 1/2 messages a persistent session should queue), so we accept every
  client through our own plugin instead, which keeps sessions as MQTT requires;
* loopback only, no authentication, no ACL, no TLS;
* the order between QoS 1 and QoS 2 messages queued for an offline client is not kept
  (each QoS level is delivered in order);
* MQTT 3.1.1 only (no MQTT 5 features such as shared subscriptions);
* it shares the host process and its GIL: slower than Mosquitto, and a crash of the
  process takes the broker down with it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import shutil
import signal
import socket
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, Self

from amqtt.broker import Broker as AmqttBroker
from amqtt.plugins.base import BaseAuthPlugin

from homeguard.adapters.broker_auth import BrokerSecurity, ListenerTls, accepts_tcp
from homeguard.adapters.mqtt import MAX_PAYLOAD
from homeguard.errors import BrokerError, BrokerUnavailable

__all__ = [
    "MAX_PACKET_BYTES",
    "MAX_QUEUED_BYTES",
    "MAX_QUEUED_MESSAGES",
    "LocalBroker",
    "broker_answers",
    "find_mosquitto",
    "mosquitto_config",
    "reload_local_broker",
]

_log = logging.getLogger(__name__)

_DEBIAN_MOSQUITTO = Path("/usr/sbin/mosquitto")  # Debian installs it outside a user's PATH


# Per client, beyond those in flight (sizing rule: docs/broker.md). A house of 50
# devices, each sending one message every 20 s (heartbeats included), queues 216,000
# messages of at most 250 bytes a day for a controller that is down: both limits hold
# more than a day of it (the example house: 10 days), while what one login can make the
# broker hold for one client stays near 64 MiB + 300,000 x ~400 bytes of overhead.
MAX_QUEUED_MESSAGES = 300_000
MAX_QUEUED_BYTES = 64 * 1024 * 1024  # payload bytes
# The largest MQTT packet the broker reads: a payload of MAX_PAYLOAD (256 KiB, which our
# own client never exceeds) with a topic of up to 64 KiB. A client that sends a bigger
# packet is disconnected before the broker reads it into memory.
MAX_PACKET_BYTES = MAX_PAYLOAD + 64 * 1024 + 16
PID_FILE = "mosquitto.pid"
# Messages delivered to a client and not yet acknowledged: as many as the controller keeps
# in memory while its store cannot write (homeguard.core.backlog.DEFAULT_LIMIT), bounded in
# bytes like the queue.
MAX_INFLIGHT = 10_000
MAX_INFLIGHT_BYTES = 64 * 1024 * 1024


def mosquitto_config(
    *,
    port: int,
    bind: str = "127.0.0.1",
    data_dir: Path,
    password_file: Path | None = None,
    acl_file: Path | None = None,
    run_as_user: str | None = None,
    tls: ListenerTls | None = None,
) -> str:
    """A Mosquitto 2.x config that loses no QoS 1/2 message; each line says why.

    ``tls``: the listener speaks TLS only (cafile, certfile, keyfile,
    require_certificate, crlfile); ``password_file`` and ``acl_file`` apply to it too.

    ``run_as_user``: when Mosquitto starts as root it switches to the ``mosquitto``
    user unless told otherwise, which then cannot write into a root-owned
    ``data_dir``; pass the owner of ``data_dir`` (e.g. for a private test broker).
    """
    data_dir = Path(data_dir).resolve()
    # persistence_location must end with a slash: Mosquitto concatenates the file name.
    location = f"{data_dir}{os.sep}"
    lines = [
        "# Generated by homeguard: a Mosquitto 2.x broker that loses no QoS 1/2 message.",
        "",
        "# Keep sessions, subscriptions and queued messages in a file across restarts.",
        "persistence true",
        f"persistence_location {location}",
        "persistence_file mosquitto.db",
        "# Save the store every second (the default is every 30 minutes) so that a crash",
        "# or power cut loses at most one second; a clean shutdown always saves.",
        "autosave_interval 1",
        "autosave_on_changes false",
        "# persistent_client_expiration is left unset on purpose: persistent sessions",
        "# never expire, so a controller away for a week still gets what happened.",
        "# Messages queued per client beyond those in flight: days of a house's traffic",
        "# for a controller that is down (the default of 1000 silently drops the rest),",
        "# but bounded in number and bytes, so that no login can exhaust the broker's",
        "# memory (sizing rule: homeguard's docs/broker.md). Never 0 ('no limit'): it",
        "# misbehaves in some 2.0.x releases (#2593, #2879).",
        f"max_queued_messages {MAX_QUEUED_MESSAGES}",
        f"max_queued_bytes {MAX_QUEUED_BYTES}",
        "# No packet above this size (a 256 KiB payload and its topic): a bigger one",
        "# disconnects its sender before the broker holds it in memory.",
        f"max_packet_size {MAX_PACKET_BYTES}",
        f"# Up to {MAX_INFLIGHT} unacknowledged QoS 1/2 messages in flight per client (the",
        "# default is 20). The controller acknowledges a message only once its event is",
        "# committed: while its disk is full it holds them, and with 20 in flight the",
        "# broker would stop delivering, so the panel would no longer hear the doors.",
        "# Bounded in bytes too, so that in-flight messages cannot exhaust memory either.",
        f"max_inflight_messages {MAX_INFLIGHT}",
        f"max_inflight_bytes {MAX_INFLIGHT_BYTES}",
        "# Small MQTT packets otherwise wait for Nagle's algorithm and delayed ACKs.",
        "set_tcp_nodelay true",
        "# One listener, on the given address only.",
        f"listener {port} {bind}",
    ]
    if tls is not None:
        lines += tls.config_lines()
    if password_file is None:
        lines += [
            "# No password file: any client may connect (fine on loopback only).",
            "allow_anonymous true",
        ]
    else:
        lines += [
            "# Every device logs in with its own username and password.",
            "allow_anonymous false",
            f"password_file {Path(password_file).resolve()}",
            "# A client's id is its user name (with TLS: its certificate's name), whatever",
            "# it asks for: no login can take over another's session, the controller's",
            "# persistent one above all.",
            "use_username_as_clientid true",
        ]
    if acl_file is not None:
        lines += [
            "# Each device may publish and subscribe only where the ACL allows.",
            f"acl_file {Path(acl_file).resolve()}",
        ]
    if run_as_user is not None:
        lines += [
            "# Do not switch to the 'mosquitto' user: it could not write into data_dir.",
            f"user {run_as_user}",
        ]
    lines += [
        "# Log to a file in the data directory, with timestamps and client connections,",
        "# so that a lost message can be traced. Not 'information': it logs every",
        "# autosave, i.e. every second or two.",
        f"log_dest file {data_dir / 'mosquitto.log'}",
        "log_type error",
        "log_type warning",
        "log_type notice",
        "log_timestamp true",
        "connection_messages true",
        "",
    ]
    return "\n".join(lines)


def find_mosquitto() -> str | None:
    """The path of the mosquitto binary, or None when it is not installed."""
    found = shutil.which("mosquitto")
    if found:
        return found
    if _DEBIAN_MOSQUITTO.is_file() and os.access(_DEBIAN_MOSQUITTO, os.X_OK):
        return str(_DEBIAN_MOSQUITTO)
    return None


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


def _wait_until_answers(
    host: str, port: int, timeout: float, alive: Any, *, tls: bool = False
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


class LocalBroker:
    """A broker on loopback: Mosquitto if installed, else embedded amqtt.

    Build it with `LocalBroker.start`; ``kind`` says which one runs.
    """

    host = "127.0.0.1"

    def __init__(
        self,
        *,
        kind: Literal["mosquitto", "embedded"],
        port: int,
        data_dir: Path,
        process: subprocess.Popen[bytes] | None = None,
        embedded: _EmbeddedBroker | None = None,
    ) -> None:
        self.kind = kind
        self.port = port
        self.data_dir = data_dir
        self._process = process
        self._embedded = embedded

    @classmethod
    def start(
        cls,
        data_dir: Path,
        port: int,
        *,
        prefer: Literal["mosquitto", "embedded"] | None = None,
        timeout: float = 10.0,
        security: BrokerSecurity | None = None,
    ) -> LocalBroker:
        """Start a broker on 127.0.0.1:``port`` and return once it answers.

        ``security``: Mosquitto requires logins from its password file, enforces its
        ACL and, with ``tls``, speaks only TLS. The embedded broker enforces none of it
        (a warning is logged).

        ``prefer="embedded"`` forces the embedded broker; ``prefer="mosquitto"`` fails
        with `BrokerError` when Mosquitto is not installed; None picks Mosquitto when
        it is installed. Raises `BrokerUnavailable` if the broker does not come up.
        """
        data_dir = Path(data_dir)
        data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        data_dir.chmod(0o700)  # its store holds every queued message
        binary = find_mosquitto()
        if prefer == "mosquitto" and binary is None:
            raise BrokerError("mosquitto is not installed (Debian: apt-get install mosquitto)")
        if prefer != "embedded" and binary is not None:
            return cls._start_mosquitto(binary, data_dir, port, timeout, security)
        if security is not None:
            _log.warning("the embedded broker enforces no login, ACL nor TLS: install Mosquitto")
        embedded = _EmbeddedBroker(cls.host, port)
        embedded.start(timeout)
        _log.info("embedded MQTT broker listening on %s:%d", cls.host, port)
        return cls(kind="embedded", port=port, data_dir=data_dir, embedded=embedded)

    @classmethod
    def _start_mosquitto(
        cls,
        binary: str,
        data_dir: Path,
        port: int,
        timeout: float,
        security: BrokerSecurity | None = None,
    ) -> Self:
        config_path = data_dir / "mosquitto.conf"
        config_path.write_text(
            mosquitto_config(
                port=port,
                bind=cls.host,
                data_dir=data_dir,
                run_as_user=_current_user(),
                password_file=None if security is None else security.password_file,
                acl_file=None if security is None else security.acl_file,
                tls=None if security is None else security.tls,
            )
        )
        with (data_dir / "mosquitto.stderr").open("ab") as stderr:
            process = subprocess.Popen(
                [binary, "-c", str(config_path)],
                stdin=subprocess.DEVNULL,
                stdout=stderr,
                stderr=stderr,
                # Its own process group: Ctrl-C in a terminal must not take the broker
                # away from the services still stopping; whoever started it stops it.
                process_group=0,
            )
        # Our own pid file (Mosquitto writes one only as a daemon): `reload_local_broker`.
        (data_dir / PID_FILE).write_text(f"{process.pid}\n")
        broker = cls(kind="mosquitto", port=port, data_dir=data_dir, process=process)
        tls = security is not None and security.tls is not None
        if not _wait_until_answers(
            cls.host, port, timeout, lambda: process.poll() is None, tls=tls
        ):
            broker.stop()
            raise BrokerUnavailable(
                f"mosquitto did not come up on {cls.host}:{port}: "
                f"{_tail(data_dir / 'mosquitto.stderr')} {_tail(data_dir / 'mosquitto.log')}"
            )
        _log.info("mosquitto listening on %s:%d (pid %d)", cls.host, port, process.pid)
        return broker

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the broker (Mosquitto saves its store on SIGTERM) and wait for it."""
        if self._process is not None:
            _terminate(self._process, timeout)
            self._process = None
            (self.data_dir / PID_FILE).unlink(missing_ok=True)
        if self._embedded is not None:
            self._embedded.stop(timeout)
            self._embedded = None

    @property
    def running(self) -> bool:
        if self._process is not None:
            return self._process.poll() is None
        return self._embedded is not None

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def reload_local_broker(data_dir: Path, password_file: Path) -> int | None:
    """SIGHUP the Mosquitto that `LocalBroker` started in ``data_dir``, if it runs and
    enforces ``password_file``: it rereads its password file, ACL and CRL, and closes
    the connections of logins that are gone. Returns its pid; None when there is no
    such broker (none started there, stopped, or one using other files)."""
    data_dir = Path(data_dir)
    try:
        pid = int((data_dir / PID_FILE).read_text().strip())
        config = (data_dir / "mosquitto.conf").read_text()
        command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except (OSError, ValueError):
        return None
    # The pid must still be our Mosquitto (pids are reused) and use this password file.
    ours = str((data_dir / "mosquitto.conf").resolve()).encode() in command
    if not ours or f"password_file {Path(password_file).resolve()}\n" not in config:
        return None
    try:
        os.kill(pid, signal.SIGHUP)
    except OSError:
        return None
    return pid


class LoopbackAuthPlugin(BaseAuthPlugin):  # type: ignore[misc]  # amqtt is untyped
    """amqtt authentication that lets every (loopback) client in as a real session.

    amqtt's AnonymousAuthPlugin marks sessions anonymous, and amqtt then queues nothing
    for them while they are away; a persistent session must get its QoS 1/2 messages.
    """

    @dataclass
    class Config:
        """No options: the embedded broker only listens on loopback."""

    async def authenticate(self, *, session: Any) -> bool:
        return True


class _EmbeddedBroker:
    """An amqtt broker served by its own asyncio loop in a daemon thread."""

    def __init__(self, host: str, port: int) -> None:
        self._host = host
        self._port = port
        self._loop = asyncio.new_event_loop()
        self._broker: Any = None
        self._started = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(
            target=self._run, name=f"homeguard-embedded-broker-{port}", daemon=True
        )

    def start(self, timeout: float) -> None:
        self._thread.start()
        if not self._started.wait(timeout):
            self.stop(timeout)
            raise BrokerUnavailable(f"embedded broker did not start within {timeout:g} s")
        if self._error is not None:
            self._thread.join(timeout)
            raise BrokerError(
                f"embedded broker could not listen on {self._host}:{self._port}: {self._error}"
            ) from None
        if not _wait_until_answers(self._host, self._port, timeout, self._thread.is_alive):
            self.stop(timeout)
            raise BrokerUnavailable(f"embedded broker does not answer on port {self._port}")

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._start_broker())
        except Exception as err:  # amqtt raises its own errors and OSError
            self._error = err
            self._started.set()
            self._loop.close()
            return
        self._started.set()
        try:
            self._loop.run_forever()
        finally:
            self._loop.close()

    async def _start_broker(self) -> None:
        config = {
            "listeners": {"default": {"type": "tcp", "bind": f"{self._host}:{self._port}"}},
            "plugins": {f"{__name__}.{LoopbackAuthPlugin.__name__}": {}},
        }
        self._broker = AmqttBroker(config, loop=self._loop)
        await self._broker.start()

    def stop(self, timeout: float) -> None:
        if not self._thread.is_alive():
            return
        if self._broker is not None:
            future = asyncio.run_coroutine_threadsafe(self._broker.shutdown(), self._loop)
            try:
                future.result(timeout)
            except Exception as err:  # a failed shutdown must not hide the stop
                _log.warning("embedded broker shutdown failed: %s", err)
        with contextlib.suppress(RuntimeError):  # the loop may already be closed
            self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout)


def _terminate(process: subprocess.Popen[bytes], timeout: float) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            _log.warning("mosquitto (pid %d) ignored SIGTERM; killing it", process.pid)
            process.kill()
            process.wait()


def _current_user() -> str | None:
    """The user to keep when running as root; None (no ``user`` line) otherwise."""
    if os.geteuid() != 0:
        return None
    import pwd

    return pwd.getpwuid(os.geteuid()).pw_name


def _tail(path: Path, size: int = 600) -> str:
    try:
        return path.read_text(errors="replace")[-size:].strip()
    except OSError:
        return ""
