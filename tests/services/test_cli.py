"""The ``homeguard`` command as a user runs it."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from homeguard import __version__
from homeguard.services.controller import Controller
from tests.conftest import free_port, wait_until
from tests.services.conftest import House, Observer, stop_process

pytestmark = pytest.mark.broker


def homeguard(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "homeguard", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=cwd,
    )


def test_version() -> None:
    result = homeguard("--version")
    assert result.stdout.strip() == f"homeguard {__version__}"


def test_status_over_the_api_loads_neither_the_config_nor_mqtt_nor_the_model() -> None:
    """``homeguard status --api`` is a short HTTP call: what it imports is most of its
    time (docs/performance.md), so it leaves out the config (pydantic), MQTT (paho), and
    the panel's model beyond its states and modes (core.modes)."""
    probe = (
        "import sys; from homeguard.cli.parser import build_parser, command_function;"
        "args = build_parser().parse_args(['status', '--api', 'http://127.0.0.1:1']);"
        "command_function(args);"
        "print(' '.join(sorted(sys.modules)))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    loaded = set(done.stdout.split())
    assert "homeguard.cli.api" in loaded  # the command was looked up
    heavy = {"pydantic", "paho", "yaml", "homeguard.config", "homeguard.core.model"}
    assert loaded & heavy == set()


def test_check_config_of_the_bundled_example(tmp_path: Path) -> None:
    result = homeguard("check-config", cwd=tmp_path)  # no ./homeguard.yaml: the example
    assert result.returncode == 0, result.stderr
    assert "config OK: 6 sensors" in result.stdout


def test_a_bad_config_is_one_clear_line(tmp_path: Path) -> None:
    path = tmp_path / "homeguard.yaml"
    path.write_text("mqtt: {port: 1883}\nsensors:\n  - {id: front, type: dor}\n")
    result = homeguard("check-config", "--config", str(path))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "line 3" in result.stderr and "sensors[0].type" in result.stderr


def test_an_unreachable_broker_is_one_clear_line(house: House) -> None:
    result = house.cli("status", "--broker", f"127.0.0.1:{free_port()}")
    assert result.returncode == 1
    assert result.stderr.startswith("homeguard: error: no MQTT broker answered")
    assert "Traceback" not in result.stderr


def test_broker_config_loses_nothing() -> None:
    result = homeguard("broker-config", "--port", "1999")
    assert "max_queued_messages 300000" in result.stdout
    assert "listener 1999 127.0.0.1" in result.stdout


def test_output_to_a_reader_that_has_gone_is_no_traceback() -> None:
    """``homeguard broker-config | head -1``, ``homeguard events | head``: the reader may
    go before the command has written all it has to say."""
    process = subprocess.Popen(
        [sys.executable, "-m", "homeguard", "broker-config"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()  # before it writes: starting takes it far longer
    stderr = process.stderr.read()
    process.stderr.close()
    assert process.wait(60) == 1
    assert stderr == ""


def test_arm_disarm_status_events(controller: Controller, house: House, observer: Observer) -> None:
    armed = house.cli("arm", "home", "--code", "1234")
    assert armed.returncode == 0, armed.stderr
    assert "armed_home" in armed.stdout
    again = house.cli("arm", "home", "--code", "1234")  # already armed: still an answer
    assert again.returncode == 0, again.stderr
    wrong = house.cli("disarm", "--code", "0000")
    assert wrong.returncode == 2
    assert "refused: wrong code" in wrong.stderr
    status = json.loads(house.cli("status", "--json").stdout)
    assert status["state"] == "armed_home"
    assert status["controller"] == "online"
    sent = house.cli("sensor", "living", "open")
    assert sent.returncode == 0, sent.stderr
    observer.wait_for("home/alarm/state", "triggered")
    assert house.cli("disarm", "--code", "1234").returncode == 0
    events = json.loads(house.cli("events", "--since", "1h", "--json").stdout)
    kinds = {e["type"] for e in events if e["kind"] == "system"}
    assert {"armed", "invalid_code", "triggered", "disarmed"} <= kinds
    front = json.loads(house.cli("events", "--device", "living", "--json").stdout)
    assert [e["state"] for e in front] == ["OPEN"]


def test_sensor_command_refuses_what_the_sensor_cannot_say(house: House) -> None:
    result = house.cli("sensor", "front", "motion")
    assert result.returncode == 1
    assert "unknown_state" in result.stderr
    result = house.cli("sensor", "ghost", "open")
    assert result.returncode == 1
    assert "no sensor 'ghost'" in result.stderr


def test_siren_by_hand(house: House, observer: Observer) -> None:
    actuators = house.process("actuators")
    try:
        observer.wait_for("home/control/siren/state", "OFF", timeout=20)
        sent = time.monotonic()
        observer.publish(
            "home/control/alarm", "ON", qos=2
        )  # mosquitto_pub -t home/control/alarm -m ON
        observer.wait_for("home/control/siren/state", "ON", after=sent)
        observer.publish("home/control/light", "ON", qos=2)
        observer.wait_for("home/control/light/state", "ON", after=sent)
    finally:
        stop_process(actuators)
    shown = (house.data_dir / "actuators.log").read_text()
    assert "SIREN SIREN IS SOUNDING" in shown


@pytest.mark.slow
def test_up_starts_its_own_broker_and_stops_cleanly(tmp_path: Path) -> None:
    port = free_port()  # nothing answers there, so `up` must start a broker
    config = tmp_path / "homeguard.yaml"
    example = (Path(__file__).parents[2] / "src/homeguard/examples/house.yaml").read_text()
    config.write_text(example.replace("port: 1883", f"port: {port}"))
    log = (tmp_path / "up.log").open("w")
    up = subprocess.Popen(
        [sys.executable, "-m", "homeguard", "up", "--data-dir", str(tmp_path / "data")],
        cwd=tmp_path,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:

        def status() -> dict[str, object]:
            result = homeguard(
                "status", "--json", "--data-dir", str(tmp_path / "data"), cwd=tmp_path
            )
            return json.loads(result.stdout) if result.returncode == 0 else {}

        wait_until(lambda: status().get("controller") == "online", timeout=30, what="controller")
        wait_until(lambda: len(status().get("devices", {})) >= 6, timeout=30, what="sensors")
        assert status()["state"] == "disarmed"
    finally:
        up.send_signal(signal.SIGINT)
        assert up.wait(timeout=30) == 0
    text = (tmp_path / "up.log").read_text()
    assert "started here" in text
    assert "Traceback" not in text
    assert homeguard("status", "--data-dir", str(tmp_path / "data"), cwd=tmp_path).returncode == 1
