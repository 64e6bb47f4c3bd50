"""Shared fixtures: a real Mosquitto per test, started with the config homeguard generates.

End-to-end tests use the function-scoped ``mosquitto`` fixture (a started
`MosquittoProcess` on a free loopback port, with its data in ``tmp_path``) and are marked
``pytest.mark.broker`` (the marker is also added automatically to every test that uses the
fixture). Helpers for those tests, importable with ``from tests.conftest import ...``:

* `MosquittoProcess`: start/stop (SIGTERM)/kill (SIGKILL)/restart a broker on one port
  (`stock=True`, or the `stock_mosquitto` fixture: the default config a user already runs);
* `free_port`, `wait_until` (poll a condition, never a fixed sleep), `collect` (take N
  messages from an `MqttClient`'s queue), `client_id` (unique ids per test), `retained`
  (what a broker holds retained on a topic).

The system Mosquitto on 127.0.0.1:1883 is never used: every test starts its own.
"""

from __future__ import annotations

import os
import pwd
import queue
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Self

import pytest
from hypothesis import settings as hypothesis_settings

from homeguard.adapters.broker import broker_answers, find_mosquitto, mosquitto_config
from homeguard.adapters.broker_auth import ListenerTls, accepts_tcp
from homeguard.adapters.mqtt import BrokerAddress, Message, MqttClient

# CI (CI=true) replays the same examples every run, so that a red build is a bug found
# on purpose, not a draw; locally the search stays random and keeps finding new cases.
hypothesis_settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    hypothesis_settings.load_profile("ci")

_INSTALL_HINT = (
    "the mosquitto binary is missing: install Debian's `mosquitto` package "
    "(apt-get install mosquitto; the project's test script installs it)"
)


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def client_id(prefix: str = "test") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def wait_until(
    condition: Callable[[], object], timeout: float = 15.0, what: str = "condition"
) -> None:
    """Poll ``condition`` until it is true; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.02)


def collect(messages: queue.Queue[Message], count: int, timeout: float = 15.0) -> list[Message]:
    """Take ``count`` messages from a queue, failing after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    got: list[Message] = []
    while len(got) < count:
        remaining = deadline - time.monotonic()
        try:
            got.append(messages.get(timeout=max(0.0, remaining)))
        except queue.Empty:
            raise AssertionError(
                f"received {len(got)} of {count} messages in {timeout:g} s"
            ) from None
    return got


def retained(mosquitto: MosquittoProcess, topic: str) -> str | None:
    """What ``mosquitto`` holds retained on ``topic`` (None when nothing, or no broker):
    only a retained message counts, not a live one that happens to pass."""
    client = MqttClient(
        address=mosquitto.address,
        client_id=client_id("peek"),
        persistent=False,
        subscriptions=[(topic, 1)],
        quiet=True,
    )
    try:
        client.start(timeout=5)
    except Exception:
        return None
    try:
        deadline = time.monotonic() + 1.0
        while (left := deadline - time.monotonic()) > 0:
            message = client.messages.get(timeout=left)
            if message.retain:
                return str(message.payload.decode())
        return None
    except queue.Empty:
        return None
    finally:
        client.stop()


def _current_user() -> str | None:
    return pwd.getpwuid(os.geteuid()).pw_name if os.geteuid() == 0 else None


class MosquittoProcess:
    """A private Mosquitto on 127.0.0.1, configured by `mosquitto_config`."""

    host = "127.0.0.1"

    def __init__(
        self,
        data_dir: Path,
        port: int | None = None,
        *,
        password_file: Path | None = None,
        acl_file: Path | None = None,
        stock: bool = False,
        tls: ListenerTls | None = None,
    ) -> None:
        binary = find_mosquitto()
        if binary is None:
            pytest.fail(_INSTALL_HINT, pytrace=False)
        self.binary = binary
        self.data_dir = data_dir
        self._fixed_port = port is not None
        self.port = port if port is not None else free_port()
        self.password_file = password_file
        self.acl_file = acl_file
        self.stock = stock
        self.tls = tls  # the listener speaks TLS only
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> BrokerAddress:
        return BrokerAddress(self.host, self.port)

    @property
    def config_path(self) -> Path:
        return self.data_dir / "mosquitto.conf"

    @property
    def log(self) -> str:
        path = self.data_dir / "mosquitto.log"
        return path.read_text(errors="replace") if path.exists() else ""

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self, timeout: float = 15.0) -> Self:
        """Start and wait until it answers MQTT; retries on another port if ours was taken."""
        assert not self.running, "mosquitto is already running"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        for _attempt in range(3):
            if self._start_once(timeout):
                return self
            if self._fixed_port or "Address already in use" not in self._output():
                break
            self.port = free_port()  # lost the race for the free port: try another
        output = self._output()
        raise RuntimeError(f"mosquitto did not start on port {self.port}:\n{output}")

    def _start_once(self, timeout: float) -> bool:
        self.config_path.write_text(
            # What a user already runs: every other setting at Mosquitto's default
            # (1000 queued, 20 in flight, Nagle on, no persistence).
            f"listener {self.port} {self.host}\nallow_anonymous true\n"
            if self.stock
            else mosquitto_config(
                port=self.port,
                bind=self.host,
                data_dir=self.data_dir,
                password_file=self.password_file,
                acl_file=self.acl_file,
                run_as_user=_current_user(),
                tls=self.tls,
            )
        )
        with (self.data_dir / "mosquitto.stderr").open("wb") as stderr:
            self.process = subprocess.Popen(
                [self.binary, "-c", str(self.config_path)],
                stdin=subprocess.DEVNULL,
                stdout=stderr,
                stderr=stderr,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False
            answers = accepts_tcp if self.tls is not None else broker_answers
            if answers(self.host, self.port, timeout=0.5):
                return True
            time.sleep(0.02)
        self.kill()
        return False

    def _output(self) -> str:
        stderr = self.data_dir / "mosquitto.stderr"
        text = stderr.read_text(errors="replace") if stderr.exists() else ""
        return f"{text}\n{self.log}"

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM (Mosquitto saves its store) and wait; SIGKILL if it hangs."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def kill(self) -> None:
        """SIGKILL: a crash, nothing saved since the last autosave."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[MosquittoProcess]:
    """A started private Mosquitto, stopped after the test whatever happens."""
    broker = MosquittoProcess(tmp_path / "mosquitto")
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture
def stock_mosquitto(tmp_path: Path) -> Iterator[MosquittoProcess]:
    """A started Mosquitto with the default config a user has (`listener` +
    `allow_anonymous`, nothing else), stopped after the test."""
    broker = MosquittoProcess(tmp_path / "stock-mosquitto", stock=True)
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if {"mosquitto", "stock_mosquitto"} & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.broker)
