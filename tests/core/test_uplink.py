"""The uplink's pure parts: when a batch is due, and what its messages say."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from homeguard.core.records import SensorRecord, SystemRecord
from homeguard.core.uplink import FORMAT, Forwarded, Pacer, alarm_body, batch_body, event_body

DOOR = Forwarded(7, SensorRecord(10.5, "door", "front", "OPEN", {"battery": 80}, "k", 3))
ALARM = Forwarded(8, SystemRecord(11.0, "triggered", "alarm: front", {"sensors": ["front"]}, 5))
DURESS = Forwarded(9, SystemRecord(12.0, "duress", "duress code", None, 1), silent=True)


def test_a_full_batch_is_due_at_once() -> None:
    pacer = Pacer(size=3, interval=5.0)
    assert not pacer.due(2, now=0.0)
    assert pacer.due(3, now=0.1)


def test_a_smaller_batch_waits_for_the_interval_from_its_first_event() -> None:
    pacer = Pacer(size=100, interval=5.0)
    assert pacer.wake_in(0.0) is None
    assert not pacer.due(1, now=10.0)
    assert pacer.wake_in(12.0) == pytest.approx(3.0)
    assert not pacer.due(40, now=14.9)
    assert pacer.due(40, now=15.0)


def test_nothing_waiting_resets_the_wait() -> None:
    pacer = Pacer(size=100, interval=5.0)
    pacer.due(1, now=0.0)
    pacer.sent(0)
    assert pacer.wake_in(1.0) is None
    assert not pacer.due(1, now=100.0)  # a new wait starts with the new event
    assert pacer.due(1, now=105.0)


def test_a_backlog_left_after_a_batch_goes_without_a_new_wait() -> None:
    pacer = Pacer(size=100, interval=5.0)
    assert pacer.due(150, now=0.0)
    pacer.sent(50)  # 50 were waiting beside the batch of 100
    assert pacer.wake_in(0.01) == 0.0
    assert pacer.due(50, now=0.01)
    pacer.sent(0)
    assert not pacer.due(1, now=0.02)  # a new event waits again


def test_an_interval_of_zero_sends_at_once() -> None:
    assert Pacer(size=100, interval=0.0).due(1, now=0.0)


@given(
    size=st.integers(1, 50),
    interval=st.floats(0, 10),
    steps=st.lists(st.tuples(st.integers(0, 120), st.floats(0, 3)), max_size=30),
)
def test_never_late(size: int, interval: float, steps: list[tuple[int, float]]) -> None:
    """Whatever the arrivals, a batch is due once size events wait, or once events have
    waited the interval since the pacer first saw them."""
    pacer = Pacer(size=size, interval=interval)
    now = 0.0
    for backlog, elapsed in steps:
        now += elapsed
        since = pacer.waiting_since
        due = pacer.due(backlog, now)
        if backlog >= size or (backlog > 0 and since is not None and now - since >= interval):
            assert due
        if backlog == 0:
            assert not due
        if due:
            pacer.sent(0)


def test_a_sensor_event_as_sent_upstream() -> None:
    assert event_body(DOOR) == {
        "seq": 7,
        "kind": "sensor",
        "id": 3,
        "ts": 10.5,
        "device": "front",
        "type": "door",
        "state": "OPEN",
        "metadata": {"battery": 80},
    }


def test_a_batch_names_its_site_number_and_seq_range() -> None:
    body = batch_body("house-1", 4, [DOOR, ALARM], sent_at=20.0)
    assert body["format"] == FORMAT
    assert (body["site"], body["type"], body["batch"]) == ("house-1", "batch", 4)
    assert (body["first_seq"], body["last_seq"], body["count"]) == (7, 8, 2)
    assert [e["seq"] for e in body["events"]] == [7, 8]
    assert body["events"][1]["event"] == "triggered"
    json.dumps(body, allow_nan=False)  # plain JSON
    with pytest.raises(ValueError, match="at least one"):
        batch_body("house-1", 5, [], sent_at=20.0)


def test_an_alarm_message_carries_the_event_with_its_seq() -> None:
    body = alarm_body("house-1", ALARM, sent_at=11.1)
    assert body["type"] == "alarm"
    assert body["event"] == event_body(ALARM)
    assert body["event"]["seq"] == 8


def test_a_duress_alert_is_a_silent_event() -> None:
    assert event_body(DURESS)["kind"] == "silent"
    assert event_body(DURESS)["event"] == "duress"
