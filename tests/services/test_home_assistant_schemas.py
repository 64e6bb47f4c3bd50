"""Every discovery payload, checked by Home Assistant's own code.

Home Assistant pins its own versions of many packages, so it is not in the test
environment: ``scripts/test`` installs requirements/ha.lock into a virtualenv of its own
(``~/.cache/homeguard/ha-venv-<hash of the lock>``) and names its Python in
``HOMEGUARD_HA_PYTHON``. ``ha_check.py`` runs there: the DISCOVERY_SCHEMA of each MQTT
component (alarm_control_panel, binary_sensor, sensor, siren, light), the alarm panel's
command template rendered by Home Assistant's template engine, and the entities' value
templates rendered against what homeguard publishes.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from homeguard.adapters.codecs import decode_command
from homeguard.adapters.topics import SiteTopics
from homeguard.config import Config, bundled_example, load_config, parse_config
from homeguard.core.model import Action, SensorState
from homeguard.core.panel import SensorStatus, Trouble
from homeguard.services.home_assistant import discovery
from homeguard.services.outbound import Outbound
from tests.services.test_home_assistant import SITE

ROOT = Path(__file__).resolve().parents[2]
CHECK = Path(__file__).with_name("ha_check.py")


def ha_python() -> Path | None:
    """The Home Assistant virtualenv's Python: as scripts/test names it, or where it puts
    it for the current lock; None when it was never installed."""
    named = os.environ.get("HOMEGUARD_HA_PYTHON")
    if named:
        return Path(named)
    digest = hashlib.sha256((ROOT / "requirements" / "ha.lock").read_bytes()).hexdigest()
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    venv = cache / "homeguard" / f"ha-venv-{digest[:16]}"
    return venv / "bin" / "python" if (venv / ".installed").exists() else None


@pytest.fixture(scope="module")
def python() -> Path:
    found = ha_python()
    if found is None:
        pytest.skip(
            "Home Assistant's virtualenv is not installed: `bash scripts/test` creates it "
            "from requirements/ha.lock (or set HOMEGUARD_HA_PYTHON)"
        )
    assert found.exists(), f"HOMEGUARD_HA_PYTHON names {found}, which does not exist"
    return found


class _Capture:
    def __init__(self) -> None:
        self.sent: dict[str, str] = {}

    def publish(
        self,
        topic: str,
        payload: bytes | str,
        qos: int = 1,
        retain: bool = False,
        *,
        replaceable: bool = False,
    ) -> None:
        self.sent[topic] = payload.decode() if isinstance(payload, bytes) else payload


def check(python: Path, config: Config, **extra: Any) -> dict[str, Any]:
    request = {
        "messages": [
            {"topic": m.topic, "config": json.loads(m.payload)} for m in discovery(config)
        ],
        "commands": extra.get("commands", []),
        "states": extra.get("states", {}),
    }
    done = subprocess.run(
        [str(python), str(CHECK)],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, Any] = json.loads(done.stdout)
    assert result["version"].startswith("2024.3."), result["version"]
    return result


CONFIGS = {
    "every kind": SITE,
    "no users": SITE.replace('users:\n  - {name: alice, pin: "1234"}\n', ""),
    "trusted, some modes": SITE + "panel: {mqtt_commands: trusted, modes: {armed_home: {}}}\n",
    "other prefix": SITE + "home_assistant: {prefix: ha/x, node_id: villa}\n",
    "switches": SITE + "home_assistant: {control_actuators: true}\n",
}


@pytest.mark.parametrize("name", list(CONFIGS))
def test_every_payload_passes_home_assistants_schemas(python: Path, name: str) -> None:
    config = parse_config(CONFIGS[name])
    result = check(python, config)
    assert result["errors"] == []


def test_the_example_house_passes_too(python: Path) -> None:
    assert check(python, load_config(bundled_example()))["errors"] == []


def test_a_wrong_payload_is_caught(python: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The check can fail: a misspelt key, a missing topic."""
    from homeguard.services import home_assistant

    original = home_assistant._panel

    def broken(*args: Any) -> dict[str, Any]:
        entity = original(*args)
        entity["code_arm_requried"] = entity.pop("code_arm_required")
        del entity["command_topic"]
        return entity

    monkeypatch.setattr(home_assistant, "_panel", broken)
    errors = check(python, parse_config(SITE))["errors"]
    assert [e["topic"] for e in errors] == [
        "homeassistant/alarm_control_panel/homeguard_home/panel/config"
    ]
    assert "command_topic" in errors[0]["error"]


def test_home_assistants_keypad_renders_commands_homeguard_understands(python: Path) -> None:
    commands = [
        {"action": "ARM_AWAY", "code": "1234"},
        {"action": "ARM_HOME", "code": "0042"},
        {"action": "DISARM", "code": '9" , "force": true'},
        {"action": "TRIGGER", "code": None},
    ]
    rendered = check(python, parse_config(SITE), commands=commands)["rendered"]
    decoded = [decode_command(payload.encode()) for payload in rendered]
    assert [(c.action, c.code, c.force) for c in decoded] == [
        (Action.ARM_AWAY, "1234", False),
        (Action.ARM_HOME, "0042", False),
        (Action.DISARM, '9" , "force": true', False),
        (Action.TRIGGER, None, False),
    ]


@pytest.mark.parametrize(
    ("status", "battery", "values"),
    [
        (SensorStatus(), None, ("None", "OFF", "ON", "None")),
        (SensorStatus(SensorState.OPEN), 87, ("ON", "OFF", "ON", "87")),
        (
            SensorStatus(SensorState.CLOSED, trouble=Trouble.SUPERVISION),
            5,
            ("OFF", "ON", "ON", "5"),
        ),
        (
            SensorStatus(SensorState.CLOSED, trouble=Trouble.OFFLINE),
            None,
            ("OFF", "ON", "OFF", "None"),
        ),
    ],
)
def test_entities_read_what_homeguard_publishes(
    python: Path, status: SensorStatus, battery: int | None, values: tuple[str, ...]
) -> None:
    sink = _Capture()
    Outbound(sink, SiteTopics("home")).sensor("front", status, bypassed=False, battery=battery)
    seen = check(python, parse_config(SITE), states=sink.sent)["values"]
    node = "homeassistant/{}/homeguard_home/{}/config"
    assert (
        seen[node.format("binary_sensor", "front")],
        seen[node.format("binary_sensor", "front_trouble")],
        seen[node.format("binary_sensor", "front_connectivity")],
        seen[node.format("sensor", "front_battery")],
    ) == values
