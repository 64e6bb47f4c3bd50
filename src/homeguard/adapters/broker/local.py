"""`LocalBroker`: a broker on loopback, Mosquitto when its binary is installed, otherwise
the embedded one (:mod:`.embedded`)."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Literal, Self

from homeguard.adapters.broker_auth import BrokerSecurity
from homeguard.errors import BrokerError, BrokerUnavailable

from .embedded import EmbeddedBroker
from .mosquitto import PID_FILE, find_mosquitto, mosquitto_config
from .probe import wait_until_answers

__all__ = ["LocalBroker"]

_log = logging.getLogger(__name__)


class LocalBroker(AbstractContextManager["LocalBroker"]):
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
        embedded: EmbeddedBroker | None = None,
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
        store_bytes: int = 0,
    ) -> LocalBroker:
        """Start a broker on 127.0.0.1:``port`` and return once it answers.

        ``security``: Mosquitto requires logins from its password file, enforces its
        ACL and, with ``tls``, speaks only TLS. The embedded broker enforces none of it
        (a warning is logged). ``store_bytes``: about what the site keeps in the
        broker's store (Mosquitto then saves it less often from 8 MB on:
        `~.mosquitto.autosave_interval`).

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
            return cls._start_mosquitto(
                binary, data_dir, port, timeout, security=security, store_bytes=store_bytes
            )
        if security is not None:
            _log.warning("the embedded broker enforces no login, ACL nor TLS: install Mosquitto")
        embedded = EmbeddedBroker(cls.host, port)
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
        *,
        security: BrokerSecurity | None = None,
        store_bytes: int = 0,
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
                store_bytes=store_bytes,
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
        if not wait_until_answers(cls.host, port, timeout, lambda: process.poll() is None, tls=tls):
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

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


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
