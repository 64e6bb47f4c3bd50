"""The uplink's outbox and cursor in the SQLite store, on real files."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from homeguard.adapters.store import EventStore
from homeguard.adapters.store.uplink import UplinkOutbox
from homeguard.core.records import Batch, EventQuery, SensorRecord, SystemRecord


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "events.db"


@pytest.fixture
def store(path: Path) -> Iterator[EventStore]:
    with EventStore(path) as opened:
        yield opened


def door(ts: float, state: str = "OPEN", key: str | None = None) -> SensorRecord:
    return SensorRecord(ts, "door", "front", state, {"seq": int(ts)}, dedup_key=key)


def event(ts: float, kind: str = "armed") -> SystemRecord:
    return SystemRecord(ts, kind, f"{kind} at {ts}", {"mode": "away"})


def test_nothing_joins_the_outbox_while_the_uplink_is_off(store: EventStore) -> None:
    outbox = UplinkOutbox(store)
    store.write(Batch(sensor_events=[door(1.0)], system_events=[event(1.0)]))
    assert outbox.cursor() is None
    assert outbox.unsent(10) == []
    assert outbox.last_seq() == 0


def test_committed_events_are_numbered_in_commit_order(store: EventStore) -> None:
    outbox = UplinkOutbox(store)
    store.write(Batch(sensor_events=[door(1.0)]))  # before: never forwarded
    cursor = outbox.open(duress=False)
    assert (cursor.sent_seq, cursor.backlog) == (0, 0)
    store.write(Batch(sensor_events=[door(3.0), door(4.0, "CLOSED")], system_events=[event(2.0)]))
    store.write(Batch(system_events=[event(5.0, "triggered")]))
    unsent = outbox.unsent(10)
    assert [item.seq for item in unsent] == [1, 2, 3, 4]
    # within one commit in the order written (sensor events first), then the next commit
    assert [item.record.ts for item in unsent] == [3.0, 4.0, 2.0, 5.0]
    first, _, armed, triggered = unsent
    assert isinstance(first.record, SensorRecord)
    assert first.record.metadata == {"seq": 3}
    assert first.record.id is not None
    assert isinstance(armed.record, SystemRecord)
    assert armed.record.data == {"mode": "away"}
    assert outbox.alarms(0, 4, ["triggered"]) == [triggered]
    assert outbox.alarms(4, 4, ["triggered"]) == []
    assert outbox.cursor() is not None
    assert outbox.cursor().backlog == 4  # type: ignore[union-attr]


def test_a_redelivered_sensor_message_is_forwarded_once(store: EventStore) -> None:
    outbox = UplinkOutbox(store)
    outbox.open(duress=False)
    store.write(Batch(sensor_events=[door(1.0, key="front:1")]))
    store.write(Batch(sensor_events=[door(1.0, key="front:1"), door(2.0, key="front:2")]))
    assert [item.record.ts for item in outbox.unsent(10)] == [1.0, 2.0]


def test_duress_joins_only_when_asked(store: EventStore) -> None:
    outbox = UplinkOutbox(store)
    outbox.open(duress=False)
    store.write(Batch(silent_alerts=[event(1.0, "duress")]))
    assert outbox.unsent(10) == []
    outbox.open(duress=True)
    store.write(Batch(silent_alerts=[event(2.0, "duress")]))
    (item,) = outbox.unsent(10)
    assert item.silent
    assert outbox.alarms(0, item.seq, ["triggered"]) == [item]


def test_sent_events_leave_and_the_cursor_survives_a_restart(path: Path) -> None:
    with EventStore(path) as store:
        outbox = UplinkOutbox(store)
        outbox.open(duress=False)
        store.write(Batch(sensor_events=[door(float(ts)) for ts in range(1, 6)]))
        outbox.sent(3, 1, 100.0)
    with EventStore(path) as store:
        outbox = UplinkOutbox(store)
        cursor = outbox.open(duress=False)  # opening again keeps the cursor
        assert (cursor.sent_seq, cursor.batches, cursor.sent_at) == (3, 1, 100.0)
        assert cursor.backlog == 2
        assert [item.seq for item in outbox.unsent(10)] == [4, 5]
        store.write(Batch(sensor_events=[door(6.0)]))
        assert [item.seq for item in outbox.unsent(10)] == [4, 5, 6]


def test_pruning_the_log_keeps_unsent_events(store: EventStore) -> None:
    outbox = UplinkOutbox(store)
    outbox.open(duress=False)
    store.write(Batch(sensor_events=[door(1.0), door(2.0)], system_events=[event(1.5)]))
    assert store.prune(before=10.0) == 3
    assert store.count_events(EventQuery()) == 0
    assert [item.record.ts for item in outbox.unsent(10)] == [1.0, 2.0, 1.5]


def test_numbers_are_never_reused_after_everything_was_sent(store: EventStore) -> None:
    outbox = UplinkOutbox(store)
    outbox.open(duress=False)
    store.write(Batch(sensor_events=[door(1.0), door(2.0)]))
    outbox.sent(2, 1, 10.0)
    assert outbox.unsent(10) == []
    store.write(Batch(sensor_events=[door(3.0)]))
    assert [item.seq for item in outbox.unsent(10)] == [3]


def test_closing_drops_the_outbox_and_stops_filling_it(store: EventStore) -> None:
    outbox = UplinkOutbox(store)
    outbox.open(duress=False)
    store.write(Batch(sensor_events=[door(1.0), door(2.0)]))
    assert outbox.close() == 2
    store.write(Batch(sensor_events=[door(3.0)]))
    assert outbox.cursor() is None
    assert outbox.unsent(10) == []


def test_the_connection_is_noted(store: EventStore) -> None:
    outbox = UplinkOutbox(store)
    outbox.open(duress=False)
    outbox.note_connection(True, 42.0)
    cursor = outbox.cursor()
    assert cursor is not None
    assert (cursor.connected, cursor.connected_changed) == (True, 42.0)
