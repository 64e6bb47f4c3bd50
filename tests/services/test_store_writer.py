"""The controller's store writer on a real SQLite file that fails on demand."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from homeguard.adapters.store import EventStore
from homeguard.core.records import Batch, SensorRecord, SystemRecord
from homeguard.core.signals import SystemHealth
from homeguard.errors import StoreUnavailable
from homeguard.services.store_writer import StoreWriter
from tests.conftest import wait_until


class FlakyStore:
    """An event store whose writes fail (``failing``) or hang (``gate`` cleared) at will."""

    def __init__(self, path: Path) -> None:
        self.store = EventStore(path)
        self.failing = False
        self.gate = threading.Event()
        self.gate.set()
        self.attempts = 0

    def write(self, batch: Batch) -> object:
        self.attempts += 1
        self.gate.wait()
        if self.failing:
            raise StoreUnavailable("cannot write to the event store: database or disk is full")
        return self.store.write(batch)

    def prune(self, before: float) -> int:
        return self.store.prune(before)


@pytest.fixture
def flaky(tmp_path: Path) -> Iterator[FlakyStore]:
    store = FlakyStore(tmp_path / "events.db")
    yield store
    store.gate.set()
    store.store.close()


class Turns:
    """Submits numbered turns and records what the writer did with them."""

    def __init__(self, writer: StoreWriter) -> None:
        self.writer = writer
        self.acked: list[int] = []
        self.answered: list[int] = []

    def submit(self, n: int, *, system: bool = False, metadata: object = None) -> None:
        record = SensorRecord(float(n), "door", "front", "OPEN", {"seq": n, "x": metadata})
        self.writer.submit(
            sensor_events=[record],
            system_events=[SystemRecord(float(n), "armed", f"turn {n}")] if system else [],
            devices=[],
            snapshot=f"snapshot {n}",
            after_commit=[lambda: self.acked.append(n)],
            answers=[lambda: self.answered.append(n)],
        )


def stored_seqs(store: EventStore) -> list[int]:
    events = store.sensor_events(newest_first=False, limit=None)
    return [int((e.metadata or {})["seq"]) for e in events]


def test_a_failing_store_holds_records_answers_at_once_and_acks_after_the_commit(
    flaky: FlakyStore,
) -> None:
    reports: list[SystemHealth] = []
    writer = StoreWriter(flaky, reports.append)
    writer.start()
    turns = Turns(writer)
    try:
        turns.submit(0)
        wait_until(lambda: turns.acked == [0], what="the first commit")
        flaky.failing = True
        for n in range(1, 6):
            turns.submit(n, system=n == 3)
        wait_until(lambda: turns.answered == list(range(6)), what="answers while failing")
        wait_until(lambda: [r.ok for r in reports] == [True, False], what="the failure report")
        assert turns.acked == [0]  # nothing acknowledged before its commit
        assert writer.failing and writer.waiting == 6
        assert "disk is full" in reports[1].detail
        flaky.failing = False
        wait_until(lambda: turns.acked == list(range(6)), timeout=10, what="acks after recovery")
        wait_until(lambda: len(reports) == 3, what="the recovery report")
        assert reports[2].ok and reports[2].lost == 0
        assert stored_seqs(flaky.store) == list(range(6))  # in order, each once
        assert flaky.store.count_system_events() == 1
        assert flaky.store.load_snapshot() == "snapshot 5"
    finally:
        assert writer.stop(2.0)


def test_past_the_bound_the_oldest_sensor_events_are_dropped_and_reported(
    flaky: FlakyStore,
) -> None:
    reports: list[SystemHealth] = []
    writer = StoreWriter(flaky, reports.append, limit=3)
    writer.start()
    turns = Turns(writer)
    try:
        flaky.failing = True
        for n in range(8):
            turns.submit(n, system=n == 0)
        wait_until(lambda: any(not r.ok for r in reports), what="the failure report")
        flaky.failing = False
        wait_until(lambda: turns.acked == list(range(8)), timeout=10, what="every ack")
        assert stored_seqs(flaky.store) == [5, 6, 7]
        assert flaky.store.count_system_events() == 1  # the system event was kept
        wait_until(lambda: reports[-1].ok, what="the recovery report")
        assert reports[-1].lost == 5
        assert writer.dropped_total == 5
    finally:
        writer.stop(2.0)


def test_a_slow_store_never_holds_up_the_submitter(flaky: FlakyStore) -> None:
    writer = StoreWriter(flaky, lambda report: None)
    writer.start()
    turns = Turns(writer)
    try:
        flaky.gate.clear()  # every write hangs, as on a locked file or a slow fsync
        for n in range(100):
            turns.submit(n)  # returns at once: it only queues
        assert turns.acked == []
        flaky.gate.set()
        wait_until(lambda: turns.acked == list(range(100)), what="the acks")
        assert stored_seqs(flaky.store) == list(range(100))
    finally:
        writer.stop(2.0)


def test_a_record_the_store_refuses_is_dropped_alone_and_reported(flaky: FlakyStore) -> None:
    reports: list[SystemHealth] = []
    writer = StoreWriter(flaky, reports.append)  # not started: writes on submit
    turns = Turns(writer)
    flaky.failing = True
    turns.submit(0)
    turns.submit(1, metadata=object())  # a bug: not JSON, refused however often retried
    turns.submit(2)
    flaky.failing = False
    turns.submit(3)
    assert stored_seqs(flaky.store) == [0, 2, 3]
    assert turns.acked == [0, 1, 2, 3]
    assert [r.ok for r in reports] == [False, True]
    assert reports[-1].lost == 1


def test_stopping_while_the_store_fails_gives_up_in_time_without_acking(
    flaky: FlakyStore,
) -> None:
    writer = StoreWriter(flaky, lambda report: None)
    writer.start()
    turns = Turns(writer)
    flaky.failing = True
    turns.submit(0)
    wait_until(lambda: writer.failing, what="the failure")
    assert not writer.stop(0.5)
    assert turns.acked == []  # the broker keeps the message and delivers it again
    assert turns.answered == [0]
    assert writer.waiting == 1


def test_commit_listeners_are_told_after_each_commit_that_stored_something(
    flaky: FlakyStore,
) -> None:
    """The after-commit seam: a listener never runs before the records are committed."""
    writer = StoreWriter(flaky, lambda _: None)
    seen: list[list[int]] = []
    writer.on_commit(lambda: seen.append(stored_seqs(flaky.store)))
    turns = Turns(writer)
    turns.submit(0)
    flaky.failing = True
    turns.submit(1)  # fails: held, nobody told
    assert seen == [[0]]
    flaky.failing = False
    assert writer.write_once()
    assert seen == [[0], [0, 1]]
    writer.prune(0.0)  # nothing stored: nobody told
    assert seen == [[0], [0, 1]]
