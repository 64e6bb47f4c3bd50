"""The controller's inbox on a fake clock: budgets per device, a flood that cannot get
ahead of another device, coalescing that keeps every change of state, bounded memory."""

from __future__ import annotations

import queue
from typing import Any

import pytest

from homeguard.adapters.mqtt import Message
from homeguard.adapters.topics import SensorBinding, TopicMap
from homeguard.core.flood import FloodPolicy
from homeguard.core.model import SensorType
from homeguard.services.inbox import SURPLUS_PAUSE, UNKNOWN, FairInbox, Surplus, device_of

POLICY = FloodPolicy(rate=1.0, burst=3, interval=60.0)
TOPICS = TopicMap.build(
    "home",
    [SensorBinding("front", SensorType.DOOR), SensorBinding("living", SensorType.WINDOW)],
    ["siren"],
)
FRONT = "home/security/door/front"
LIVING = "home/security/window/living"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


KNOWN = {"front", "living", "siren"}


def fair_inbox(clock: Clock, keep: int = 64) -> FairInbox:
    return FairInbox(
        device_of=lambda t: device_of(TOPICS, KNOWN, t), policy=POLICY, clock=clock, keep=keep
    )


def message(topic: str, payload: str, mid: int = 0, qos: int = 0) -> Message:
    return Message(topic, payload.encode(), qos, False, mid, False)


def drain(inbox: FairInbox) -> list[Any]:
    taken = []
    while True:
        try:
            taken.append(inbox.get_nowait())
        except queue.Empty:
            return taken


def payloads(items: list[Any]) -> list[str]:
    return [
        (i.message if isinstance(i, Surplus) else i).payload.decode()
        for i in items
        if isinstance(i, Message | Surplus)
    ]


def test_whose_budget_a_topic_spends() -> None:
    assert device_of(TOPICS, KNOWN, FRONT) == "front"
    assert device_of(TOPICS, KNOWN, "home/security/door") == "front"  # the short form
    assert device_of(TOPICS, KNOWN, "home/devices/front/availability") == "front"
    assert device_of(TOPICS, KNOWN, "home/control/siren/state") == "siren"
    assert device_of(TOPICS, KNOWN, "home/alarm/set") == "alarm/set"
    assert device_of(TOPICS, KNOWN, "home/security/door/nobody") == UNKNOWN
    assert device_of(TOPICS, KNOWN, "home/security/status") == UNKNOWN
    assert device_of(TOPICS, KNOWN, "home/devices/made-up/announce") == UNKNOWN


def test_within_budget_everything_keeps_its_order() -> None:
    clock = Clock()
    inbox = fair_inbox(clock)
    request = object()  # a request from the web server
    inbox.put(message(FRONT, "OPEN"))
    inbox.put(request)
    inbox.put(message(LIVING, "OPEN"))
    inbox.put(message(FRONT, "CLOSED"))
    taken = drain(inbox)
    assert taken[1] is request
    assert payloads(taken) == ["OPEN", "OPEN", "CLOSED"]
    assert not any(isinstance(i, Surplus) for i in taken)


def test_a_flood_never_gets_ahead_of_another_device() -> None:
    clock = Clock()
    inbox = fair_inbox(clock)
    for n in range(1000):
        inbox.put(message(FRONT, f"junk {n}"))
    inbox.put(message(LIVING, "OPEN"))  # the alarm, behind a thousand
    first = drain(inbox)
    # front's burst, then the window: front's surplus comes after everything else.
    assert payloads(first[:4]) == ["junk 0", "junk 1", "junk 2", "OPEN"]
    assert all(isinstance(i, Surplus) and i.device == "front" for i in first[4:])
    # and it is bounded: 64 waiting at most, the newest last, the rest counted.
    surplus = first[4:]
    assert len(surplus) == 64
    assert surplus[-1].message.payload == b"junk 999"
    assert sum(1 + s.coalesced for s in surplus) == 997


def test_repeats_are_coalesced_and_every_change_of_state_is_kept() -> None:
    clock = Clock()
    inbox = fair_inbox(clock)
    for _ in range(3):
        inbox.put(message(FRONT, "CLOSED"))  # the burst
    states = ["CLOSED"] * 500 + ["OPEN"] + ["CLOSED"] * 500 + ["OPEN"] * 7
    for state in states:
        inbox.put(message(FRONT, state))
    taken = drain(inbox)[3:]
    assert payloads(taken) == ["CLOSED", "OPEN", "CLOSED", "OPEN"]  # the edges, in order
    assert [s.coalesced for s in taken] == [499, 0, 499, 6]
    assert sum(1 + s.coalesced for s in taken) == len(states)


def test_a_device_with_surplus_waiting_keeps_its_order_when_its_budget_returns() -> None:
    clock = Clock()
    inbox = fair_inbox(clock)
    for state in ["OPEN", "CLOSED", "OPEN", "CLOSED"]:  # the last one is surplus
        inbox.put(message(FRONT, state))
    clock.now += 10  # the bucket is full again...
    inbox.put(message(FRONT, "OPEN"))  # ...but this one queues behind the surplus
    taken = drain(inbox)
    assert payloads(taken) == ["OPEN", "CLOSED", "OPEN", "CLOSED", "OPEN"]
    assert [isinstance(i, Surplus) for i in taken] == [False, False, False, True, True]


def test_surplus_that_needs_an_ack_is_handed_on_with_its_replacement() -> None:
    clock = Clock()
    inbox = fair_inbox(clock)
    for mid in range(1, 4):
        inbox.put(message(FRONT, "CLOSED", mid, qos=1))
    inbox.put(message(FRONT, "CLOSED", 4, qos=1))
    inbox.put(message(FRONT, "CLOSED", 5, qos=0))
    inbox.put(message(FRONT, "CLOSED", 6, qos=1))
    [surplus] = drain(inbox)[3:]
    assert surplus.message.mid == 6 and surplus.coalesced == 2
    assert [m.mid for m in surplus.replaced] == [4]  # the QoS 0 one needs no ack


def test_surplus_is_taken_in_rounds_and_the_fifo_lane_always_first() -> None:
    clock = Clock()
    inbox = fair_inbox(clock)
    for n in range(4):
        inbox.put(message(FRONT, f"{n}"))
    assert payloads(drain(inbox)) == ["0", "1", "2", "3"]  # a round of surplus
    inbox.put(message(FRONT, "4"))
    inbox.put(message(LIVING, "OPEN"))
    assert payloads(drain(inbox)) == ["OPEN"]  # front's surplus waits for its round
    assert inbox.qsize() == 0
    with pytest.raises(queue.Empty):
        inbox.get(timeout=0.01)
    clock.now += SURPLUS_PAUSE
    assert inbox.qsize() == 1
    assert payloads([inbox.get(timeout=0.01)]) == ["4"]


def test_surplus_that_the_broker_waits_for_is_taken_at_once() -> None:
    clock = Clock()
    inbox = fair_inbox(clock)
    for mid in range(1, 5):
        inbox.put(message(FRONT, f"{mid}", mid, qos=0))
    assert payloads(drain(inbox)) == ["1", "2", "3", "4"]  # a round of surplus ended
    inbox.put(message(FRONT, "5", 5, qos=0))
    assert drain(inbox) == []  # QoS 0 waits for the next round...
    inbox.put(message(FRONT, "6", 6, qos=1))
    assert payloads(drain(inbox)) == ["5", "6"]  # ...QoS 1 does not: the broker waits
    inbox.put(message(FRONT, "7", 7, qos=0))
    assert drain(inbox) == []  # and the count of what awaits an ack is back to none


def test_made_up_device_names_share_one_budget() -> None:
    clock = Clock()
    inbox = fair_inbox(clock)
    for n in range(10):
        inbox.put(message(f"home/devices/d{n}/announce", "{}"))
    inbox.put(message("home/devices/front/announce", "{}"))  # a configured one: its own
    taken = drain(inbox)
    assert [type(i).__name__ for i in taken[:4]] == ["Message"] * 4
    assert [i.message.topic for i in taken if isinstance(i, Surplus)] == [
        f"home/devices/d{n}/announce" for n in range(3, 10)
    ]
    assert len(inbox._budgets) == 2
