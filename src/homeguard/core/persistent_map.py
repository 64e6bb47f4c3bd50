"""An immutable mapping whose one-key update is cheap: the panel's per-sensor maps
(``Panel.sensors``, ``Panel.message_seqs``) with up to 100,000 sensors, where copying a
dict for every report made the cost of an event grow with the sensors configured.

A :class:`PersistentMap` is a trie of tuples, 32 wide, indexed by the bits of the key's
hash, with small dicts as leaves; its depth is set by the size it is built for, so that
a leaf holds a few dozen keys. :meth:`PersistentMap.set` copies one leaf and the tuples
on its path and shares the rest with the map it came from, and :func:`changed_keys`
finds the keys in which two such maps differ: from the keys set since one became the
other, when one comes from the other by a line of sets (the maps of one line share a
log of the keys set, up to :data:`_LOG` of them), else by skipping what their tries
share. Both cost about the same at 10 keys and at 100,000. It is a
:class:`~collections.abc.Mapping` like any other (``get``, ``items``, ``len``, ``==``
with a dict); its order is not the order of insertion (sort where an order is shown).
Set from one thread at a time (the controller's); read from any.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Iterator, Mapping
from typing import Any, TypeVar, cast

__all__ = ["PersistentMap", "changed_keys", "differing_keys"]

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

_BITS = 5
_WIDTH = 1 << _BITS
_MASK = _WIDTH - 1
_LEAF = 32  # keys per leaf aimed at; a map deepens when its leaves average twice this
_LOG = 1024  # keys set along one line of maps, kept for changed_keys; then a new log
_MISSING = object()

# A node is a dict (a leaf) at depth 0, else a tuple of _WIDTH nodes one level shallower.
_Node = Any


class PersistentMap(Mapping[K, V]):
    """See the module docstring."""

    __slots__ = ("_at", "_depth", "_len", "_log", "_root")

    def __init__(
        self, items: Mapping[K, V] | Iterable[tuple[K, V]] = (), *, capacity: int = 0
    ) -> None:
        """``capacity``: the keys it is expected to grow to (sized for them at once, it
        does not deepen on the way, which would share nothing with the maps before)."""
        pairs = dict(items)
        depth = 0
        while max(len(pairs), capacity) > _LEAF * _WIDTH**depth:
            depth += 1
        self._depth = depth
        self._len = len(pairs)
        self._root = _build(pairs, depth, 0)
        # The keys set along this map's line; this map comes after the first _at of them.
        self._log: list[K] = []
        self._at = 0

    @classmethod
    def of(cls, mapping: Mapping[K, V], *, capacity: int = 0) -> PersistentMap[K, V]:
        """``mapping`` as a PersistentMap (itself if it is one)."""
        if isinstance(mapping, PersistentMap):
            return mapping
        return cls(mapping, capacity=capacity)

    def set(self, key: K, value: V) -> PersistentMap[K, V]:
        """A map like this one with ``key`` mapped to ``value``."""
        h = hash(key)
        path: list[tuple[Any, ...]] = []
        node = self._root
        for level in range(self._depth):
            path.append(node)
            node = node[(h >> (level * _BITS)) & _MASK]
        grows = key not in node
        if grows and self._len + 1 > 2 * _LEAF * _WIDTH**self._depth:
            return type(self)({**self, key: value})  # deeper, once per 32-fold growth
        leaf = dict(node)
        leaf[key] = value
        new: Any = leaf
        for level in range(self._depth - 1, -1, -1):
            index = (h >> (level * _BITS)) & _MASK
            children = list(path[level])
            children[index] = new
            new = tuple(children)
        result = object.__new__(type(self))
        result._depth = self._depth
        result._len = self._len + grows
        result._root = new
        log, at = self._log, self._at
        # The next on this map's line, unless the line is long or already goes on from
        # here (a branch: another map was set from this one); checked after appending,
        # so that of two threads setting from one map at once, no more than one goes on.
        if at == len(log) < _LOG:
            log.append(key)
            if len(log) == at + 1:
                result._log, result._at = log, at + 1
                return result
        result._log, result._at = [], 0
        return result

    def get(self, key: K, default: Any = None) -> Any:
        # The path of _leaf written out: the panel asks for a sensor many times an event.
        node = self._root
        if self._depth:
            h = hash(key)
            for shift in range(0, self._depth * _BITS, _BITS):
                node = node[(h >> shift) & _MASK]
        return node.get(key, default)

    def __getitem__(self, key: K) -> V:
        return cast("V", self._leaf(key)[key])

    def __contains__(self, key: object) -> bool:
        return key in self._leaf(key)

    def _leaf(self, key: object) -> dict[Any, Any]:
        node = self._root
        if self._depth:
            h = hash(key)
            for shift in range(0, self._depth * _BITS, _BITS):
                node = node[(h >> shift) & _MASK]
        return cast("dict[Any, Any]", node)

    def __iter__(self) -> Iterator[K]:
        return _keys(self._root, self._depth)

    def __len__(self) -> int:
        return self._len

    def __eq__(self, other: object) -> bool:
        if isinstance(other, PersistentMap) and other._root is self._root:
            return True
        return super().__eq__(other)

    __hash__ = None  # type: ignore[assignment]  # mutable-looking, as a dict

    def __repr__(self) -> str:
        return f"PersistentMap({dict(self.items())!r})"


def changed_keys(a: Mapping[K, V], b: Mapping[K, V]) -> set[K] | None:
    """The keys whose values may differ between ``a`` and ``b``: every key whose value
    is another object or missing on one side, and perhaps a few more (a key set to the
    value it had), found without looking at what the two share; None unless both are
    PersistentMaps of the same depth (then compare them some other way)."""
    if not (isinstance(a, PersistentMap) and isinstance(b, PersistentMap)):
        return None
    if a._depth != b._depth:
        return None
    if a._log is b._log:  # one line: the keys set between them
        return set(a._log[min(a._at, b._at) : max(a._at, b._at)])
    keys: set[K] = set()
    _diff(a._root, b._root, a._depth, keys)
    return keys


def differing_keys(a: Mapping[K, V], b: Mapping[K, V]) -> set[K]:
    """The keys whose values may differ between ``a`` and ``b`` (see :func:`changed_keys`),
    by comparing every key's value (by identity) when that cannot tell."""
    if a is b:
        return set()
    keys = changed_keys(a, b)
    if keys is None:
        keys = {k for k in a.keys() | b.keys() if a.get(k, _MISSING) is not b.get(k, _MISSING)}
    return keys


def _build(pairs: dict[Any, Any], depth: int, level: int) -> _Node:
    if depth == level:
        return pairs
    shift = level * _BITS
    parts: list[dict[Any, Any]] = [{} for _ in range(_WIDTH)]
    for key, value in pairs.items():
        parts[(hash(key) >> shift) & _MASK][key] = value
    return tuple(_build(part, depth, level + 1) for part in parts)


def _keys(node: _Node, depth: int) -> Iterator[Any]:
    if depth == 0:
        yield from node
    else:
        for child in node:
            yield from _keys(child, depth - 1)


def _diff(a: _Node, b: _Node, depth: int, keys: set[Any]) -> None:
    if a is b:
        return
    if depth:
        for x, y in zip(a, b, strict=True):
            if x is not y:
                _diff(x, y, depth - 1, keys)
        return
    keys.update(k for k, v in a.items() if b.get(k, _MISSING) is not v)
    keys.update(k for k in b if k not in a)
