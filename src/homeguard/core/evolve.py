"""``evolve``: :func:`dataclasses.replace` for the engine's frozen, slotted dataclasses,
without replace's look at every field's kind on every call.

Every sensor report gives the panel (18 fields) a new sensor status and a new seq, and
``replace`` spent about a quarter of the engine's time on that (docs/performance.md).
``evolve`` is kept for the few copies made for every input; elsewhere ``replace``, which
mypy checks, reads as well.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, TypeVar, cast

__all__ = ["evolve"]

T = TypeVar("T")

_set = object.__setattr__  # a frozen dataclass refuses its own __setattr__
_COPIERS: dict[type, Callable[[Any, dict[str, Any]], Any]] = {}


def evolve(obj: T, /, **changes: Any) -> T:
    """A copy of ``obj`` with ``changes``, as ``dataclasses.replace(obj, **changes)``.
    ``obj`` must be a slotted dataclass whose ``__init__`` only stores its fields (no
    ``__post_init__``, no ``InitVar``, no field left out of ``__init__``); TypeError
    otherwise, and for a name that is not one of its fields."""
    cls = type(obj)
    copy = _COPIERS.get(cls)
    if copy is None:
        copy = _COPIERS[cls] = _copier(cls)
    return cast(T, copy(obj, changes))


def _copier(cls: type) -> Callable[[Any, dict[str, Any]], Any]:
    """A function that copies a ``cls`` with changes, written out field by field (as
    dataclasses writes ``__init__``): a third faster than a loop over the fields."""
    names = _plain_fields(cls)
    lines = [
        "def copy(obj, changes):",
        "    if not changes.keys() <= known:",
        "        unknown(changes)",
        "    new = make(cls)",
        "    get = changes.get",
        *(f"    put(new, {name!r}, get({name!r}, obj.{name}))" for name in names),
        "    return new",
    ]

    def unknown(changes: dict[str, Any]) -> None:
        name = next(name for name in changes if name not in names)
        raise TypeError(f"{cls.__name__} has no field {name!r}")

    scope = {"known": frozenset(names), "unknown": unknown, "make": object.__new__}
    scope |= {"cls": cls, "put": _set}
    exec("\n".join(lines), scope)  # the names are the class's own fields: identifiers
    return cast("Callable[[Any, dict[str, Any]], Any]", scope["copy"])


def _plain_fields(cls: type) -> tuple[str, ...]:
    if not dataclasses.is_dataclass(cls) or "__slots__" not in cls.__dict__:
        raise TypeError(f"{cls.__name__} is not a slotted dataclass")
    if hasattr(cls, "__post_init__"):
        raise TypeError(f"{cls.__name__} checks itself in __post_init__: use replace()")
    declared = cls.__dataclass_fields__.values()
    if len(dataclasses.fields(cls)) != len(declared) or not all(f.init for f in declared):
        raise TypeError(f"{cls.__name__} has fields outside __init__: use replace()")
    return tuple(f.name for f in declared)
