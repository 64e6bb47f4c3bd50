"""MQTT topic names and topic filters: what a valid one is, stated once (MQTT 3.1.1 and
5.0, section 4.7).

A topic *name* (:class:`Topic`) is where a message is published; a topic *filter*
(:class:`TopicFilter`) is what a client subscribes to. Both are 1 to 65535 bytes of
UTF-8, split into levels by ``/`` (a level may be empty: ``a//b``, ``/a``), and hold no
NUL, no other control character (U+0001 to U+001F, U+007F to U+009F), no surrogate and
no non-character (U+FDD0 to U+FDEF, U+xFFFE, U+xFFFF): the standard forbids or
discourages them, and Mosquitto closes the connection of a client that publishes or
subscribes with one, so a single bad topic would knock the controller off the broker.

A name holds no wildcard. In a filter ``+`` stands for one whole level and ``#`` for all
the levels that follow (and for none): each is a level of its own, and ``#`` is the last.

Names that start with ``$`` are the broker's (``$SYS/...``, :attr:`Topic.reserved`): a
filter that starts with a wildcard does not match them. Topics of our own are built on a
prefix (a site's base topic, Home Assistant's discovery prefix), which
:func:`prefix_problem` checks: no ``$``, no empty level.

The ``*_problem`` functions say what is wrong (for a message that names the key), the
classes raise :class:`ValueError` with it; neither does more than look at the text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import ClassVar

__all__ = [
    "MAX_TOPIC_BYTES",
    "Topic",
    "TopicFilter",
    "filter_problem",
    "name_problem",
    "prefix_problem",
]

MAX_TOPIC_BYTES = 65535
_SEPARATOR = "/"
_SINGLE_LEVEL = "+"
_MULTI_LEVEL = "#"
_RESERVED = "$"

# Control characters (NUL included), surrogates and non-characters (the last two code
# points of every plane).
_NON_CHARACTERS = "".join(
    chr(plane + 0xFFFE) + chr(plane + 0xFFFF) for plane in range(0, 17 << 16, 1 << 16)
)
_FORBIDDEN = re.compile(rf"[\x00-\x1f\x7f-\x9f\ud800-\udfff\ufdd0-\ufdef{_NON_CHARACTERS}]")
# Below this many characters a text cannot exceed MAX_TOPIC_BYTES (4 bytes at most each).
_SURELY_SHORT = MAX_TOPIC_BYTES // 4


def _text_problem(text: str) -> str | None:
    """What a name and a filter have in common."""
    if not text:
        return "must not be empty"
    # An ASCII text is printable exactly when it has no control character (fast path).
    forbidden = None if text.isascii() and text.isprintable() else _FORBIDDEN.search(text)
    if forbidden is not None:
        return (
            f"must not contain U+{ord(forbidden.group()):04X}: MQTT topics hold no control "
            "character, surrogate or non-character"
        )
    if len(text) > _SURELY_SHORT and len(text.encode()) > MAX_TOPIC_BYTES:
        return f"is longer than an MQTT topic may be ({MAX_TOPIC_BYTES} bytes of UTF-8)"
    return None


def name_problem(text: str) -> str | None:
    """Why ``text`` is not a topic name, or None when it is one."""
    if _SINGLE_LEVEL in text or _MULTI_LEVEL in text:
        return "must not contain a wildcard ('+' or '#'): a topic name is exact"
    return _text_problem(text)


def filter_problem(text: str) -> str | None:
    """Why ``text`` is not a topic filter, or None when it is one."""
    problem = _text_problem(text)
    if problem is not None:
        return problem
    levels = text.split(_SEPARATOR)
    for index, level in enumerate(levels):
        if level in (_SINGLE_LEVEL, _MULTI_LEVEL):
            if level == _MULTI_LEVEL and index != len(levels) - 1:
                return "must have '#' only as its last level"
        elif _SINGLE_LEVEL in level or _MULTI_LEVEL in level:
            return "must have each wildcard ('+' or '#') as a whole level"
    return None


def prefix_problem(text: str) -> str | None:
    """Why ``text`` cannot be the first levels of topics of our own, or None: it must be
    a topic name, not the broker's, with no empty level (no ``/`` at either end)."""
    problem = name_problem(text)
    if problem is not None:
        return problem
    if text.startswith(_RESERVED):
        return "must not start with '$' (reserved for the broker)"
    if text.startswith(_SEPARATOR) or text.endswith(_SEPARATOR) or _SEPARATOR * 2 in text:
        return "must not start or end with '/' nor contain an empty level"
    return None


@dataclass(frozen=True, slots=True)
class _TopicText:
    """What a name and a filter share: text split into levels, checked when made."""

    value: str
    _what: ClassVar[str]

    def __post_init__(self) -> None:
        problem = self._problem(self.value)
        if problem is not None:
            shown = self.value if len(self.value) <= 80 else self.value[:80] + "..."
            raise ValueError(f"invalid MQTT {self._what} {shown!r}: it {problem}")

    @staticmethod
    def _problem(text: str) -> str | None:
        raise NotImplementedError

    def __str__(self) -> str:
        return self.value

    @property
    def levels(self) -> tuple[str, ...]:
        return tuple(self.value.split(_SEPARATOR))


@dataclass(frozen=True, slots=True)
class Topic(_TopicText):
    """A topic name: where a message is published. Raises ValueError when invalid."""

    _what = "topic name"
    _problem = staticmethod(name_problem)

    @property
    def reserved(self) -> bool:
        """The broker's own (``$SYS/...``): no filter that starts with a wildcard
        matches it, and no topic of ours starts so."""
        return self.value.startswith(_RESERVED)

    def matches(self, topic_filter: TopicFilter | str) -> bool:
        """Whether a subscription to ``topic_filter`` receives this topic."""
        if isinstance(topic_filter, str):
            topic_filter = TopicFilter(topic_filter)
        return topic_filter.matches(self)


@dataclass(frozen=True, slots=True)
class TopicFilter(_TopicText):
    """A topic filter: what a client subscribes to. Raises ValueError when invalid."""

    _what = "topic filter"
    _problem = staticmethod(filter_problem)

    @property
    def exact(self) -> bool:
        """Without wildcards: it matches one topic name, itself."""
        return _SINGLE_LEVEL not in self.value and _MULTI_LEVEL not in self.value

    def matches(self, topic: Topic | str) -> bool:
        """Whether a subscription to this filter receives ``topic``."""
        if isinstance(topic, str):
            topic = Topic(topic)
        if topic.reserved and self.value[0] in (_SINGLE_LEVEL, _MULTI_LEVEL):
            return False
        levels = topic.levels
        wanted = self.levels
        for index, want in enumerate(wanted):
            if want == _MULTI_LEVEL:
                return True  # also the parent level: "a/#" matches "a"
            if index >= len(levels) or want not in (_SINGLE_LEVEL, levels[index]):
                return False
        return len(levels) == len(wanted)
