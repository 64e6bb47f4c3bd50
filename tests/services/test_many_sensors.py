"""What the controller says after a decision does not look at every sensor configured
(issue 13: flat cost per event up to 100,000 sensors), counted, not timed: the sensors'
topics said at the end of a turn, and the troubles the retained status lists."""

from __future__ import annotations

import heapq
import itertools
import json
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest

from homeguard.adapters.mqtt import MAX_PAYLOAD
from homeguard.adapters.mqtt.message import as_bytes
from homeguard.adapters.topics import SiteTopics
from homeguard.core.model import PanelSettings, SensorSpec, SensorState, SensorType
from homeguard.core.panel import Panel
from homeguard.core.persistent_map import PersistentMap
from homeguard.core.signals import EventKind, RecordEvent
from homeguard.core.state import SensorStatus, Trouble
from homeguard.services.outbound import EVENT_ITEMS, TROUBLES_LISTED, Outbound
from homeguard.services.session import Session
from tests.services.conftest import FakeClient

COUNT = 5_000
SETTINGS = PanelSettings(sensors=tuple(SensorSpec(f"d{n}", SensorType.DOOR) for n in range(COUNT)))


class CountedMap(PersistentMap[str, Any]):
    """The panel's sensors, counting the entries read by walking over them."""

    walked = 0

    def __iter__(self) -> Iterator[str]:
        for key in super().__iter__():
            CountedMap.walked += 1
            yield key


def panels() -> list[Panel]:
    """A panel with every sensor heard, then one change of one sensor after another."""
    heard = CountedMap((f"d{n}", SensorStatus(SensorState.CLOSED)) for n in range(COUNT))
    heard = CountedMap({**heard, "d9": SensorStatus(trouble=Trouble.OFFLINE)})
    CountedMap.walked = 0
    changes = [
        ("d3", SensorStatus(SensorState.OPEN)),
        ("d4000", SensorStatus(trouble=Trouble.SUPERVISION)),
        ("d9", SensorStatus(SensorState.CLOSED)),
    ]
    result = [Panel(sensors=heard)]
    for sensor_id, status in changes:
        heard = heard.set(sensor_id, status)  # a CountedMap too
        result.append(replace(result[-1], sensors=heard))
    return result


def test_the_sensors_said_after_a_turn_are_found_without_walking_over_every_sensor() -> None:
    sink = FakeClient()
    session = Session(Outbound(sink, SiteTopics("home")), SETTINGS, {})
    steps = panels()
    for before, after in itertools.pairwise(steps):
        session.changed(before, after)
    session.say_changed(steps[-1])
    assert CountedMap.walked == 0
    assert [topic for topic, _ in sink.published] == [
        "home/alarm/sensors/d3",
        "home/alarm/sensors/d4000",
        "home/alarm/sensors/d9",
    ]


def test_the_troubles_of_the_status_follow_the_sensors_that_changed() -> None:
    sink = FakeClient()
    out = Outbound(sink, SiteTopics("home"))
    troubles = []
    for step, panel in enumerate(panels()):
        out.state(panel, 0.0)
        if step == 0:
            CountedMap.walked = 0  # the first one looks at every sensor, once
        troubles.append(json.loads(sink.published[-1][1])["troubles"])
    assert CountedMap.walked == 0
    assert troubles == [
        {"d9": "offline"},
        {"d9": "offline"},
        {"d4000": "supervision", "d9": "offline"},
        {"d4000": "supervision"},
    ]


def test_the_troubles_are_sorted_again_only_when_one_comes_goes_or_changes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A state said with many sensors in trouble (a site gone silent) does not sort them
    all again while their troubles stay as they were (12 ms at 100,000)."""
    sorts = []
    nsmallest = heapq.nsmallest

    def counted(*args: Any, **kwargs: Any) -> Any:
        sorts.append(args)
        return nsmallest(*args, **kwargs)

    monkeypatch.setattr(heapq, "nsmallest", counted)
    sink = FakeClient()
    out = Outbound(sink, SiteTopics("home"))
    steps = panels()  # d9 offline, then d3 opens, d4000 in trouble, d9 back
    for panel in (steps[0], replace(steps[0], since=5.0), steps[1], steps[1], steps[2], steps[3]):
        out.state(panel, 0.0)
    assert len(sorts) == 3  # the first, then d4000's trouble came, then d9's went
    assert json.loads(sink.published[-1][1])["troubles"] == {"d4000": "supervision"}


def test_a_status_with_more_troubles_than_fit_in_a_message_lists_the_first_and_counts_all() -> None:
    # 20,000 sensors offline (a site whose sensors all went silent) once made a status of
    # over 256 KB: the client refused it, and the controller stopped.
    count = 20_000
    silent = PersistentMap(
        (f"sensor-{n:05}", SensorStatus(trouble=Trouble.OFFLINE)) for n in range(count)
    )
    sink = FakeClient()
    Outbound(sink, SiteTopics("home")).state(Panel(sensors=silent), 0.0)
    topic, payload = sink.published[-1]
    assert topic == "home/security/status"
    assert len(as_bytes(payload)) <= MAX_PAYLOAD
    status = json.loads(payload)
    assert status["troubles_total"] == count
    assert list(status["troubles"]) == [f"sensor-{n:05}" for n in range(TROUBLES_LISTED)]


def test_an_event_too_large_for_a_message_is_published_shortened() -> None:
    names = [f"window-{n:06}" for n in range(50_000)]
    refused = RecordEvent(
        EventKind.COMMAND_REJECTED,
        "cannot arm away: not ready: " + ", ".join(names),
        {"reason": "not_ready", "sensors": names},
    )
    sink = FakeClient()
    Outbound(sink, SiteTopics("home")).event(refused, 5.0)
    _topic, payload = sink.published[-1]
    assert len(as_bytes(payload)) <= MAX_PAYLOAD
    body = json.loads(payload)
    assert body["truncated"] is True
    assert body["sensors"] == names[:EVENT_ITEMS]
    assert body["description"].startswith("cannot arm away: not ready: window-000000, ")
    assert (body["event"], body["reason"], body["timestamp"]) == (
        "command_rejected",
        "not_ready",
        5.0,
    )
