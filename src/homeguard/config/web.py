"""Section ``web``: the web dashboard."""

from __future__ import annotations

import ipaddress

from pydantic import Field, field_validator

from homeguard.config.base import Seconds, Section


class WebConfig(Section):
    """The web dashboard."""

    host: str = Field(
        default="127.0.0.1", min_length=1, description="Address the dashboard listens on."
    )
    port: int = Field(default=8080, ge=1, le=65535, description="Its TCP port.")
    enabled: bool = Field(
        default=True, description="Serve the dashboard and HTTP API from the controller."
    )
    loopback_without_login: bool = Field(
        default=False,
        description="Let clients on this machine (127.0.0.1, ::1) in without a login.",
    )
    session_hours: Seconds = Field(
        default=12.0, gt=0, description="Hours a login lasts without being used."
    )
    trusted_proxies: tuple[str, ...] = Field(
        default=(),
        description="Reverse proxies (IP addresses or networks such as 10.0.0.0/24) whose "
        "X-Forwarded-For and X-Forwarded-Proto headers are believed; from anyone else "
        "they are ignored. Empty (the default): no proxy.",
    )

    @field_validator("trusted_proxies")
    @classmethod
    def _addresses(cls, proxies: tuple[str, ...]) -> tuple[str, ...]:
        for proxy in proxies:
            try:
                ipaddress.ip_network(proxy, strict=False)
            except ValueError:
                raise ValueError(
                    f"{proxy!r} is not an IP address or network (a name cannot be trusted)"
                ) from None
        return proxies
