"""The MQTT client's outbox without a broker: a fake ``send`` stands for paho.

These pin what the broker tests in test_mqtt.py rely on: order, the in-flight window,
nothing lost while disconnected, paho's resends first after a reconnect, refusals kept.
"""

from __future__ import annotations

import threading

import pytest

from homeguard.adapters.mqtt.outbox import Outbox, Outgoing


def message(n: int, qos: int = 1) -> Outgoing:
    return Outgoing(f"home/alarm/event/{n}", str(n).encode(), qos, False)


class FakePaho:
    """Takes each message with the next mid, like paho's publish()."""

    def __init__(self) -> None:
        self.sent: list[Outgoing] = []
        self.mids: dict[int, Outgoing] = {}
        self.next_mid = 1

    def send(self, outgoing: Outgoing) -> int | None:
        mid = self.next_mid
        self.next_mid += 1
        self.sent.append(outgoing)
        self.mids[mid] = outgoing
        return mid

    def payloads(self) -> list[bytes]:
        return [m.payload for m in self.sent]


def filled(n: int, max_inflight: int = 20) -> Outbox:
    outbox = Outbox(max_inflight)
    for i in range(n):
        outbox.add(message(i))
    return outbox


def test_nothing_is_sent_before_the_connection_and_nothing_is_lost() -> None:
    outbox, paho = filled(5), FakePaho()

    outbox.pump(paho.send)

    assert paho.sent == []
    assert outbox.pending == 5
    assert not outbox.wait_empty(0)


def test_at_most_max_inflight_are_handed_on_in_order() -> None:
    outbox, paho = filled(10, max_inflight=3), FakePaho()
    outbox.resume()

    outbox.pump(paho.send)
    assert paho.payloads() == [b"0", b"1", b"2"]

    outbox.acknowledged(1)
    outbox.pump(paho.send)
    assert paho.payloads() == [b"0", b"1", b"2", b"3"]  # one freed place, one more
    assert outbox.pending == 9


def test_acknowledging_everything_empties_the_outbox() -> None:
    outbox, paho = filled(50, max_inflight=20), FakePaho()
    outbox.resume()
    outbox.pump(paho.send)
    for _ in range(5):  # the broker acknowledges each window as a whole
        for mid in list(paho.mids):
            del paho.mids[mid]
            outbox.acknowledged(mid)
        outbox.pump(paho.send)

    assert paho.payloads() == [str(n).encode() for n in range(50)]
    assert outbox.wait_empty(0)


def test_while_disconnected_messages_wait_and_go_after_the_reconnect() -> None:
    outbox, paho = filled(2), FakePaho()
    outbox.resume()
    outbox.pump(paho.send)
    outbox.acknowledged(1)
    outbox.acknowledged(2)

    outbox.pause()
    for n in range(2, 5):
        outbox.add(message(n))
    outbox.pump(paho.send)
    assert len(paho.sent) == 2
    assert outbox.pending == 3

    outbox.resume()  # nothing was in flight: no replay to wait for
    outbox.pump(paho.send)
    assert paho.payloads() == [b"0", b"1", b"2", b"3", b"4"]


def test_after_a_reconnect_new_messages_wait_for_pahos_resends() -> None:
    outbox, paho = filled(3), FakePaho()
    outbox.resume()
    outbox.pump(paho.send)  # 0, 1, 2 in flight (mids 1-3)
    outbox.pause()  # the connection drops; paho keeps 0, 1, 2 and resends them
    outbox.add(message(3))

    outbox.resume()
    outbox.pump(paho.send)
    assert len(paho.sent) == 3  # 3 would overtake the resends
    outbox.acknowledged(1)
    outbox.acknowledged(2)
    outbox.pump(paho.send)
    assert len(paho.sent) == 3

    outbox.acknowledged(3)  # the last resend: in order from here
    outbox.pump(paho.send)
    assert paho.payloads() == [b"0", b"1", b"2", b"3"]


def test_a_refused_message_stays_first_in_line() -> None:
    outbox, paho = filled(3), FakePaho()
    outbox.resume()
    refusals = [message(0)]

    def refusing(outgoing: Outgoing) -> int | None:
        if refusals and outgoing == refusals[0]:
            refusals.pop()
            return None
        return paho.send(outgoing)

    outbox.pump(refusing)
    assert paho.sent == []  # the round stops at the refusal
    assert outbox.pending == 3

    outbox.pump(refusing)
    assert paho.payloads() == [b"0", b"1", b"2"]


def test_a_send_that_raises_keeps_the_message() -> None:
    outbox, paho = filled(2), FakePaho()
    outbox.resume()

    def broken(outgoing: Outgoing) -> int | None:
        raise OSError("socket gone")

    with pytest.raises(OSError, match="socket gone"):
        outbox.pump(broken)
    assert outbox.pending == 2

    outbox.pump(paho.send)
    assert paho.payloads() == [b"0", b"1"]


def test_a_message_being_handed_on_is_still_pending() -> None:
    outbox = filled(1)
    outbox.resume()
    seen: list[tuple[int, bool]] = []

    def watching(outgoing: Outgoing) -> int | None:
        seen.append((outbox.pending, outbox.wait_empty(0)))
        return 1

    outbox.pump(watching)

    assert seen == [(1, False)]  # a stop() in this moment must not think all is sent
    assert outbox.pending == 1


def test_an_acknowledgement_before_send_returns_is_not_lost() -> None:
    outbox = filled(3, max_inflight=1)
    outbox.resume()
    sent: list[Outgoing] = []

    def quick(outgoing: Outgoing) -> int | None:
        sent.append(outgoing)
        mid = len(sent)
        outbox.acknowledged(mid)  # paho's thread was faster than ours
        outbox.pump(quick)  # as paho's on_publish does: must not block nor recurse
        return mid

    outbox.pump(quick)

    assert [m.payload for m in sent] == [b"0", b"1", b"2"]
    assert outbox.pending == 0
    assert outbox.wait_empty(0)


def test_wait_empty_wakes_up_on_the_last_acknowledgement() -> None:
    outbox, paho = filled(2), FakePaho()
    outbox.resume()
    outbox.pump(paho.send)
    result: list[bool] = []
    waiter = threading.Thread(target=lambda: result.append(outbox.wait_empty(30)))
    waiter.start()

    outbox.acknowledged(1)
    outbox.acknowledged(2)
    waiter.join(30)

    assert result == [True]


def test_pumps_from_two_threads_hand_each_message_on_once() -> None:
    outbox, paho = filled(0, max_inflight=1000), FakePaho()
    outbox.resume()
    lock = threading.Lock()

    def send(outgoing: Outgoing) -> int | None:
        with lock:
            return paho.send(outgoing)

    def publish(base: int) -> None:
        for n in range(base, base + 300):
            outbox.add(message(n))
            outbox.pump(send)

    threads = [threading.Thread(target=publish, args=(base,)) for base in (0, 1000)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    payloads = [int(p) for p in paho.payloads()]
    assert sorted(payloads) == [*range(300), *range(1000, 1300)]
    assert [p for p in payloads if p < 1000] == list(range(300))  # each thread's order kept
    assert outbox.pending == 600


def test_qos0_messages_written_but_not_sent_are_lost_with_the_connection() -> None:
    outbox = Outbox(20)
    outbox.resume()
    outbox.written_qos0(1)
    outbox.written_qos0(2)
    outbox.acknowledged(1)  # on the wire
    outbox.acknowledged(3)  # before written_qos0(3): paho wrote it at once
    outbox.written_qos0(3)
    outbox.drop_qos0()  # published while disconnected

    assert outbox.pause() == 1  # mid 2
    assert outbox.dropped == 2
    assert outbox.pause() == 0
    assert outbox.pending == 0  # QoS 0 never counts as unacknowledged


def test_qos0_does_not_wait_and_the_window_is_at_least_one() -> None:
    with pytest.raises(ValueError, match="QoS 0"):
        Outbox(20).add(message(0, qos=0))
    with pytest.raises(ValueError, match="max_inflight"):
        Outbox(0)


def test_an_urgent_message_goes_ahead_of_the_waiting_ones_and_past_the_window() -> None:
    outbox, paho = filled(5, max_inflight=2), FakePaho()
    outbox.add(message(99, qos=2), urgent=True)
    outbox.resume()

    outbox.pump(paho.send)  # the urgent one first; then the window (of two) is full

    assert paho.payloads() == [b"99", b"0"]
    outbox.add(message(100, qos=2), urgent=True)
    outbox.pump(paho.send)
    assert paho.payloads() == [b"99", b"0", b"100"]  # not held by the full window
    assert outbox.pending == 7


def state(sensor: str, payload: str) -> Outgoing:
    return Outgoing(f"home/alarm/sensors/{sensor}", payload.encode(), 1, True)


def test_replaceable_messages_wait_behind_the_others_within_the_window() -> None:
    outbox, paho = Outbox(2), FakePaho()
    for sensor in ("a", "b", "c"):  # restated at start, before a command's answer
        outbox.add(state(sensor, "CLOSED"), replaceable=True)
    outbox.add(message(1))
    outbox.resume()

    outbox.pump(paho.send)
    assert paho.payloads() == [b"1", b"CLOSED"]  # the answer first; then the window
    assert outbox.pending == 4

    for mid in list(paho.mids):
        outbox.acknowledged(mid)
    outbox.pump(paho.send)
    assert [m.topic for m in paho.sent[1:]] == [f"home/alarm/sensors/{s}" for s in "abc"]


def test_a_later_message_on_its_topic_takes_the_place_of_a_replaceable_one() -> None:
    outbox, paho = Outbox(20), FakePaho()
    outbox.add(state("a", "CLOSED"), replaceable=True)
    outbox.add(state("b", "CLOSED"), replaceable=True)
    outbox.add(state("a", "OPEN"), replaceable=True)  # the latest of "a" is said, once
    outbox.add(state("b", "OPEN"))  # not replaceable: the waiting "b" is moot
    assert outbox.pending == 2
    outbox.resume()

    outbox.pump(paho.send)

    assert [(m.topic[-1], m.payload) for m in paho.sent] == [("b", b"OPEN"), ("a", b"OPEN")]


def test_a_refused_replaceable_message_goes_before_a_later_one_on_its_topic() -> None:
    outbox, paho = Outbox(20), FakePaho()
    outbox.add(state("a", "CLOSED"), replaceable=True)
    outbox.resume()

    def refusing(outgoing: Outgoing) -> int | None:
        outbox.add(state("a", "OPEN"))  # comes while the first is being handed on
        return None

    outbox.pump(refusing)
    outbox.pump(paho.send)

    assert paho.payloads() == [b"CLOSED", b"OPEN"]  # the broker keeps the latest


def test_wait_urgent_waits_for_the_urgent_messages_only() -> None:
    outbox, paho = filled(3), FakePaho()
    outbox.resume()
    outbox.pump(paho.send)  # mids 1-3: bookkeeping, in flight
    outbox.add(message(99, qos=2), urgent=True)
    outbox.pump(paho.send)  # mid 4

    assert not outbox.wait_urgent(0)  # in flight, not yet acknowledged
    outbox.acknowledged(4)
    assert outbox.wait_urgent(0)  # the bookkeeping still in flight does not count
    assert outbox.pending == 3


def test_wait_urgent_wakes_up_on_the_acknowledgement_and_gives_up_when_disconnected() -> None:
    outbox, paho = Outbox(20), FakePaho()
    outbox.resume()
    outbox.add(message(99, qos=2), urgent=True)
    outbox.pump(paho.send)
    result: list[bool] = []
    waiter = threading.Thread(target=lambda: result.append(outbox.wait_urgent(30)))
    waiter.start()
    outbox.acknowledged(1)
    waiter.join(30)
    assert result == [True]

    outbox.add(message(100, qos=2), urgent=True)
    outbox.pause()  # it waits for the reconnection: nobody waits for it meanwhile
    assert not outbox.wait_urgent(30)
