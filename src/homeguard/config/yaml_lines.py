"""Tracing each configuration error to the YAML line it comes from."""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Mapping
from typing import Any, NamedTuple

import yaml
from pydantic import BaseModel
from pydantic.dataclasses import is_pydantic_dataclass
from pydantic.fields import FieldInfo

from homeguard.config.base import Misplaced

# libyaml's parser where PyYAML was built with it (about 10 times faster: a config of
# 100,000 sensors), else PyYAML's own; both give the same nodes, with their lines.
_Parser: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_Parser):  # type: ignore[misc,valid-type]
    """Data whose strings are copies, not the nodes' own: once the node tree is dropped,
    nothing of the data lives among its objects, so the allocator can give the tree's
    memory back to the system (100,000 sensors compose to some 180 MB of nodes, ten times
    their data) instead of keeping it pinned for the life of the process."""

    def construct_scalar(self, node: yaml.ScalarNode) -> Any:
        value = super().construct_scalar(node)
        if type(value) is str:
            return value.encode("utf-8", "surrogatepass").decode("utf-8", "surrogatepass")
        return value


class Document(NamedTuple):
    """A configuration file read: its data, and what is checked before validating it."""

    data: Any  # None for an empty file
    mapping: bool  # the top level is a mapping
    line: int  # where the top level starts
    repeated: list[tuple[int, str]]  # keys given twice in one mapping: line, message


def read(text: str) -> Document:
    """The data of a YAML document, with the lines of its repeated keys.

    Built straight from the parser's events: about six times faster than through PyYAML's
    node tree, and without the tree's memory (100,000 sensors: 0.65 s against 4.4 s,
    and a peak of 115 MB against 315). What only the tree handles (anchors, aliases, tags,
    merge keys, several documents, deep nesting) is read by `compose`: the same data,
    the same errors."""
    try:
        return _from_events(text)
    except _Unusual:
        pass
    root, data = compose(text)
    if root is None:
        return Document(None, False, 1, [])
    mapping = isinstance(root, yaml.MappingNode)
    repeated = repeated_keys(root) if mapping else []
    return Document(data, mapping, root.start_mark.line + 1, repeated)


class _Unusual(Exception):
    """Something `_from_events` leaves to the node tree."""


_STR = "tag:yaml.org,2002:str"
_SCALARS = frozenset(
    f"tag:yaml.org,2002:{kind}" for kind in ("null", "bool", "int", "float", "timestamp")
)
_MAX_DEPTH = 64  # deeper goes to the tree, whose errors for absurd nesting stand
_NO_KEY = object()


class _Open:
    """A mapping or a sequence being read; a mapping's next key once it is read."""

    __slots__ = ("first", "key", "path", "raw", "value")

    def __init__(self, value: dict[Any, Any] | list[Any], path: str) -> None:
        self.value = value
        self.path = path
        self.key: Any = _NO_KEY
        self.raw = ""  # the key as written
        self.first: dict[str, int] = {}  # each key's first line


def _from_events(text: str) -> Document:
    loader = _Parser(text)
    try:
        reader = _Reader(loader)
        documents = 0
        while loader.check_event():
            event = loader.get_event()  # type: ignore[no-untyped-call]
            kind = type(event)
            if kind is yaml.ScalarEvent:
                reader.scalar(event)
            elif kind is yaml.MappingStartEvent:
                reader.start(event, {})
            elif kind is yaml.SequenceStartEvent:
                reader.start(event, [])
            elif kind is yaml.MappingEndEvent or kind is yaml.SequenceEndEvent:
                reader.stack.pop()
            elif kind is yaml.AliasEvent:
                raise _Unusual
            elif kind is yaml.DocumentStartEvent:
                documents += 1
                if documents > 1:
                    raise _Unusual
        mapping = type(reader.root) is dict
        return Document(reader.root, mapping, reader.line, reader.repeated if mapping else [])
    finally:
        loader.dispose()


def _line(event: yaml.NodeEvent) -> int:
    assert event.start_mark is not None  # the parser marks every event
    return event.start_mark.line + 1


class _Reader:
    """The data of the events read so far."""

    def __init__(self, loader: yaml.SafeLoader) -> None:
        self.loader = loader
        self.stack: list[_Open] = []
        self.root: Any = None
        self.line = 1
        self.repeated: list[tuple[int, str]] = []
        # The first characters of the plain scalars YAML may read as other than text.
        self._resolved_first = frozenset(loader.yaml_implicit_resolvers)

    def scalar(self, event: yaml.ScalarEvent) -> None:
        if event.anchor is not None or event.tag is not None:
            raise _Unusual
        raw: str = event.value
        if not event.implicit[0] or (raw and raw[0] not in self._resolved_first):
            value: Any = raw  # quoted, or plain with no other reading (as `resolve` says)
        else:
            tag = self.loader.resolve(yaml.ScalarNode, raw, event.implicit)  # type: ignore[no-untyped-call]
            if tag == _STR:
                value = raw
            elif tag in _SCALARS:
                node = yaml.ScalarNode(tag, raw, style=event.style)
                value = self.loader.yaml_constructors[tag](self.loader, node)
            else:  # a merge key, or a value YAML has no constructor for
                raise _Unusual
        mapping = self._awaiting_key()
        if mapping is not None:
            self._key(mapping, value, raw, _line(event))
        else:
            self._place(value, event)

    def start(self, event: yaml.CollectionStartEvent, value: dict[Any, Any] | list[Any]) -> None:
        if event.anchor is not None or event.tag is not None or len(self.stack) >= _MAX_DEPTH:
            raise _Unusual
        if self._awaiting_key() is not None:
            raise _Unusual  # a mapping or a sequence as a key
        self.stack.append(_Open(value, self._place(value, event)))

    def _awaiting_key(self) -> _Open | None:
        """The mapping being read, when its next key comes."""
        parent = self.stack[-1] if self.stack else None
        if parent is not None and parent.key is _NO_KEY and type(parent.value) is dict:
            return parent
        return None

    def _key(self, mapping: _Open, key: Any, raw: str, line: int) -> None:
        mapping.key, mapping.raw = key, raw
        if raw in mapping.first:
            where = _join(mapping.path, raw)
            first = mapping.first[raw]
            self.repeated.append((line, f"{where}: duplicate key (first at line {first})"))
        elif raw != "<<":  # as `repeated_keys`
            mapping.first[raw] = line

    def _place(self, value: Any, event: yaml.NodeEvent) -> str:
        """Put a value in its place; its path."""
        if not self.stack:
            self.root, self.line = value, _line(event)
            return ""
        parent = self.stack[-1]
        if type(parent.value) is list:
            parent.value.append(value)
            return f"{parent.path}[{len(parent.value) - 1}]"
        parent.value[parent.key] = value
        parent.key = _NO_KEY
        return _join(parent.path, parent.raw)


def compose(text: str) -> tuple[yaml.Node | None, Any]:
    """The node tree (for lines) and the plain data (for pydantic), from one parse.
    Drop the tree as soon as it is no longer needed: it is large (see `_Loader`)."""
    loader = _Loader(text)
    try:
        root = loader.get_single_node()
        data = loader.construct_document(root) if root is not None else None
    finally:
        loader.dispose()
    return root, data


def yaml_problem(exc: yaml.YAMLError, source: str) -> str:
    # Only the problem's description: PyYAML's own message quotes the offending
    # line, which could be a PIN or a password.
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem_mark is not None:
        mark = exc.problem_mark
        what = exc.problem or "invalid YAML"
        context = f" ({exc.context}" if exc.context else ""
        start = exc.context_mark
        if context and start is not None and start.line != mark.line:
            context += f" started at line {start.line + 1}"
        context += ")" if context else ""
        return (
            f"{source} line {mark.line + 1}: YAML error at column "
            f"{mark.column + 1}: {what}{context}"
        )
    if isinstance(exc, yaml.reader.ReaderError):
        return f"{source}: the file contains a character YAML does not allow: {exc.reason}"
    return f"{source}: YAML error: {type(exc).__name__}"


def repeated_keys(root: yaml.Node) -> list[tuple[int, str]]:
    """Keys given twice in one mapping (YAML would silently keep the last)."""
    problems: list[tuple[int, str]] = []
    seen_nodes: set[int] = set()  # aliases share nodes: visit each once

    def visit(node: yaml.Node, path: str) -> None:
        if id(node) in seen_nodes:
            return
        seen_nodes.add(id(node))
        if isinstance(node, yaml.MappingNode):
            first: dict[object, int] = {}
            for key, value in node.value:
                name = key.value if isinstance(key, yaml.ScalarNode) else None
                if name is not None and name != "<<":
                    line = key.start_mark.line + 1
                    if name in first:
                        problems.append(
                            (
                                line,
                                f"{_join(path, name)}: duplicate key (first at line {first[name]})",
                            )
                        )
                    first.setdefault(name, line)
                visit(value, _join(path, name if name is not None else "?"))
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                visit(item, f"{path}[{index}]")

    visit(root, "")
    return problems


def _join(path: str, key: object) -> str:
    return f"{path}.{key}" if path else str(key)


def locate(root: yaml.Node, error: Mapping[str, Any], model: type[BaseModel]) -> tuple[int, str]:
    """The line and the message of one pydantic error of validating ``model``."""
    loc: tuple[str | int, ...] = tuple(error["loc"])
    message: str = error["msg"]
    cause = (error.get("ctx") or {}).get("error")
    if isinstance(cause, Misplaced):
        loc, message = loc + cause.where, str(cause)
    elif error["type"] == "value_error":
        message = message.removeprefix("Value error, ")
    kind = error["type"]
    if kind == "unexpected_keyword_argument":  # the same, from a pydantic dataclass
        kind = "extra_forbidden"
    node, found, path = root, True, ""
    for position, part in enumerate(loc):
        if part == "[key]":
            continue
        is_index = isinstance(part, int) and not isinstance(node, yaml.MappingNode)
        path = f"{path}[{part}]" if is_index else _join(path, part)
        if found:
            # An unknown or invalid key is reported on the key's own line.
            rest = loc[position + 1 :]
            on_key = rest == ("[key]",) or (kind == "extra_forbidden" and not rest)
            child = _child(node, part, key=on_key)
            found = child is not None
            node = child if child is not None else node
    if kind == "extra_forbidden":
        message = _unknown_key(model, loc)
    elif kind == "missing":
        message = "missing (required)"
    elif kind in ("model_type", "dataclass_type"):
        message = "Input should be a mapping of keys to values"
    elif kind == "string_type" and isinstance(node, yaml.ScalarNode) and not node.style:
        message += " (put it in quotes: YAML read it as a number, a boolean or null)"
    return node.start_mark.line + 1, f"{path}: {message}" if path else message


def _child(node: yaml.Node, part: str | int, *, key: bool) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.value == str(part):
                return key_node if key else value_node
    elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
        child: yaml.Node = node.value[part]
        return child
    return None


def _unknown_key(model: type[BaseModel], loc: tuple[str | int, ...]) -> str:
    known = _known_keys(model, loc[:-1])
    hint = ""
    if known:
        close = difflib.get_close_matches(str(loc[-1]), known, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else f" (known: {', '.join(known)})"
    return f"unknown key{hint}"


def _known_keys(model: type[BaseModel], loc: tuple[str | int, ...]) -> list[str]:
    """The keys the model at ``loc`` accepts, by following the field annotations."""
    current: Any = model
    for part in loc:
        current = _strip_optional(current)
        fields = section_fields(current)
        if fields is not None:
            field = fields.get(str(part))
            if field is None:
                return []
            current = field.annotation
            continue
        args = typing.get_args(current)
        if not args:
            return []
        current = args[-1] if isinstance(part, str) else args[0]  # mapping value, item
    return list(section_fields(_strip_optional(current)) or ())


def section_fields(annotation: Any) -> Mapping[str, FieldInfo] | None:
    """The fields of a section (a pydantic model or dataclass); None for anything else."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation.model_fields
    if isinstance(annotation, type) and is_pydantic_dataclass(annotation):
        return annotation.__pydantic_fields__
    return None


def _strip_optional(annotation: Any) -> Any:
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        members = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        if len(members) == 1:
            return members[0]
    return annotation
