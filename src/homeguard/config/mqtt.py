"""Section ``mqtt``: how the controller reaches the broker."""

from __future__ import annotations

from typing import Self

from pydantic import Field, SecretStr, model_validator

from homeguard.config.base import FileNextToConfig, Misplaced, Section, TopicPrefix


class TlsConfig(Section):
    """TLS towards the broker; relative paths are relative to the config file."""

    ca_file: FileNextToConfig | None = Field(
        default=None,
        description="CA certificate(s) to trust for the broker; none: the system's CAs.",
    )
    cert_file: FileNextToConfig | None = Field(
        default=None, description="Client certificate, for brokers that require one."
    )
    key_file: FileNextToConfig | None = Field(default=None, description="Private key of cert_file.")

    @model_validator(mode="after")
    def _cert_with_key(self) -> Self:
        if (self.cert_file is None) != (self.key_file is None):
            missing = "key_file" if self.key_file is None else "cert_file"
            raise Misplaced("cert_file and key_file go together", missing)
        return self


class MqttConfig(Section):
    """How the controller reaches the broker."""

    host: str | None = Field(
        default=None,
        min_length=1,
        description="Broker host name or address; none: use a broker on 127.0.0.1 at `port` "
        "if one answers, otherwise start a local one.",
    )
    port: int = Field(default=1883, ge=1, le=65535, description="Broker TCP port.")
    base_topic: TopicPrefix = Field(
        default="home",
        description="First topic level(s) of every homeguard topic; one per site.",
    )
    client_id: str = Field(
        default="homeguard-controller",
        min_length=1,
        max_length=65535,
        description="Fixed MQTT client id, so that the broker keeps the session and "
        "queues messages while the controller is down (a broker that binds client ids "
        "to logins uses the login instead).",
    )
    username: str | None = Field(default=None, description="Broker user name, if any.")
    password: SecretStr | None = Field(default=None, description="Broker password; never printed.")
    keepalive: int = Field(
        default=30,
        ge=1,
        le=65535,
        description="Seconds between MQTT pings; a dead connection shows after 1.5 times it.",
    )
    tls: TlsConfig | None = Field(
        default=None, description="TLS settings; none: plain TCP (fine on loopback only)."
    )
