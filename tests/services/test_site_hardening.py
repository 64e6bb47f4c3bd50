"""Issue 9 on a whole site: revoke (finding 10), private files (13), the published demo
(9), codes off the command line (12), and every homeguard client on the broker that
binds client ids to logins (2)."""

from __future__ import annotations

import json
import os
import pty
import signal
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from homeguard.adapters.broker import LocalBroker
from homeguard.adapters.mqtt import BrokerAddress, MqttClient
from homeguard.app import Site, connected_controller, start_local_broker
from homeguard.config import load_config
from homeguard.core.model import Action, ArmMode, PanelState
from homeguard.core.panel import Trouble, blocking_sensors
from homeguard.core.signals import Command
from homeguard.errors import BrokerError
from homeguard.services.controller import Controller
from homeguard.services.provisioning import load_credentials, provision, revoke
from tests.conftest import MosquittoProcess, client_id, free_port, wait_until
from tests.services.conftest import House, Observer, event

pytestmark = pytest.mark.broker

EXAMPLE = Path(__file__).parents[2] / "src/homeguard/examples/house.yaml"
SIGNED_HOUSE = """
mqtt: {{host: 127.0.0.1, port: {port}, base_topic: home}}
storage: {{path: events.db, synchronous: normal}}
sensors:
  - {{id: front, type: door, zone: entry, signed: true}}
  - {{id: living, type: window, zone: perimeter}}
actuators:
  - {{id: siren, type: siren}}
"""


def homeguard(
    *args: str,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    stdin: str | None = None,
    timeout: float = 60,
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "homeguard", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        input=stdin if stdin is not None else "",
    )


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def refused(address: BrokerAddress) -> bool:
    client = MqttClient(address=address, client_id=client_id("retry"), persistent=False)
    try:
        client.start(timeout=2)
    except BrokerError:
        return True
    client.stop()
    return False


# ------------------------------------------------------------------ 10: revoke


def test_revoke_reloads_the_broker_homeguard_started(tmp_path: Path) -> None:
    config = tmp_path / "homeguard.yaml"
    config.write_text(SIGNED_HOUSE.format(port=free_port()))
    data = tmp_path / "data"
    site = Site(load_config(config), data)
    broker = start_local_broker(site)
    try:
        assert broker.kind == "mosquitto"
        front = site.broker_address("front")
        device = MqttClient(address=front, client_id="front", persistent=False)
        device.start(timeout=5)
        result = homeguard("revoke", "front", "--config", str(config), "--data-dir", str(data))
        assert result.returncode == 0, result.stderr
        assert "reloaded" in result.stdout
        # Its open connection is closed, and it cannot log in again.
        wait_until(lambda: not device.connected, timeout=10, what="front to be thrown out")
        assert refused(front)
        device.stop(timeout=0.5)
    finally:
        broker.stop()
    # With no broker homeguard started, revoke says what to do.
    result = homeguard("revoke", "living", "--config", str(config), "--data-dir", str(data))
    assert result.returncode == 0, result.stderr
    assert "kill -HUP" in result.stdout and "can still log in" in result.stdout


def test_a_site_with_a_large_broker_store_has_it_saved_less_often(tmp_path: Path) -> None:
    """2,400 sensors with Home Assistant's discovery keep about 8.4 MB in the broker's
    store (3.5 KB each, measured): the broker homeguard starts, and the config
    ``broker-config`` writes, save it every 2 s instead of every second (a save holds
    up every client, alarms included: docs/broker.md)."""
    house = SIGNED_HOUSE.format(port=free_port())
    lines = [f"  - {{id: s{n}, type: motion}}\n" for n in range(2_398)]
    config = tmp_path / "homeguard.yaml"
    config.write_text(house.replace("actuators:", "".join(lines) + "actuators:"))
    site = Site(load_config(config, hash_codes=False), tmp_path / "data")
    assert site.broker_store_bytes == 2_401 * (220 + 3_250)
    printed = homeguard("broker-config", "--config", str(config), "--data-dir", str(tmp_path))
    assert "autosave_interval 2" in printed.stdout.splitlines()
    broker = start_local_broker(site)
    try:
        written = (tmp_path / "data" / "broker" / "mosquitto.conf").read_text()
        assert "autosave_interval 2" in written.splitlines()
    finally:
        broker.stop()
    # Without discovery, the same sensors keep 0.5 MB: every second, as for a house.
    config.write_text(config.read_text() + "home_assistant: {discovery: false}\n")
    printed = homeguard("broker-config", "--config", str(config), "--data-dir", str(tmp_path))
    assert "autosave_interval 1" in printed.stdout.splitlines()


@pytest.fixture
def revoked_house(mosquitto: MosquittoProcess, tmp_path: Path) -> House:
    config = tmp_path / "homeguard.yaml"
    config.write_text(SIGNED_HOUSE.format(port=mosquitto.port))
    data = tmp_path / "data"
    provision(load_config(config), data / "security", time.time())
    revoke("front", data / "security", time.time())  # still in the config, and signed
    return House(mosquitto, config, data)


def test_the_controller_starts_with_a_revoked_sensor_and_reports_trouble(
    revoked_house: House, observer: Observer
) -> None:
    stop = threading.Event()
    with connected_controller(revoked_house.site) as controller:
        thread = threading.Thread(target=controller.run, args=(stop,), daemon=True)
        thread.start()
        try:
            observer.wait_for("home/alarm/event", event("trouble"))
            wait_until(lambda: controller.panel.sensor("front").trouble is Trouble.REVOKED)
            [trouble] = observer.events("trouble")
            assert trouble["sensor"] == "front" and trouble["trouble"] == "revoked"
            # Nothing it says is believed, not even that it is back online.
            observer.publish("home/devices/front/availability", "online")
            observer.publish("home/security/door/front", "CLOSED")
            wait_until(lambda: controller.stats.rejected["revoked"] >= 2, what="refusals")
            assert controller.panel.sensor("front").trouble is Trouble.REVOKED
            settings = revoked_house.site.settings
            assert blocking_sensors(controller.panel, settings, ArmMode.AWAY) == {
                "front": "revoked"
            }
            outcome = controller.request(Command(Action.ARM_AWAY, source="api"))
            assert outcome.rejection is not None  # arming needs force, as with any trouble
        finally:
            stop.set()
            thread.join(timeout=10)
    with revoked_house.store() as store:
        assert store.count_system_events(event_type="trouble") == 1


# ------------------------------------------------------------------ 13: file modes


def test_data_dir_event_store_and_secrets_are_private(house: House) -> None:
    data = house.data_dir

    def run_controller_once() -> None:
        provision(house.site.config, data / "security", time.time())
        with connected_controller(house.site) as controller:
            controller.start()
            db = data / "events.db"
            assert mode(data) == 0o700
            assert mode(data / "security") == 0o700
            for path in (db, db.with_name("events.db-wal"), db.with_name("events.db-shm")):
                assert mode(path) == 0o600, path
            for path in (data / "security" / "devices").glob("*"):
                assert mode(path) & 0o077 == 0 or path.suffix == ".crt", path

    old_umask = os.umask(0o022)  # the usual one
    try:
        run_controller_once()  # created private
        data.chmod(0o755)  # as an older homeguard left them
        for path in data.glob("events.db*"):
            path.chmod(0o644)
        run_controller_once()  # tightened
    finally:
        os.umask(old_umask)
    broker_dir = data / "broker"
    with LocalBroker.start(broker_dir, free_port(), prefer="mosquitto"):
        assert mode(broker_dir) == 0o700


# ------------------------------------------------------------------ 9: the demo


def test_the_controller_refuses_the_published_example_unless_told_demo(tmp_path: Path) -> None:
    nowhere = f"127.0.0.1:{free_port()}"  # never the system broker
    data = str(tmp_path / "data")
    result = homeguard("controller", "--broker", nowhere, "--data-dir", data, cwd=tmp_path)
    assert result.returncode == 1
    [line] = result.stderr.splitlines()
    assert line.startswith("homeguard: error:") and "--demo" in line and "published" in line


def test_up_without_a_config_says_loudly_that_it_runs_the_demo(
    mosquitto: MosquittoProcess, observer: Observer, tmp_path: Path
) -> None:
    output = tmp_path / "up.log"
    with output.open("w") as log:
        up = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "homeguard",
                "up",
                "--broker",
                f"127.0.0.1:{mosquitto.port}",
                "--data-dir",
                str(tmp_path / "data"),
            ],
            cwd=tmp_path,  # no homeguard.yaml: the bundled example
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            # The controller runs (given --demo by up): the house works as documented.
            observer.wait_for("home/alarm/availability", "online", timeout=30)
            observer.wait_for("home/alarm/state", "disarmed", timeout=30)
        finally:
            up.send_signal(signal.SIGINT)
            assert up.wait(timeout=30) == 0
    text = output.read_text()
    assert "DEMO" in text and "PUBLISHED" in text and str(EXAMPLE.name) in text
    assert "Traceback" not in text


# ------------------------------------------------------------------ 12: codes


def test_codes_come_from_the_environment_stdin_or_a_prompt_never_argv(
    controller: Controller, house: House, observer: Observer
) -> None:
    common = ("--config", str(house.config_path), "--data-dir", str(house.data_dir))
    # (--force: the house's supervised shed falls silent in 3 s, a trouble)
    # From the environment: not in the process's command line, which anyone can read.
    arm = subprocess.Popen(
        [sys.executable, "-m", "homeguard", "arm", "home", "--force", *common],
        env={**os.environ, "HOMEGUARD_CODE": "1234"},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    argv = Path(f"/proc/{arm.pid}/cmdline").read_bytes()
    _, err = arm.communicate(timeout=60)
    assert b"1234" not in argv
    assert arm.returncode == 0, err
    wait_until(lambda: controller.panel.state is PanelState.ARMED_HOME, what="armed by env")
    # From standard input (and nothing there is a clear error).
    empty = homeguard("disarm", "--code", "-", *common, stdin="")
    assert empty.returncode == 1 and "no code on standard input" in empty.stderr
    result = homeguard("disarm", "--code", "-", *common, stdin="1234\n")
    assert result.returncode == 0, result.stderr
    assert "panel: disarmed" in result.stdout
    # From a prompt, when standard input is a terminal (a new session: no other tty).
    leader, follower = pty.openpty()
    try:
        prompted = subprocess.Popen(
            [sys.executable, "-m", "homeguard", "arm", "home", "--force", *common],
            stdin=follower,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        assert prompted.stderr is not None
        prompt = b""
        while b"Code" not in prompt:  # getpass flushes what was typed before it asks
            chunk = os.read(prompted.stderr.fileno(), 100)
            assert chunk, "no prompt"
            prompt += chunk
        os.write(leader, b"1234\n")
        _, err_bytes = prompted.communicate(timeout=60)
    finally:
        os.close(leader)
        os.close(follower)
    assert prompted.returncode == 0, err_bytes
    assert b"1234" not in prompt + err_bytes  # not echoed
    wait_until(lambda: controller.panel.state is PanelState.ARMED_HOME, what="armed by prompt")
    # --code CODE still works, with a warning that it shows in ps.
    result = homeguard("disarm", "--code", "1234", *common)
    assert result.returncode == 0 and "visible to every user" in result.stderr


# ------------------------------------------------------------------ 2: every client


def test_up_every_client_connects_as_its_login_and_keeps_its_session(tmp_path: Path) -> None:
    """On the broker that binds client ids to logins, the controller (persistent
    session), the simulated sensors, the siren and light, and the CLI all work."""
    port = free_port()
    text = EXAMPLE.read_text().replace("port: 1883", f"port: {port}")
    web, sep, rest = text.partition("\nweb:")
    assert sep, "the example has a web section"
    # No dashboard on the example's port 8080, which other programs may use.
    (tmp_path / "homeguard.yaml").write_text(
        web + sep + rest.replace("enabled: true", "enabled: false", 1)
    )
    data = tmp_path / "data"
    env = {"HOMEGUARD_DATA_DIR": str(data)}
    with (tmp_path / "up.log").open("w") as log:
        up = subprocess.Popen(
            [sys.executable, "-m", "homeguard", "up"],
            cwd=tmp_path,
            env={**os.environ, **env},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:

            def status() -> dict[str, object]:
                result = homeguard("status", "--json", cwd=tmp_path, env=env)
                return json.loads(result.stdout) if result.returncode == 0 else {}

            wait_until(lambda: status().get("controller") == "online", timeout=40)
            wait_until(lambda: len(status().get("devices", {})) >= 8, timeout=30)
            code = {**env, "HOMEGUARD_CODE": "1234"}
            armed = homeguard("arm", "away", "--force", cwd=tmp_path, env=code)
            assert armed.returncode == 0 and "panel: arming" in armed.stdout, armed.stderr
            disarmed = homeguard("disarm", cwd=tmp_path, env=code)
            assert "panel: disarmed" in disarmed.stdout, disarmed.stderr
            # Publishing as a sensor takes its login's one connection over for a moment;
            # the simulated sensor comes back and says it is online again.
            sent = homeguard("sensor", "front", "open", cwd=tmp_path, env=env)
            assert sent.returncode == 0, sent.stderr
            wait_until(lambda: status().get("devices", {}).get("front") == "online")
        finally:
            up.send_signal(signal.SIGINT)
            assert up.wait(timeout=30) == 0
    broker_log = (data / "broker" / "mosquitto.log").read_text()
    # The controller's id is its login, with a persistent session (c0), never kicked.
    assert "as controller (p2, c0" in broker_log
    assert "Client controller already connected" not in broker_log
    for login in ("front", "hall", "siren", "light", "cli"):
        assert f"as {login} (" in broker_log, login
    events = homeguard("events", "--device", "front", "--json", cwd=tmp_path, env=env)
    assert any(row["state"] == "OPEN" for row in json.loads(events.stdout))
    credentials = load_credentials(data / "security", "controller")
    assert credentials is not None and credentials.username == "controller"


@pytest.fixture(autouse=True)
def _no_stray_code(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HOMEGUARD_CODE", raising=False)
