"""Section ``home_assistant``: Home Assistant MQTT discovery."""

from __future__ import annotations

import re

from pydantic import Field

from homeguard.config.base import ID_PATTERN, Section, TopicPrefix


class HomeAssistantConfig(Section):
    """Home Assistant MQTT discovery (docs/home-assistant.md)."""

    discovery: bool = Field(
        default=True,
        description="Publish the panel, sensors, siren and light as Home Assistant "
        "entities (retained discovery configs under `prefix`).",
    )
    prefix: TopicPrefix = Field(
        default="homeassistant",
        description="Home Assistant's discovery prefix (its MQTT integration's setting).",
    )
    node_id: str | None = Field(
        default=None,
        pattern=ID_PATTERN,
        max_length=64,
        description="Second level of the discovery topics and the panel device's "
        "identifier; none: homeguard_<base_topic> (other characters than letters, digits, "
        "'-' and '_' become '_').",
    )
    control_actuators: bool = Field(
        default=False,
        description="Offer the siren and light as switches (siren and light entities) "
        "and let the security.clients logins switch them; false: their state only, "
        "since whoever can switch the siren can silence an alarm (docs/security.md).",
    )

    def node(self, base_topic: str) -> str:
        """The node id in use: the configured one, or one derived from the base topic."""
        return self.node_id or "homeguard_" + re.sub(r"[^A-Za-z0-9_-]", "_", base_topic)
