"""What every section of the configuration shares: the base model, the error that blames
one key of a section, and the value types several sections use."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationInfo

from homeguard.core.topic import name_problem, prefix_problem

ID_PATTERN = r"^[A-Za-z0-9_-]+$"


class Section(BaseModel):
    """The base of every section: an unknown key is an error, and a loaded config is
    frozen."""

    # hide_input_in_errors: a ValidationError raised to a Python caller never prints a
    # value, so neither a PIN nor a password can leak through one.
    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)


class Misplaced(ValueError):
    """A check on a whole section that blames one key inside it (``where``, relative)."""

    def __init__(self, message: str, *where: str | int) -> None:
        super().__init__(message)
        self.where = where


Seconds = Annotated[float, Field(allow_inf_nan=False)]


def _checked(problem: Callable[[str], str | None]) -> Callable[[str], str]:
    def check(text: str) -> str:
        found = problem(text)
        if found is not None:
            raise ValueError(found)
        return text

    return check


# What homeguard.core.topic says a topic name, and the prefix of our own topics, are.
exact_topic = _checked(name_problem)
TopicName = Annotated[str, AfterValidator(exact_topic)]
TopicPrefix = Annotated[str, AfterValidator(_checked(prefix_problem))]


def _next_to_config(path: Path, info: ValidationInfo) -> Path:
    base = info.context.get("base_dir") if isinstance(info.context, dict) else None
    return path if path.is_absolute() or base is None else Path(base) / path


# A file named in the config: a relative path is relative to the config file's folder
# (``base_dir`` in the validation context, given by load_config).
FileNextToConfig = Annotated[Path, AfterValidator(_next_to_config)]
