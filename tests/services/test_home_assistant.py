"""Home Assistant MQTT discovery: the payloads (pure) and what the topic map and the
broker's ACL make of them. The payloads are checked against Home Assistant's own schemas
in test_home_assistant_schemas.py, and end to end in test_home_assistant_system.py."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from jinja2.sandbox import ImmutableSandboxedEnvironment

from homeguard.adapters.codecs import decode_command
from homeguard.adapters.topics import (
    DiscoveryConfigRoute,
    HomeAssistantStatusRoute,
    SensorBinding,
    TopicMap,
)
from homeguard.config import Config, parse_config
from homeguard.core.model import Action, SensorType
from homeguard.errors import ConfigError, PayloadError
from homeguard.services.accounts import CONTROLLER, site_accounts
from homeguard.services.home_assistant import discovery, home_assistant_topics

SITE = """
users:
  - {name: alice, pin: "1234"}
sensors:
  - {id: front, type: door, name: Front door}
  - {id: living, type: window}
  - {id: hall, type: motion}
  - {id: lid, type: tamper}
  - {id: button, type: panic}
  - {id: kitchen, type: smoke}
  - {id: cellar, type: water, family: zigbee2mqtt}
actuators:
  - {id: siren, type: siren}
  - {id: light, type: light}
security: {clients: [cli, homeassistant]}
"""


def site(extra: str = "", base: str = SITE) -> Config:
    return parse_config(base + extra)


def configs(config: Config) -> dict[str, dict[str, Any]]:
    return {m.topic: json.loads(m.payload) for m in discovery(config)}


def panel_of(config: Config) -> dict[str, Any]:
    (panel,) = [c for t, c in configs(config).items() if "/alarm_control_panel/" in t]
    return panel


def render(template: str, action: str, code: str | None) -> str:
    """What Home Assistant's alarm panel publishes (its templates are sandboxed Jinja)."""
    env = ImmutableSandboxedEnvironment()
    return env.from_string(template).render(action=action, code=code)


def test_the_panel_is_an_alarm_panel_on_the_contract_topics() -> None:
    panel = panel_of(site())
    assert panel["state_topic"] == "home/alarm/state"
    assert panel["command_topic"] == "home/alarm/set"
    assert panel["availability_topic"] == "home/alarm/availability"
    assert panel["device"]["identifiers"] == ["homeguard_home"]
    assert panel["unique_id"] == "homeguard_home_panel"
    expected = ["arm_away", "arm_home", "arm_night", "arm_vacation", "trigger"]
    assert panel["supported_features"] == expected


def test_supported_features_follow_the_configured_modes() -> None:
    config = site("panel: {modes: {armed_night: {}, armed_away: {exit_delay: 5}}}\n")
    assert panel_of(config)["supported_features"] == ["arm_away", "arm_night", "trigger"]


@pytest.mark.parametrize(
    ("panel", "users", "arm", "disarm", "code"),
    [
        ("", True, True, True, "REMOTE_CODE"),
        ("panel: {code_arm_required: false}\n", True, False, True, "REMOTE_CODE"),
        # The broker's ACL vouches for commands: a code is optional, still checked.
        ("panel: {mqtt_commands: trusted}\n", True, False, False, "REMOTE_CODE"),
        ("", False, False, False, None),
    ],
)
def test_code_settings_match_the_panel(
    panel: str, users: bool, arm: bool, disarm: bool, code: str | None
) -> None:
    base = SITE if users else SITE.replace('users:\n  - {name: alice, pin: "1234"}\n', "")
    entity = panel_of(site(panel, base))
    assert entity["code_arm_required"] is arm
    assert entity["code_disarm_required"] is disarm
    assert entity["code_trigger_required"] is False
    assert entity.get("code") == code


@pytest.mark.parametrize(
    ("action", "code"),
    [("ARM_AWAY", "1234"), ("DISARM", "0042"), ("ARM_NIGHT", None), ("TRIGGER", None)],
)
def test_the_command_template_carries_the_typed_code_to_homeguard(
    action: str, code: str | None
) -> None:
    panel = panel_of(site())
    payload = render(panel["command_template"], panel[f"payload_{action.lower()}"], code)
    command = decode_command(payload.encode())
    assert command.action is Action(action)
    assert command.code == code  # leading zeros kept: the code stays a string


def test_a_code_with_quotes_cannot_forge_a_command() -> None:
    panel = panel_of(site())
    typed = '1", "action": "DISARM'
    payload = render(panel["command_template"], "ARM_AWAY", typed)
    command = decode_command(payload.encode())
    assert command.action is Action.ARM_AWAY
    assert command.code == typed


def test_every_sensor_is_a_device_with_its_device_class_and_diagnostics() -> None:
    config = site()
    assert {s.type for s in config.sensors} == set(SensorType)  # one of each
    found = configs(config)
    classes = {
        "front": "door",
        "living": "window",
        "hall": "motion",
        "lid": "tamper",
        "button": "safety",
        "kitchen": "smoke",
        "cellar": "moisture",
    }
    for sensor, device_class in classes.items():
        main = found[f"homeassistant/binary_sensor/homeguard_home/{sensor}/config"]
        assert main["device_class"] == device_class
        assert main["state_topic"] == f"home/alarm/sensors/{sensor}"
        device = main["device"]
        assert device["identifiers"] == [f"homeguard_home_{sensor}"]
        assert device["via_device"] == "homeguard_home"
        trouble = found[f"homeassistant/binary_sensor/homeguard_home/{sensor}_trouble/config"]
        online = found[f"homeassistant/binary_sensor/homeguard_home/{sensor}_connectivity/config"]
        battery = found[f"homeassistant/sensor/homeguard_home/{sensor}_battery/config"]
        assert (trouble["device_class"], online["device_class"]) == ("problem", "connectivity")
        assert battery["device_class"] == "battery"
        assert trouble["device"] == online["device"] == battery["device"] == device
    assert (
        found["homeassistant/binary_sensor/homeguard_home/front/config"]["device"]["name"]
        == "Front door"
    )
    unique = [c["unique_id"] for c in found.values()]
    assert len(unique) == len(set(unique))


def test_siren_and_light_show_their_state_without_a_switch_by_default() -> None:
    found = configs(site())
    siren = found["homeassistant/binary_sensor/homeguard_home/siren/config"]
    light = found["homeassistant/binary_sensor/homeguard_home/light/config"]
    assert (siren["device_class"], light["device_class"]) == ("sound", "light")
    assert siren["state_topic"] == "home/control/siren/state"
    assert "command_topic" not in siren
    assert not any(t.split("/")[1] in ("siren", "light") for t in found)


def test_siren_and_light_switch_their_actuators_when_allowed() -> None:
    found = configs(site("home_assistant: {control_actuators: true}\n"))
    siren = found["homeassistant/siren/homeguard_home/siren/config"]
    light = found["homeassistant/light/homeguard_home/light/config"]
    assert siren["command_topic"] == "home/control/alarm"
    assert siren["state_topic"] == "home/control/siren/state"
    assert light["command_topic"] == "home/control/light"
    assert light["state_topic"] == "home/control/light/state"
    assert siren["device"]["identifiers"] == ["homeguard_home_siren"]


def test_prefix_node_id_and_off_switch() -> None:
    custom = site("home_assistant: {prefix: ha/disc, node_id: villa}\nmqtt: {base_topic: s/2}\n")
    topics = list(configs(custom))
    assert topics[0] == "ha/disc/alarm_control_panel/villa/panel/config"
    assert all(t.startswith("ha/disc/") and t.split("/")[3] == "villa" for t in topics)
    assert panel_of(custom)["state_topic"] == "s/2/alarm/state"
    derived = home_assistant_topics(site("mqtt: {base_topic: my site/2}\n"))
    assert derived is not None
    assert derived.node == "homeguard_my_site_2"
    assert discovery(site("home_assistant: {discovery: false}\n")) == []


def test_two_devices_on_one_entity_topic_are_refused() -> None:
    extra_sensor = "  - {id: front_trouble, type: door}\nactuators:\n"
    clash = parse_config(SITE.replace("actuators:\n", extra_sensor))
    with pytest.raises(ConfigError, match="front_trouble"):
        discovery(clash)


@pytest.mark.parametrize(
    "section",
    [
        "home_assistant: {node_id: a/b}\n",
        "home_assistant: {prefix: 'ha/#'}\n",
        "home_assistant: {prefix: /ha}\n",
        "home_assistant: {discover: true}\n",
    ],
)
def test_bad_home_assistant_settings_are_refused(section: str) -> None:
    with pytest.raises(ConfigError, match="home_assistant"):
        site(section)


def test_the_topic_map_hears_the_birth_and_our_own_configs_only() -> None:
    config = site()
    ha = home_assistant_topics(config)
    assert ha is not None
    bindings = [SensorBinding(s.id, s.type, s.family) for s in config.sensors]
    topics = TopicMap.build("home", bindings, ["siren"], discovery=ha)
    assert topics.route("homeassistant/status") == HomeAssistantStatusRoute()
    stale = "homeassistant/binary_sensor/homeguard_home/gone/config"
    assert topics.route(stale) == DiscoveryConfigRoute(stale)
    for foreign in (
        "homeassistant/binary_sensor/other_node/gone/config",
        "homeassistant/binary_sensor/homeguard_home/gone/state",
    ):
        with pytest.raises(PayloadError, match="unknown_topic"):
            topics.route(foreign)
    filters = [f for f, _ in topics.subscriptions()]
    assert "homeassistant/+/homeguard_home/+/config" in filters
    assert "homeassistant/status" in filters
    plain = TopicMap.build("home", bindings, ["siren"])
    with pytest.raises(PayloadError):
        plain.route("homeassistant/status")


def test_the_acl_lets_the_controller_publish_discovery_and_home_assistant_read_it() -> None:
    accounts = {a.name: a for a in site_accounts(site())}
    controller = accounts[CONTROLLER]
    assert "homeassistant/+/homeguard_home/+/config" in controller.publish
    assert "homeassistant/status" in controller.subscribe
    assert "home/alarm/sensors/+" in controller.publish
    ha = accounts["homeassistant"]
    assert "homeassistant/#" in ha.subscribe
    assert "home/alarm/sensors/+" in ha.subscribe
    own = "home/clients/homeassistant/#"  # its own topics (see docs/topics.md)
    assert set(ha.publish) == {"home/alarm/set", "homeassistant/status", own}  # no siren
    allowed = {
        a.name: a for a in site_accounts(site("home_assistant: {control_actuators: true}\n"))
    }
    assert {"home/control/alarm", "home/control/light"} <= set(allowed["homeassistant"].publish)
    off = {a.name: a for a in site_accounts(site("home_assistant: {discovery: false}\n"))}
    assert not any(t.startswith("homeassistant/") for t in off[CONTROLLER].publish)
    assert not any(t.startswith("homeassistant/") for t in off["homeassistant"].subscribe)


def test_check_config_reports_a_clash_of_entities(tmp_path: Path) -> None:
    path = tmp_path / "homeguard.yaml"
    path.write_text(
        SITE.replace("actuators:\n", "  - {id: front_trouble, type: door}\nactuators:\n")
    )
    result = subprocess.run(
        [sys.executable, "-m", "homeguard", "check-config", "--config", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert "two Home Assistant entities" in result.stderr
    assert "Traceback" not in result.stderr
