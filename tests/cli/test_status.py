"""``homeguard status`` over MQTT: the whole retained state, as soon as the broker has
sent it (a message the command sends itself marks the end), ``--timeout`` at most."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from homeguard.adapters.mqtt import BrokerAddress, Message, MqttClient
from homeguard.cli.status import _retained
from tests.conftest import MosquittoProcess, client_id

SENSORS = 200  # ten times what Mosquitto sends a client before its acknowledgements


def _config(tmp_path: Path, broker: MosquittoProcess) -> Path:
    path = tmp_path / "homeguard.yaml"
    lines = [f"mqtt: {{host: 127.0.0.1, port: {broker.port}, base_topic: home}}", "sensors:"]
    lines += [f"  - {{id: s{n}, type: door}}" for n in range(SENSORS)]
    path.write_text("\n".join(lines) + "\n")
    return path


def _retain(broker: MosquittoProcess, messages: dict[str, str]) -> None:
    """Publish ``messages`` retained; return once the broker has them all."""
    client = MqttClient(
        address=broker.address, client_id=client_id("retain"), persistent=False, quiet=True
    )
    client.start()
    try:
        for topic, payload in messages.items():
            client.publish(topic, payload, qos=1, retain=True)
        assert client.wait_published(15)
    finally:
        client.stop()


def _status(tmp_path: Path, config: Path) -> dict[str, Any]:
    """``homeguard status --json --timeout 60``, given 30 s: it must not need its timeout."""
    where = ["--config", str(config), "--data-dir", str(tmp_path / "data")]
    done = subprocess.run(
        [sys.executable, "-m", "homeguard", "status", "--json", "--timeout", "60", *where],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    report: dict[str, Any] = json.loads(done.stdout)
    return report


def test_status_answers_with_everything_retained_without_waiting_its_timeout(
    stock_mosquitto: MosquittoProcess, tmp_path: Path
) -> None:
    config = _config(tmp_path, stock_mosquitto)
    retained = {f"home/devices/s{n}/availability": "online" for n in range(SENSORS)}
    _retain(stock_mosquitto, {**retained, "home/alarm/state": "armed_away"})
    report = _status(tmp_path, config)
    assert report["state"] == "armed_away"
    assert report["devices"] == {f"s{n}": "online" for n in range(SENSORS)}


def test_a_retained_message_published_just_before_is_in_the_report(
    mosquitto: MosquittoProcess, tmp_path: Path
) -> None:
    config = _config(tmp_path, mosquitto)
    _retain(mosquitto, {"home/alarm/state": "armed_away", "home/alarm/availability": "online"})
    assert _status(tmp_path, config)["state"] == "armed_away"
    _retain(mosquitto, {"home/alarm/state": "triggered", "home/devices/s7/availability": "offline"})
    report = _status(tmp_path, config)
    assert (report["state"], report["controller"]) == ("triggered", "online")
    assert report["devices"]["s7"] == "offline"
    assert set(report["devices"].values()) == {"unknown", "offline"}


def test_without_the_marker_the_timeout_ends_the_wait() -> None:
    """A marker that cannot be subscribed to (here: the client is not connected) never
    comes back: what came within the timeout is the answer, and nothing is published."""
    client = MqttClient(address=BrokerAddress("127.0.0.1", 1), client_id=client_id("never"))
    came = Message("home/alarm/state", b"disarmed", qos=0, retain=True, mid=0, dup=False)
    client.messages.put(came)
    assert _retained(client, "home/clients/cli/status/1", timeout=0.1) == [came]
    assert client.unpublished == 0


def test_the_sensors_in_trouble_the_status_does_not_name_are_counted(
    mosquitto: MosquittoProcess, tmp_path: Path
) -> None:
    config = _config(tmp_path, mosquitto)
    # A large site's retained status names the first 1,000 sensors in trouble only.
    status = {"status": "OK", "troubles": {"s1": "offline"}, "troubles_total": 1500}
    _retain(mosquitto, {"home/security/status": json.dumps(status)})
    where = ["--config", str(config), "--data-dir", str(tmp_path / "data")]
    done = subprocess.run(
        [sys.executable, "-m", "homeguard", "status", "--timeout", "60", *where],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "  s1           unknown (offline)" in done.stdout.splitlines()
    assert "trouble:    1499 more sensors in trouble (homeguard status --api lists all)" in (
        done.stdout.splitlines()
    )


def test_status_imports_none_of_the_scoring_process() -> None:
    """``status`` reads sensor health (``services.health``) without importing the scoring
    process's modules (multiprocessing, the anomaly detector): most of a command's time
    is its imports (docs/performance.md, the thirteenth pass)."""
    heavy = ("homeguard.services.intelligence", "homeguard.services.anomaly", "multiprocessing")
    code = f"import sys, homeguard.cli.status; print([m for m in {heavy!r} if m in sys.modules])"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
