"""Reading a configuration's YAML from the parser's events (`yaml_lines.read`) gives what
PyYAML's node tree gives: the same data, the same repeated keys on the same lines, the
same errors; and a config without anchors, tags or merge keys never builds the tree."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from homeguard.config import yaml_lines
from homeguard.config.loading import parse_config
from homeguard.errors import ConfigError


def by_tree(text: str) -> yaml_lines.Document:
    """What `read` gave when it composed the node tree for every file."""
    root, data = yaml_lines.compose(text)
    if root is None:
        return yaml_lines.Document(None, False, 1, [])
    mapping = isinstance(root, yaml.MappingNode)
    repeated = yaml_lines.repeated_keys(root) if mapping else []
    return yaml_lines.Document(data, mapping, root.start_mark.line + 1, repeated)


def from_events(text: str) -> yaml_lines.Document:
    """`read`'s own way, with no tree to fall back on."""
    try:
        return yaml_lines._from_events(text)
    except yaml_lines._Unusual:
        pytest.fail(f"read from the node tree: {text!r}")


def outcome(read: Any, text: str) -> object:
    try:
        return read(text)
    except yaml.YAMLError as exc:
        return ("error", yaml_lines.yaml_problem(exc, "f"))


# Scalars YAML reads as something other than the text: numbers, booleans, null, dates.
LOOKALIKES = ["1", "0x1F", "1_000", "1.5", ".inf", "yes", "Off", "~", "null", "2001-12-14", ""]
scalars = st.one_of(
    st.text(max_size=12),
    st.sampled_from(LOOKALIKES),
    st.integers(),
    st.floats(allow_nan=False),
    st.booleans(),
    st.none(),
)
keys = st.one_of(st.text(max_size=6), st.sampled_from(LOOKALIKES), st.integers(-3, 3))
documents = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(keys, inner, max_size=4)),
    max_leaves=20,
)


@given(documents, st.sampled_from([False, True, None]), st.booleans())
def test_any_dumped_document_reads_as_the_tree_reads_it(
    data: Any, flow: bool | None, unicode: bool
) -> None:
    text = yaml.safe_dump(data, default_flow_style=flow, allow_unicode=unicode, sort_keys=False)
    assert from_events(text) == by_tree(text)


def render(pairs: list[tuple[str, Any]], indent: int, flow: bool) -> str:
    if flow:
        return "{" + ", ".join(f"{key}: {flowed(value)}" for key, value in pairs) + "}\n"
    lines = []
    for key, value in pairs:
        if isinstance(value, list):
            lines.append(f"{' ' * indent}{key}:\n{render(value, indent + 2, flow=False)}")
        else:
            lines.append(f"{' ' * indent}{key}: {value}\n")
    return "".join(lines)


def flowed(value: Any) -> str:
    return render(value, 0, flow=True).strip() if isinstance(value, list) else str(value)


names = st.sampled_from(["a", "b", "'a'", "1", "'1'", "true", "'<<'"])
repeating = st.recursive(
    st.sampled_from(["x", "2", "'y'", "null"]),
    lambda inner: st.lists(st.tuples(names, inner), min_size=1, max_size=5),
    max_leaves=15,
)


@given(st.lists(st.tuples(names, repeating), min_size=1, max_size=6), st.booleans())
def test_repeated_keys_are_found_on_the_lines_the_tree_finds(
    pairs: list[tuple[str, Any]], flow: bool
) -> None:
    text = render(pairs, 0, flow)
    assert from_events(text) == by_tree(text)


@pytest.mark.parametrize(
    "text",
    [
        "a: &x [1, 2]\nb: *x\n",  # an anchor and an alias
        "base: &b {x: 1}\nthis:\n  <<: *b\n  y: 2\n",  # a merge key
        "<<: {f: 1}\na: 1\n",
        "a: !!str 1\n",  # tags
        "a: !!python/object/apply:os.system [echo hi]\n",
        "? [1]\n: 2\n",  # a key that is a sequence
        "? {a: 1}\n: 2\n",
        "a: 1\n---\nb: 2\n",  # two documents
        "a: " + "[" * 100 + "]" * 100 + "\n",  # nested deeper than the events go
        "a: " + "[" * 1000 + "\n",
        "a: *nowhere\n",
        "a: [1\n",  # syntax errors
        "a:\n\t- b\n",
        "a: =\n",  # YAML's "value" key, which PyYAML cannot construct
    ],
)
def test_what_the_events_leave_to_the_tree_reads_as_before(text: str) -> None:
    assert outcome(yaml_lines.read, text) == outcome(by_tree, text)


def test_a_config_is_read_without_the_node_tree(monkeypatch: pytest.MonkeyPatch) -> None:
    # 100,000 sensors: 4-5 s for the tree, under 1 s from the events (docs/performance.md).
    def no_tree(text: str) -> None:
        raise AssertionError("composed the node tree")

    monkeypatch.setattr(yaml_lines, "compose", no_tree)
    sensors = "".join(f"  - {{id: m{n}, type: motion}}\n" for n in range(50))
    config = parse_config(f"mqtt: {{port: 1884}}\nsensors:\n{sensors}")
    assert len(config.sensors) == 50
    assert config.mqtt.port == 1884


def test_the_tree_still_gives_the_lines_of_a_validation_error() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config("mqtt:\n  port: 1884\n\nsensors:\n  - {id: m1, type: motion, zone: x}\n")
    assert str(caught.value).startswith("<string> line 5: sensors[0].zone:")
