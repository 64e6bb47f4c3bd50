"""``evolve``: :func:`dataclasses.replace` for the engine's frozen, slotted dataclasses,
without replace's look at every field's kind on every call.

Every sensor report gives the panel (18 fields) a new sensor status and a new seq, and
``replace`` spent about a quarter of the engine's time on that (docs/performance.md).
``evolve`` is kept for the few copies made for every input; elsewhere ``replace``, which
mypy checks, reads as well.
"""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

__all__ = ["evolve"]

T = TypeVar("T")

_set = object.__setattr__  # a frozen dataclass refuses its own __setattr__
_FIELDS: dict[type, tuple[str, ...]] = {}


def evolve(obj: T, /, **changes: Any) -> T:
    """A copy of ``obj`` with ``changes``, as ``dataclasses.replace(obj, **changes)``.
    ``obj`` must be a slotted dataclass whose ``__init__`` only stores its fields (no
    ``__post_init__``, no ``InitVar``, no field left out of ``__init__``); TypeError
    otherwise, and for a name that is not one of its fields."""
    cls = type(obj)
    names = _FIELDS.get(cls)
    if names is None:
        names = _FIELDS[cls] = _plain_fields(cls)
    new = object.__new__(cls)
    for name in names:
        _set(new, name, getattr(obj, name))
    for name, value in changes.items():
        if name not in names:
            raise TypeError(f"{cls.__name__} has no field {name!r}")
        _set(new, name, value)
    return new


def _plain_fields(cls: type) -> tuple[str, ...]:
    if not dataclasses.is_dataclass(cls) or "__slots__" not in cls.__dict__:
        raise TypeError(f"{cls.__name__} is not a slotted dataclass")
    if hasattr(cls, "__post_init__"):
        raise TypeError(f"{cls.__name__} checks itself in __post_init__: use replace()")
    declared = cls.__dataclass_fields__.values()
    if len(dataclasses.fields(cls)) != len(declared) or not all(f.init for f in declared):
        raise TypeError(f"{cls.__name__} has fields outside __init__: use replace()")
    return tuple(f.name for f in declared)
