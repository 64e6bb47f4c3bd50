"""``homeguard controller`` in a process of its own, as in a house, for ``run.py``.

Each one gets a base topic and client id of its own, so that nothing retained or queued
by an earlier one on the same broker is taken for its answer, and in this process a user
client (arming and disarming), and for the trips a raw-socket window sensor and siren
(:class:`load.RawClient`, subscribed to ``<base>/control/alarm`` only at QoS 2, so that
the command arrives at the QoS it is sent with): the time measured is the controller's
and the broker's, not a client library's threads.
"""

from __future__ import annotations

import contextlib
import itertools
import queue
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

from load import RawClient, week_of_reports

from homeguard.adapters.mqtt import BrokerAddress, MqttClient

CONFIG = """\
mqtt: {{host: 127.0.0.1, port: {port}, base_topic: {base}, client_id: {base}-controller}}
storage: {{path: events.db, synchronous: full}}
panel: {{code_arm_required: false, modes: {{armed_home: {{exit_delay: 0, siren_time: 300}}}}}}
users: [{{name: alice, pin: "1234"}}]
actuators: [{{id: siren, type: siren}}]
rate_limit: {{messages_per_second: 1000000, burst: 1000000}}  # load from few sensors
web: {web}
home_assistant: {{discovery: false}}
sensors:
  - {{id: living, type: window}}
"""
# The siren command's QoS is a constant of the controller; the benchmark sets it.
LAUNCH = (
    "import sys; import homeguard.services.outbound as o; o.COMMAND_QOS = int(sys.argv[1]);"
    "from homeguard.cli import main; sys.exit(main(sys.argv[2:]))"
)
_numbers = itertools.count()


class ControllerProcess:
    def __init__(
        self,
        address: BrokerAddress,
        folder: Path,
        sensors: int,
        *,
        siren_qos: int | None = None,
        timeout: float = 30,
        web_port: int | None = None,
        history: int = 0,
    ) -> None:
        """``history``: sensor events already in the store when the controller starts,
        a week of them (``load.week_of_reports``), as in a house that has run a while."""
        self.address = address
        self.timeout = timeout
        self.base = f"b{time.time_ns() % 10**9}x{next(_numbers)}"
        # The same 99 send at every size: (d) compares what the configured count costs,
        # not what more sensors in motion do (each one's retained state said per turn).
        self.motion = [f"m{n}" for n in range(1, max(2, min(sensors, 100)))]
        folder.mkdir(parents=True, exist_ok=True)
        self.db = folder / "events.db"
        if history:
            week_of_reports(self.db, self.motion, history, time.time())
        config = folder / "homeguard.yaml"
        web = "{enabled: false}"
        if web_port is not None:  # the dashboard, open on loopback
            web = f"{{host: 127.0.0.1, port: {web_port}, loopback_without_login: true}}"
        self.config = config
        lines = [CONFIG.format(port=address.port, base=self.base, web=web)]
        lines += [f"  - {{id: m{n}, type: motion}}\n" for n in range(1, sensors)]
        config.write_text("".join(lines))
        self.user = self._client("user", [("alarm/state", 1), ("alarm/availability", 1)])
        self.siren = RawClient(address, f"{self.base}-siren")
        self.siren.subscribe(f"{self.base}/control/alarm", 2)
        self.window = RawClient(address, f"{self.base}-window")
        qos = "2" if siren_qos is None else str(siren_qos)
        command = [sys.executable, "-c", LAUNCH, qos, "controller"]
        self._log = (folder / "controller.log").open("wb")
        self.started = started = time.perf_counter()
        self.process = subprocess.Popen(
            [*command, "--config", str(config), "--data-dir", str(folder)],
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        self._await(self.user, "alarm/availability", b"online", timeout=600)
        self.command("ARM_HOME", b"armed_home", timeout=600)
        self.ready_s = time.perf_counter() - started
        self.command('{"action": "DISARM", "code": "1234"}', b"disarmed")
        self._await_broker_check()

    def _await_broker_check(self, timeout: float = 60) -> None:
        """Until the controller has logged what its start-up check of the broker's queue
        found: that probe (1,100 messages through the broker and a client in the
        controller's process, a second or two) is not what a running house sees, and
        trips timed during it are up to a few ms slower (docs/performance.md)."""
        log = Path(self._log.name)
        deadline = time.monotonic() + timeout
        while not re.search(rb"MQTT broker at .*queue", log.read_bytes()):
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise SystemExit(f"the controller did not check the broker; see {log}")
            time.sleep(0.05)

    def await_restated(self, last: str, timeout: float = 600) -> float:
        """Seconds from starting the process until the broker has the retained state of
        ``last``, the last sensor configured. After connecting, the controller restates
        every sensor, after its other messages (docs/topics.md): at 100,000 sensors that
        goes on well after it is ready, and an event timed meanwhile pays for it."""
        client = self._client("restated", [(f"alarm/sensors/{last}", 1)])
        try:
            client.messages.get(timeout=timeout)
        except queue.Empty:
            raise TimeoutError(f"{last}'s state was not restated within {timeout} s") from None
        finally:
            client.stop()
        return time.perf_counter() - self.started

    def _client(self, role: str, topics: list[tuple[str, int]]) -> MqttClient:
        client = MqttClient(
            address=self.address,
            client_id=f"{self.base}-{role}",
            persistent=False,
            subscriptions=[(f"{self.base}/{topic}", qos) for topic, qos in topics],
            quiet=True,
        )
        client.start()
        return client

    def command(self, action: str, state: bytes, timeout: float | None = None) -> None:
        self.user.publish(f"{self.base}/alarm/set", action)
        self._await(self.user, "alarm/state", state, timeout or self.timeout)

    def trip(self) -> float:
        """Arm, open the window: milliseconds until the siren's ON; disarm, close."""
        self.command("ARM_HOME", b"armed_home")
        self.siren.drain()  # the OFF of the last disarm
        self.window.drain()  # PUBACKs (their ids are kept only while awaited)
        window = f"{self.base}/security/window/living"
        started = time.perf_counter()
        self.window.publish(window, b"OPEN")
        self.siren.expect(f"{self.base}/control/alarm", b"ON", self.timeout)
        elapsed = (time.perf_counter() - started) * 1000
        self.command('{"action": "DISARM", "code": "1234"}', b"disarmed")
        self.window.publish(window, b"CLOSED", acked=True)  # before the next arming
        return elapsed

    def rss_mb(self) -> float:
        return _rss_mb(self.process.pid)

    def dashboard_rss_mb(self) -> float:
        """The RSS of the dashboard's process (a child of the controller's; 0: none)."""
        pid = self.process.pid
        for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
            if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes():
                return _rss_mb(int(child))
        return 0.0

    def _await(self, client: MqttClient, topic: str, payload: bytes, timeout: float = 30) -> None:
        topic = f"{self.base}/{topic}"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"the controller exited; see {self._log.name}")
            try:
                message = client.messages.get(timeout=min(1.0, deadline - time.monotonic()))
            except queue.Empty:  # look at the process again
                continue
            if message.topic == topic and message.payload == payload:
                return
        raise TimeoutError(f"no {topic} {payload!r} within {timeout} s")

    def __enter__(self) -> ControllerProcess:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # paho 2.2 fails to stop a client that is reconnecting just then; it is ours,
        # and this process ends soon.
        with contextlib.suppress(AttributeError):
            self.user.stop()
        self.siren.close()
        self.window.close()
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._log.close()


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0
