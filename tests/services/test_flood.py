"""A device over its message budget, through the controller: its surplus reaches the
panel (every change of state trips an armed panel) but is stored as one ``flood`` event
per interval; refused messages are summarised. A fake MQTT client, a real event store
and a fake clock, one turn at a time."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from homeguard.adapters.mqtt import Message
from homeguard.adapters.store import EventStore
from homeguard.adapters.topics import SensorBinding, SiteTopics, TopicMap
from homeguard.config import parse_config
from homeguard.core.model import PanelState, SensorState
from homeguard.services.controller import Controller
from homeguard.services.inbox import SURPLUS_PAUSE, FairInbox, device_of
from homeguard.services.message_security import load_security
from homeguard.services.outbound import Outbound
from homeguard.services.summaries import REFUSALS_AT_ONCE
from tests.services.conftest import FakeClient

T0 = 1764288000.0
HOUSE = """
panel:
  code_arm_required: false
  modes: {armed_home: {exit_delay: 0, entry_delay: 0}}
users: [{name: alice, pin: "1234"}]
sensors:
  - {id: front, type: door, zone: perimeter}
  - {id: living, type: window, zone: perimeter}
  - {id: cellar, type: door, zone: perimeter, signed: true, secret: "cellar secret 0123456789"}
rate_limit: {messages_per_second: 1, burst: 5, report_every: 10}
"""
FRONT = "home/security/door/front"


class Rig:
    def __init__(self, data_dir: Path) -> None:
        config = parse_config(HOUSE)
        self.now = T0
        self.client = FakeClient()
        topics = TopicMap.build("home", [SensorBinding(s.id, s.type) for s in config.sensors], [])
        policy = config.rate_limit.policy()
        known = {s.id for s in config.sensors}
        self.inbox = FairInbox(
            device_of=lambda t: device_of(topics, known, t), policy=policy, clock=self
        )
        self.store = EventStore(data_dir / "events.db")
        self.controller = Controller(
            settings=config.panel_settings(),
            topics=topics,
            outbound=Outbound(self.client, SiteTopics("home")),
            client=self.client,
            inbox=self.inbox,
            store=self.store,
            clock=self,
            flood=policy,
            security=load_security(config, data_dir),
        )
        self.controller.start()
        self.mid = 0

    def __call__(self) -> float:
        return self.now

    def put(self, topic: str, payload: str, qos: int = 1) -> None:
        self.mid += 1
        self.inbox.put(Message(topic, payload.encode(), qos, False, self.mid, False))

    def settle(self) -> None:
        """Turns until everything waiting was handled (surplus comes in rounds)."""
        while self.inbox.qsize() or self.inbox._waiting:
            self.controller.turn()
            self.now += SURPLUS_PAUSE

    def events(self, kind: str) -> list[dict[str, Any]]:
        return [dict(e.data or {}) for e in self.store.system_events(event_type=kind)]

    def published(self, topic: str) -> list[str]:
        return [
            p if isinstance(p, str) else p.decode() for t, p in self.client.published if t == topic
        ]


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    made = Rig(tmp_path)
    yield made
    made.store.close()


def test_surplus_is_not_stored_one_by_one_but_summarised_and_acked(rig: Rig) -> None:
    for _ in range(1000):
        rig.put(FRONT, "CLOSED")
    rig.settle()
    assert rig.store.count_sensor_events(device="front") == 5  # the burst
    assert set(rig.client.acked) == set(range(1, 1001))  # nothing left unacknowledged
    assert rig.events("flood") == []  # summarised once the interval is over
    rig.now += 10
    rig.controller.turn()
    [flood] = rig.events("flood")
    assert flood["device"] == "front" and flood["surplus"] == 995
    assert flood["rate"] == 1 and flood["burst"] == 5
    assert flood["surplus"] >= flood["coalesced"] > 900  # repeats were coalesced
    published = [json.loads(p) for p in rig.published("home/alarm/event")]
    assert [p["event"] for p in published] == ["flood"]


def test_a_change_of_state_in_the_surplus_trips_the_armed_panel(rig: Rig) -> None:
    for _ in range(100):
        rig.put(FRONT, "CLOSED")
    rig.settle()
    rig.put("home/alarm/set", "ARM_HOME")
    rig.settle()
    assert rig.controller.panel.state is PanelState.ARMED_HOME
    for state in ["CLOSED"] * 300 + ["OPEN"] + ["CLOSED"] * 300:
        rig.put(FRONT, state)
    rig.settle()
    assert rig.controller.panel.state is PanelState.TRIGGERED
    assert rig.published("home/control/alarm")[-1] == "ON"
    assert rig.controller.panel.sensor("front").state is SensorState.CLOSED  # the latest
    triggered = rig.events("triggered")
    assert triggered and "front" in json.dumps(triggered)


def test_a_device_within_budget_is_stored_as_always(rig: Rig) -> None:
    for n in range(20):
        rig.put("home/security/window/living", "OPEN" if n % 2 else "CLOSED")
        rig.now += 1.0
        rig.settle()
    assert rig.store.count_sensor_events(device="living") == 20
    rig.now += 10
    rig.controller.turn()
    assert rig.events("flood") == []


def test_refusals_beyond_the_first_few_are_one_summary_per_interval(rig: Rig) -> None:
    for _ in range(400):
        rig.put("home/security/door/cellar", "OPEN")  # unsigned, on a signing sensor
    rig.settle()
    assert len(rig.events("security")) == REFUSALS_AT_ONCE
    handled = rig.controller.stats.rejected["unsigned"]
    rig.now += 10
    rig.controller.turn()
    security = rig.events("security")
    assert len(security) == REFUSALS_AT_ONCE + 1
    summary = next(e for e in security if "refused" in e)
    assert summary["sensor"] == "cellar" and summary["refused"] == handled
    assert summary["reasons"] == {"unsigned": handled}
    [flood] = rig.events("flood")
    assert handled + flood["coalesced"] == 400  # every message is accounted for
    assert len(rig.published("home/alarm/event")) == REFUSALS_AT_ONCE + 2
    assert rig.controller.panel.sensor("cellar").state is None


def test_what_is_open_when_the_controller_stops_is_summarised(rig: Rig) -> None:
    import threading

    for _ in range(50):
        rig.put(FRONT, "CLOSED")
    stop = threading.Event()
    stop.set()
    rig.settle()
    rig.controller.run(stop)  # starts, finds stop set, closes the intervals
    [flood] = rig.events("flood")
    assert flood["surplus"] == 45
