"""Run by the test suite with Home Assistant's own Python (the virtualenv that
scripts/test creates from requirements/ha.lock); pytest never imports it.

Reads JSON on stdin: ``messages`` (``[{"topic", "config"}]``: discovery configs),
``commands`` (``[{"action", "code"}]``) and ``states`` (``{topic: payload}``). It
validates every config with the DISCOVERY_SCHEMA of its component in Home Assistant's
MQTT integration (a key the schema drops, i.e. unknown to Home Assistant, is an error
too), renders the alarm panel's command template for each command exactly as that panel
does when a button of its keypad is pressed, and renders each entity's value template
against the payload of its state topic. Writes ``{"version", "errors": [{"topic",
"error"}], "rendered": [payload, ...], "values": {config topic: value}}``.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import sys
import tempfile
from typing import Any

from homeassistant.components.mqtt.models import MqttCommandTemplate, MqttValueTemplate
from homeassistant.const import __version__
from homeassistant.core import HomeAssistant


async def main() -> None:
    request = json.load(sys.stdin)
    errors: list[dict[str, str]] = []
    valid: dict[str, dict[str, Any]] = {}
    for message in request["messages"]:
        topic, config = message["topic"], message["config"]
        component = topic.split("/")[-4]
        module = importlib.import_module(f"homeassistant.components.mqtt.{component}")
        try:
            validated = module.DISCOVERY_SCHEMA(config)
        except Exception as exc:  # voluptuous.Invalid and friends: report, go on
            errors.append({"topic": topic, "error": f"{type(exc).__name__}: {exc}"})
            continue
        dropped = sorted(set(config) - set(validated))
        if dropped:
            errors.append({"topic": topic, "error": f"keys Home Assistant ignores: {dropped}"})
        valid[topic] = validated
    with tempfile.TemporaryDirectory() as config_dir:
        hass = HomeAssistant(config_dir)  # templates render only with one
    rendered = []
    panel = next((v for t, v in valid.items() if "/alarm_control_panel/" in t), None)
    if panel is not None:
        template = MqttCommandTemplate(panel["command_template"], hass=hass)
        for command in request["commands"]:
            action = panel["payload_" + command["action"].lower()]
            rendered.append(
                template.async_render(None, variables={"action": action, "code": command["code"]})
            )
    values = {}
    for topic, entity in valid.items():
        payload = request["states"].get(entity.get("state_topic"))
        if payload is None or entity.get("value_template") is None:
            continue
        value = MqttValueTemplate(entity["value_template"], hass=hass)
        values[topic] = value.async_render_with_possible_json_value(payload)
    json.dump(
        {"version": __version__, "errors": errors, "rendered": rendered, "values": values},
        sys.stdout,
    )


if __name__ == "__main__":
    asyncio.run(main())
