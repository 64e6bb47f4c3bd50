"""Section ``storage``: where events are stored."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from homeguard.config.base import Section


class StorageConfig(Section):
    """Where events are stored."""

    path: str = Field(
        default="homeguard.db",
        min_length=1,
        description="SQLite file; a relative path is relative to the data directory.",
    )
    retention_days: int | None = Field(
        default=365, ge=1, description="Days of events to keep; none: keep everything."
    )
    synchronous: Literal["normal", "full"] = Field(
        default="full",
        description="SQLite synchronous mode: full survives a power cut, normal only a "
        "crash of the process.",
    )
