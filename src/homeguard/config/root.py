"""The root model: a whole site, made of the sections."""

from __future__ import annotations

import types
from collections.abc import Iterator, Mapping
from typing import Any

from pydantic import Field, ValidationInfo, field_validator, model_validator

from homeguard.config.base import Misplaced, Section
from homeguard.config.features import features
from homeguard.config.home_assistant import HomeAssistantConfig
from homeguard.config.mqtt import MqttConfig
from homeguard.config.notifications import NotificationsConfig
from homeguard.config.panel import ModeTimingConfig, PanelConfig
from homeguard.config.rule_checks import check_rules
from homeguard.config.rules import RulesConfig
from homeguard.config.security import RateLimitConfig, SecurityConfig, SigningConfig
from homeguard.config.sensors import ActuatorConfig, SensorConfig
from homeguard.config.simulation import SimulationConfig
from homeguard.config.storage import StorageConfig
from homeguard.config.uplink import UplinkConfig
from homeguard.config.users import UserConfig, valid_pin
from homeguard.config.web import WebConfig
from homeguard.core import codes
from homeguard.core.model import ArmMode, CodePolicy, PanelSettings

# The key that tells the items of a list section apart, and its name in messages.
_NAMED_BY: Mapping[str | None, tuple[str, str]] = {
    "users": ("name", "user name"),
    "sensors": ("id", "sensor id"),
    "actuators": ("id", "actuator id"),
}


def _duplicates(values: list[str]) -> Iterator[tuple[int, int]]:
    """(index, index of its first occurrence) for every repeated value."""
    first: dict[str, int] = {}
    for index, value in enumerate(values):
        if value in first:
            yield index, first[value]
        first.setdefault(value, index)


class Config(Section):
    """A whole site."""

    mqtt: MqttConfig = Field(default_factory=MqttConfig, description="The MQTT broker.")
    storage: StorageConfig = Field(default_factory=StorageConfig, description="The event store.")
    panel: PanelConfig = Field(default_factory=PanelConfig, description="The alarm panel.")
    users: tuple[UserConfig, ...] = Field(
        default=(), description="People with codes; none: no code is asked."
    )
    sensors: tuple[SensorConfig, ...] = Field(default=(), description="The sensors.")
    actuators: tuple[ActuatorConfig, ...] = Field(default=(), description="Sirens and lights.")
    simulation: SimulationConfig = Field(
        default_factory=SimulationConfig, description="The simulated house."
    )
    web: WebConfig = Field(default_factory=WebConfig, description="The web dashboard.")
    signing: SigningConfig = Field(
        default_factory=SigningConfig, description="Signed and encrypted sensor messages."
    )
    rate_limit: RateLimitConfig = Field(
        default_factory=RateLimitConfig, description="Messages per device, and floods."
    )
    security: SecurityConfig = Field(
        default_factory=SecurityConfig, description="Broker accounts, ACLs and TLS."
    )
    home_assistant: HomeAssistantConfig = Field(
        default_factory=HomeAssistantConfig, description="Home Assistant MQTT discovery."
    )
    uplink: UplinkConfig | None = Field(
        default=None, description="An upstream broker the event log is forwarded to; none: off."
    )
    notifications: NotificationsConfig = Field(
        default_factory=NotificationsConfig,
        description="Who is told what, through apprise (docs/notifications.md).",
    )
    rules: RulesConfig = Field(default_factory=RulesConfig, description="Edge rules.")

    @model_validator(mode="after")
    def _rules_name_what_exists(self) -> Config:
        ha = self.home_assistant
        check_rules(
            self.rules,
            sensors=self.sensors,
            actuators=self.actuators,
            base_topic=self.mqtt.base_topic,
            discovery_prefix=ha.prefix if ha.discovery else None,
            notifications=self.notifications,
        )
        return self

    @model_validator(mode="before")
    @classmethod
    def _distinct_pins(cls, data: Any) -> Any:
        """Runs before the users are validated, so while their plain PINs still exist."""
        users = data.get("users") if isinstance(data, Mapping) else None
        if not isinstance(users, list | tuple):
            return data
        entries = [u if isinstance(u, Mapping) else {} for u in users]
        pins = [(i, u["pin"]) for i, u in enumerate(entries) if valid_pin(u.get("pin"))]
        hashes = [
            (i, h)
            for i, u in enumerate(entries)
            if isinstance(h := u.get("pin_hash"), str) and codes.is_pin_hash(h)
        ]
        for key, given in (("pin", pins), ("pin_hash", hashes)):
            for index, first in _duplicates([value for _, value in given]):
                raise Misplaced(
                    f"the same PIN as users[{given[first][0]}]: every user, duress "
                    "included, needs a PIN of their own",
                    "users",
                    given[index][0],
                    key,
                )
        # Mixed forms: a plain PIN can only be compared with a hash by hashing it.
        for index, pin in pins:
            for other, pin_hash in hashes:
                if codes.verify_pin(pin_hash, pin):
                    raise Misplaced(
                        f"the same PIN as users[{other}] (pin_hash): every user needs "
                        "a PIN of their own",
                        "users",
                        index,
                        "pin",
                    )
        return data

    @field_validator("users", "sensors", "actuators")
    @classmethod
    def _unique(cls, items: tuple[Section, ...], info: ValidationInfo) -> tuple[Section, ...]:
        key, what = _NAMED_BY[info.field_name]
        for index, first in _duplicates([getattr(item, key) for item in items]):
            raise Misplaced(f"duplicate {what} (also {info.field_name}[{first}])", index, key)
        return items

    @model_validator(mode="after")
    def _chime_sensors_known(self) -> Config:
        known = {sensor.id for sensor in self.sensors}
        for index, sensor_id in enumerate(self.panel.chime.sensors or ()):
            if sensor_id not in known:
                raise Misplaced("no such sensor", "panel", "chime", "sensors", index)
        return self

    def panel_settings(self) -> PanelSettings:
        """The engine's view of this site: core types only, PINs hashed."""
        panel = self.panel
        modes = {mode: panel.modes.get(mode, ModeTimingConfig()).timing() for mode in ArmMode}
        lockout = panel.lockout
        return PanelSettings(
            sensors=tuple(sensor.spec() for sensor in self.sensors),
            users=tuple(user.user() for user in self.users),
            modes=types.MappingProxyType(modes),
            disarm_after_trigger=panel.disarm_after_trigger,
            code_arm_required=panel.code_arm_required,
            bypass_while_armed=panel.bypass_while_armed,
            swinger_limit=panel.swinger_limit,
            codes=CodePolicy(
                lockout.max_failures, lockout.window, lockout.duration, lockout.max_duration
            ),
            report_grace=panel.report_grace,
            restart_grace=panel.restart_grace,
            features=features(panel.chime, panel.walk_test, panel.squawk, panel.lights),
            rules=self.rules.book(),
        )
