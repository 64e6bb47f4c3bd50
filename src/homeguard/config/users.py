"""Section ``users``: people with codes; plain PINs and passwords are hashed at load."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, Self

from pydantic import Field, field_validator, model_validator

from homeguard.config.base import Misplaced, Section
from homeguard.core import codes
from homeguard.core.model import User


def valid_pin(pin: object) -> bool:
    return isinstance(pin, str) and 4 <= len(pin) <= 12 and pin.isascii() and pin.isdigit()


class UserConfig(Section):
    """A person with a code. Give ``pin`` (hashed at load, then dropped) or ``pin_hash``."""

    name: str = Field(min_length=1, description="Shown in events and logs.")
    pin_hash: str = Field(
        description="The PIN's scrypt hash (scrypt$n$r$p$salt$digest, from "
        "homeguard.core.codes.hash_pin). A plain `pin` (4 to 12 digits, in quotes) may be "
        "given instead: it is hashed at load and dropped."
    )
    can_arm: bool = Field(default=True, description="May arm the panel.")
    can_disarm: bool = Field(default=True, description="May disarm the panel.")
    duress: bool = Field(
        default=False,
        description="A duress code: disarms as usual and raises a silent duress alert, "
        "seen only by the notifications and `homeguard events --duress`.",
    )
    appears_as: str | None = Field(
        default=None,
        min_length=1,
        description="For a duress user: the name its actions show under everywhere an "
        "intruder could look (events, dashboard); none: its own name.",
    )

    @model_validator(mode="after")
    def _appears_as_for_duress(self) -> Self:
        if self.appears_as is not None and not self.duress:
            raise Misplaced("appears_as is for duress users only", "appears_as")
        return self

    password_hash: str | None = Field(
        default=None,
        description="The web dashboard password's scrypt hash. A plain `password` may be "
        "given instead: it is hashed at load and dropped; none: no dashboard login.",
    )

    @model_validator(mode="before")
    @classmethod
    def _hash_plain_password(cls, data: Any) -> Any:
        if not isinstance(data, Mapping) or "password" not in data:
            return data
        if "password_hash" in data:
            raise Misplaced("give either password or password_hash, not both")
        fields = dict(data)
        password = fields.pop("password")
        if not isinstance(password, str) or len(password) < 4:
            raise Misplaced("a password is text of at least 4 characters", "password")
        fields["password_hash"] = codes.hash_pin(password, os.urandom(16))
        return fields

    @field_validator("password_hash")
    @classmethod
    def _known_password_scheme(cls, password_hash: str | None) -> str | None:
        if password_hash is not None and not codes.is_pin_hash(password_hash):
            raise ValueError("is not a homeguard password hash (scrypt$n$r$p$salt$digest)")
        return password_hash

    @model_validator(mode="before")
    @classmethod
    def _hash_plain_pin(cls, data: Any) -> Any:
        if not isinstance(data, Mapping) or "pin" not in data:
            return data
        if "pin_hash" in data:
            raise Misplaced("give either pin or pin_hash, not both")
        fields = dict(data)
        pin = fields.pop("pin")
        if not isinstance(pin, str):
            raise Misplaced(
                'write the PIN in quotes (pin: "0123"): unquoted, YAML reads a number '
                "and drops its leading zeros",
                "pin",
            )
        if not valid_pin(pin):
            raise Misplaced("a PIN is 4 to 12 digits", "pin")
        fields["pin_hash"] = codes.hash_pin(pin, os.urandom(16))
        return fields

    @field_validator("pin_hash")
    @classmethod
    def _known_scheme(cls, pin_hash: str) -> str:
        if not codes.is_pin_hash(pin_hash):
            raise ValueError("is not a homeguard PIN hash (scrypt$n$r$p$salt$digest)")
        return pin_hash

    def user(self) -> User:
        return User(
            self.name, self.pin_hash, self.can_arm, self.can_disarm, self.duress, self.appears_as
        )
