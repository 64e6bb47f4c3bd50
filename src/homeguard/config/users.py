"""Section ``users``: people with codes; plain PINs and passwords are hashed at load."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Self

from pydantic import Field, ValidationInfo, field_validator, model_validator

from homeguard.config.base import Misplaced, Section
from homeguard.core import codes
from homeguard.core.model import User


def valid_pin(pin: object) -> bool:
    return isinstance(pin, str) and 4 <= len(pin) <= 12 and pin.isascii() and pin.isdigit()


def _pin_problem(pin: object) -> str | None:
    if not isinstance(pin, str):
        return (
            'write the PIN in quotes (pin: "0123"): unquoted, YAML reads a number and '
            "drops its leading zeros"
        )
    return None if valid_pin(pin) else "a PIN is 4 to 12 digits"


def _password_problem(password: object) -> str | None:
    if isinstance(password, str) and len(password) >= 4:
        return None
    return "a password is text of at least 4 characters"


@dataclass(frozen=True, slots=True)
class _Secret:
    """A secret a user may give in plain (hashed at load, then dropped) or hashed."""

    plain: str
    hashed: str
    what: str
    problem: Callable[[object], str | None]  # what is wrong with a plain value, if anything


_SECRETS = (
    _Secret("pin", "pin_hash", "PIN", _pin_problem),
    _Secret("password", "password_hash", "password", _password_problem),
)


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
    def _hash_plain_secrets(cls, data: Any, info: ValidationInfo) -> Any:
        if not isinstance(data, Mapping) or not any(s.plain in data for s in _SECRETS):
            return data
        # A command that never checks a code loads the config without hashing them.
        hashing = not isinstance(info.context, dict) or info.context.get("hash_codes", True)
        fields = dict(data)
        for secret in _SECRETS:
            if secret.plain not in fields:
                continue
            if secret.hashed in fields:
                raise Misplaced(f"give either {secret.plain} or {secret.hashed}, not both")
            plain = fields.pop(secret.plain)
            problem = secret.problem(plain)
            if problem is not None:
                raise Misplaced(problem, secret.plain)
            if not hashing:
                fields[secret.hashed] = codes.NO_CODE
                continue
            fields[secret.hashed] = codes.hash_pin(plain, os.urandom(16))
            if secret.hashed == "pin_hash":  # a keypad code: checked at once from the start
                codes.remember_code(fields[secret.hashed], plain)
        return fields

    @field_validator("pin_hash", "password_hash")
    @classmethod
    def _known_scheme(cls, hashed: str | None, info: ValidationInfo) -> str | None:
        if hashed is not None and not codes.is_pin_hash(hashed):
            what = next(s.what for s in _SECRETS if s.hashed == info.field_name)
            raise ValueError(f"is not a homeguard {what} hash (scrypt$n$r$p$salt$digest)")
        return hashed

    def user(self) -> User:
        return User(
            self.name, self.pin_hash, self.can_arm, self.can_disarm, self.duress, self.appears_as
        )
