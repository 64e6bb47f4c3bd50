"""What a valid MQTT topic name and filter are, and which topics a filter matches."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st
from paho.mqtt.client import topic_matches_sub

from homeguard.core.topic import (
    MAX_TOPIC_BYTES,
    Topic,
    TopicFilter,
    filter_problem,
    name_problem,
    prefix_problem,
)


@pytest.mark.parametrize(
    "name",
    [
        "home/security/door/front",
        "a",
        "/",
        "a//b",
        "/leading",
        "trailing/",
        " spaced out ",
        "maison/sécurité/porte",
        "emoji/\U0001f6aa",
        "$SYS/broker/uptime",
        "é" * (MAX_TOPIC_BYTES // 2) + "a",  # exactly the limit, in bytes
    ],
)
def test_valid_names(name: str) -> None:
    assert name_problem(name) is None
    assert Topic(name).value == name
    assert filter_problem(name) is None  # a name is also a filter, of itself alone
    assert TopicFilter(name).matches(name)


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("", "must not be empty"),
        ("home/+", "wildcard"),
        ("home/#", "wildcard"),
        ("a+b", "wildcard"),
        ("nul\0here", "U+0000"),
        ("tab\there", "U+0009"),
        ("line\nbreak", "U+000A"),
        ("delete\x7f", "U+007F"),
        ("next-line\x85", "U+0085"),
        ("lone\ud800surrogate", "U+D800"),
        ("non\ufdd0character", "U+FDD0"),
        ("non\ufffecharacter", "U+FFFE"),
        ("plane16\U0010ffff", "U+10FFFF"),
        ("é" * (MAX_TOPIC_BYTES // 2 + 1), "longer than an MQTT topic may be"),
        ("a" * (MAX_TOPIC_BYTES + 1), "longer than an MQTT topic may be"),
    ],
)
def test_invalid_names(name: str, problem: str) -> None:
    found = name_problem(name)
    assert found is not None and problem in found
    with pytest.raises(ValueError, match="invalid MQTT topic name") as raised:
        Topic(name)
    assert len(str(raised.value)) < 300  # a huge topic is not copied into the message


@pytest.mark.parametrize(
    "topic_filter", ["#", "+", "+/+", "home/#", "home/+/door", "/+", "+/", "$SYS/#", "a//#"]
)
def test_valid_filters(topic_filter: str) -> None:
    assert filter_problem(topic_filter) is None
    assert TopicFilter(topic_filter).value == topic_filter
    assert not TopicFilter(topic_filter).exact


@pytest.mark.parametrize(
    ("topic_filter", "problem"),
    [
        ("", "must not be empty"),
        ("home/#/door", "'#' only as its last level"),
        ("#/", "'#' only as its last level"),
        ("home#", "as a whole level"),
        ("home/door+", "as a whole level"),
        ("+home", "as a whole level"),
        ("home/\0/#", "U+0000"),
        ("home/\n", "U+000A"),
    ],
)
def test_invalid_filters(topic_filter: str, problem: str) -> None:
    found = filter_problem(topic_filter)
    assert found is not None and problem in found
    with pytest.raises(ValueError, match="invalid MQTT topic filter"):
        TopicFilter(topic_filter)


@pytest.mark.parametrize(
    ("prefix", "problem"),
    [
        ("home", None),
        ("site/7", None),
        ("homeassistant", None),
        ("$home", "reserved for the broker"),
        ("/home", "empty level"),
        ("home/", "empty level"),
        ("a//b", "empty level"),
        ("home/#", "wildcard"),
        ("", "must not be empty"),
    ],
)
def test_prefixes_of_our_own_topics(prefix: str, problem: str | None) -> None:
    found = prefix_problem(prefix)
    assert found == problem if problem is None else found is not None and problem in found


@pytest.mark.parametrize(
    ("topic_filter", "topic", "matches"),
    [
        ("home/security/#", "home/security/door/front", True),
        ("home/security/#", "home/security", True),  # '#' includes the parent level
        ("home/security/#", "home/securityx", False),
        ("home/+/availability", "home/devices/availability", True),
        ("home/+/availability", "home/devices/x/availability", False),
        ("+/+", "/x", True),  # an empty level is a level
        ("+", "/x", False),
        ("#", "$SYS/broker/uptime", False),  # wildcards first do not reach the broker's
        ("+/broker/#", "$SYS/broker/uptime", False),
        ("$SYS/#", "$SYS/broker/uptime", True),
        ("home/alarm/set", "home/alarm/set", True),
        ("home/alarm/set", "home/alarm/state", False),
    ],
)
def test_matching(topic_filter: str, topic: str, matches: bool) -> None:
    assert TopicFilter(topic_filter).matches(topic) is matches
    assert Topic(topic).matches(topic_filter) is matches
    assert TopicFilter(topic_filter).matches(Topic(topic)) is matches


def test_reserved_topics_and_text_forms() -> None:
    assert Topic("$SYS/x").reserved and not Topic("home/$x").reserved
    assert str(Topic("home/a")) == "home/a" and str(TopicFilter("home/#")) == "home/#"
    assert Topic("a/b/c").levels == ("a", "b", "c") and TopicFilter("/#").levels == ("", "#")
    assert TopicFilter("home/a").exact
    assert Topic("x") == Topic("x") and hash(Topic("x")) == hash(Topic("x"))


# ------------------------------------------------------------------------ properties


def _allowed(char: str) -> bool:
    """The standard's own terms: no control character, surrogate or non-character."""
    code = ord(char)
    non_character = 0xFDD0 <= code <= 0xFDEF or code & 0xFFFE == 0xFFFE
    return unicodedata.category(char) not in ("Cc", "Cs") and not non_character


@given(st.text(st.characters(exclude_categories=()), max_size=40))
def test_a_name_is_what_the_standard_says(text: str) -> None:
    expected = (
        text != ""
        and "+" not in text
        and "#" not in text
        and all(_allowed(char) for char in text)
        and len(text.encode()) <= MAX_TOPIC_BYTES
    )
    assert (name_problem(text) is None) is expected


_LEVELS = st.sampled_from(["a", "b", "", "$s", "é"])
_TOPICS = st.lists(_LEVELS, min_size=1, max_size=5).map("/".join).filter(bool)
_FILTERS = st.builds(
    lambda levels, tail: "/".join([*levels, *tail]),
    st.lists(st.sampled_from(["a", "b", "", "$s", "+"]), min_size=0, max_size=5),
    st.sampled_from([[], ["#"]]),
).filter(bool)


@given(_FILTERS, _TOPICS)
def test_matching_agrees_with_paho(topic_filter: str, topic: str) -> None:
    assert TopicFilter(topic_filter).matches(topic) is topic_matches_sub(topic_filter, topic)


@given(_TOPICS, st.data())
def test_a_filter_made_from_a_topic_matches_it(topic: str, data: st.DataObject) -> None:
    levels = topic.split("/")
    keep = data.draw(st.integers(0, len(levels)))
    wild = [
        "+" if data.draw(st.booleans()) and (index or not topic.startswith("$")) else level
        for index, level in enumerate(levels[:keep])
    ]
    topic_filter = "/".join(wild + ([] if keep == len(levels) else ["#"]))
    if topic.startswith("$") and topic_filter.startswith("#"):
        return  # '#' alone does not reach the broker's topics (tested above)
    assert TopicFilter(topic_filter).matches(topic)
