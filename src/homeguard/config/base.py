"""What every section of the configuration shares."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

ID_PATTERN = r"^[A-Za-z0-9_-]+$"
MAX_TOPIC_BYTES = 65535

Seconds = Annotated[float, Field(allow_inf_nan=False)]


class Misplaced(ValueError):
    """A check on a whole section that blames one key inside it (``where``, relative)."""

    def __init__(self, message: str, *where: str | int) -> None:
        super().__init__(message)
        self.where = where


class Section(BaseModel):
    # hide_input_in_errors: a ValidationError raised to a Python caller never prints a
    # value, so neither a PIN nor a password can leak through one.
    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)


def exact_topic(topic: str | None) -> str | None:
    if topic is None:
        return None
    if not topic or "+" in topic or "#" in topic or "\0" in topic:
        raise ValueError("must be a non-empty MQTT topic without wildcards ('+', '#')")
    if len(topic.encode()) > MAX_TOPIC_BYTES:
        raise ValueError("is longer than an MQTT topic may be")
    return topic
