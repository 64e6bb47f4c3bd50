"""Section ``uplink``: forwarding the event log to an upstream MQTT broker (docs/uplink.md)."""

from __future__ import annotations

import os
from typing import Self

from pydantic import Field, SecretStr, field_validator, model_validator

from homeguard.config.base import (
    ID_PATTERN,
    FileNextToConfig,
    Misplaced,
    Seconds,
    Section,
    TopicName,
)
from homeguard.config.mqtt import TlsConfig
from homeguard.core.signals import EventKind
from homeguard.errors import ConfigError


class UplinkConfig(Section):
    """An upstream broker (a monitoring company's, or your own cloud) that receives the
    site's committed events in batches, and its alarms at once."""

    host: str = Field(min_length=1, description="Upstream broker host name or address.")
    port: int = Field(
        default=8883, ge=1, le=65535, description="Upstream broker TCP port (8883: MQTT over TLS)."
    )
    tls: TlsConfig | None = Field(
        default=None,
        description="TLS towards the upstream broker (CA file, optional client certificate "
        "and key); none: plain TCP, which sends the house's events in clear text.",
    )
    username: str | None = Field(default=None, description="Upstream login, if any.")
    password: SecretStr | None = Field(
        default=None,
        description="Upstream password in the file itself; prefer password_file or "
        "password_env. Never printed.",
    )
    password_file: FileNextToConfig | None = Field(
        default=None,
        description="File holding the upstream password (its first line), read at start; "
        "relative to the config file.",
    )
    password_env: str | None = Field(
        default=None,
        min_length=1,
        description="Environment variable holding the upstream password, read at start.",
    )
    site_id: str = Field(
        min_length=1,
        max_length=64,
        pattern=ID_PATTERN,
        description="This site's name upstream: in every message and in the default topics.",
    )
    client_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=65535,
        description="Fixed MQTT client id upstream; none: homeguard-uplink-<site_id>.",
    )
    topic: TopicName | None = Field(
        default=None,
        description="Topic of the event batches; none: homeguard/<site_id>/events.",
    )
    alarm_topic: TopicName | None = Field(
        default=None,
        description="Topic of the alarms sent ahead of the batches; none: "
        "homeguard/<site_id>/alarms.",
    )
    batch_size: int = Field(
        default=100, ge=1, le=1000, description="Most events in one batch message."
    )
    batch_interval: Seconds = Field(
        default=5.0,
        ge=0,
        le=3600,
        description="Seconds the first unsent event waits for others before a batch "
        "smaller than batch_size goes; 0: at once.",
    )
    alarm_events: tuple[EventKind, ...] = Field(
        default=(EventKind.TRIGGERED,),
        description="System events sent at once on alarm_topic, ahead of any batch, as "
        "well as in their place in the batches.",
    )
    forward_duress: bool = Field(
        default=False,
        description="Also forward duress alerts (as alarms and in the batches, kind "
        "'silent'): only to a receiver that must act on them, e.g. a monitoring company. "
        "Off: a duress alert never leaves the house through the uplink.",
    )
    keepalive: int = Field(
        default=30, ge=1, le=65535, description="Seconds between MQTT pings upstream."
    )
    max_reconnect_delay: Seconds = Field(
        default=30.0,
        ge=0.5,
        le=3600,
        description="Most seconds between two attempts to reach the upstream broker while "
        "it is away (the delay doubles from 0.5 s up to this, with jitter).",
    )

    @field_validator("alarm_events")
    @classmethod
    def _no_duress(cls, kinds: tuple[EventKind, ...]) -> tuple[EventKind, ...]:
        if EventKind.DURESS in kinds:
            raise ValueError("duress is not a system event: use forward_duress: true")
        return kinds

    @model_validator(mode="after")
    def _one_password(self) -> Self:
        given = [k for k in ("password", "password_file", "password_env") if getattr(self, k)]
        if len(given) > 1:
            raise Misplaced(f"give one of {', '.join(given)}, not several", given[1])
        return self

    @property
    def events_topic(self) -> str:
        return self.topic or f"homeguard/{self.site_id}/events"

    @property
    def alarms_topic(self) -> str:
        return self.alarm_topic or f"homeguard/{self.site_id}/alarms"

    @property
    def mqtt_client_id(self) -> str:
        return self.client_id or f"homeguard-uplink-{self.site_id}"

    def secret(self) -> str | None:
        """The upstream password, from the config, its file or its environment variable.

        Raises `ConfigError` when the file cannot be read or the variable is not set."""
        if self.password is not None:
            return self.password.get_secret_value()
        if self.password_file is not None:
            try:
                lines = self.password_file.read_text(encoding="utf-8").splitlines()
            except OSError as exc:
                raise ConfigError(f"uplink.password_file: cannot read it: {exc}") from None
            return lines[0] if lines else ""
        if self.password_env is not None:
            value = os.environ.get(self.password_env)
            if value is None:
                raise ConfigError(
                    f"uplink.password_env: the environment variable {self.password_env} is not set"
                )
            return value
        return None
