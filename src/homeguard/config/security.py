"""Sections ``signing``, ``rate_limit`` and ``security``: signed messages, floods and
broker accounts."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from homeguard.config.base import ID_PATTERN, FileNextToConfig, Seconds, Section
from homeguard.core.flood import FloodPolicy


class SigningConfig(Section):
    """Signed and encrypted sensor messages (docs/security.md)."""

    window: Seconds = Field(
        default=30.0,
        gt=0,
        description="Seconds a signed message's ts may differ from the controller's clock.",
    )


class RateLimitConfig(Section):
    """How many messages each device may send before its surplus is only counted."""

    messages_per_second: float = Field(
        default=5.0,
        gt=0,
        allow_inf_nan=False,
        description="Messages a second each device may send, sustained; the surplus still "
        "reaches the panel but is not stored one by one, and a device within it is never "
        "held up by one above it.",
    )
    burst: int = Field(default=200, ge=1, description="Messages a device may send at once, on top.")
    report_every: Seconds = Field(
        default=60.0,
        gt=0,
        description="Seconds summarised by one flood event per device, and by one "
        "security event per sensor for its refused messages after the first.",
    )

    def policy(self) -> FloodPolicy:
        return FloodPolicy(self.messages_per_second, self.burst, self.report_every)


class SecurityConfig(Section):
    """Per-device broker accounts, ACLs and certificates (``homeguard provision``)."""

    provisioned: FileNextToConfig | None = Field(
        default=None,
        description="Folder written by `homeguard provision`: each client connects with "
        "its own credentials from it; none: <data-dir>/security when it exists. A "
        "relative path is relative to the config file.",
    )
    hosts: tuple[str, ...] = Field(
        default=(),
        description="More host names and IP addresses the broker's TLS certificate is "
        "valid for (localhost, 127.0.0.1 and mqtt.host always are).",
    )
    clients: tuple[Annotated[str, Field(pattern=ID_PATTERN, max_length=64)], ...] = Field(
        default=("cli",),
        description="Accounts for the programs of the panel's users (the CLI, Home "
        "Assistant...): they may only command the panel (alarm/set) and read its state "
        "and events. The CLI uses `cli`.",
    )
