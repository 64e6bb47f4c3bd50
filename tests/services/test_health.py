"""Sensor health read from a real event store, again and again: each question reads only
what was stored since the last, and answers what reading the whole store would."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from homeguard.adapters.store import EventStore
from homeguard.core.health import DAY, Health, StoredReports
from homeguard.core.records import Batch, SensorRecord
from homeguard.errors import StoreUnavailable
from homeguard.services.health import HealthReader, device_health

T0 = 1_767_225_600.0
IDS = ("front", "back", "lid")


class Counting:
    """The store, with what each read of the reports asked for and got; ``fail``: the
    reads from the start fail (as a full disk or a locked file makes them)."""

    def __init__(self, store: EventStore) -> None:
        self.store = store
        self.reads: list[tuple[int, int]] = []  # (after, rows)
        self.fail = False

    def sensor_reports(
        self, fields: Sequence[str], *, since: float, after: int = 0
    ) -> StoredReports:
        if self.fail and after == 0:
            raise StoreUnavailable("cannot query the event store: disk I/O error")
        found = self.store.sensor_reports(fields, since=since, after=after)
        self.reads.append((after, len(found.rows)))
        return found


def reports(device: str, start: float, count: int, battery: float = 90.0) -> Batch:
    """A report every ten minutes from ``start``."""
    return Batch(
        sensor_events=[
            SensorRecord(start + 600.0 * i, "door", device, "CLOSED", {"battery": battery})
            for i in range(count)
        ]
    )


def test_each_question_reads_only_what_was_stored_since_the_last(tmp_path: Path) -> None:
    with EventStore(tmp_path / "events.db") as store:
        store.write(reports("front", T0 - 30 * DAY, 1))  # older than health reads
        store.write(reports("front", T0, 1500))  # ten days and more
        reader = Counting(store)
        ask = HealthReader(reader, IDS)
        now = T0 + 1500 * 600.0
        assert ask(now) == device_health(store, IDS, now)
        store.write(reports("back", now, 10, battery=3.0))
        later = now + 6000.0
        answer = ask(later)
        assert answer == device_health(store, IDS, later)
        store.prune(T0 - DAY)  # retention, of what health does not read: nothing to read again
        assert ask(later) == answer
        in_span = sum(T0 + 600.0 * i >= now - 8 * DAY for i in range(1500))
        assert reader.reads == [(0, in_span), (1501, 10), (1511, 0)]
        assert [h.reason.split(" (")[0] for h in answer] == [
            "silent for 110 min",  # its reports stopped before ``now``
            "battery empty",
            "never reported",
        ]


def test_it_answers_what_reading_everything_would_when_events_go_or_time_goes_back(
    tmp_path: Path,
) -> None:
    with EventStore(tmp_path / "events.db") as store:
        reader = Counting(store)
        ask = HealthReader(reader, IDS)
        store.write(reports("front", T0, 100, battery=3.0))
        store.write(reports("back", T0 + DAY, 200))
        now = T0 + 2 * DAY
        assert ask(now) == device_health(store, IDS, now)
        # Retention deletes front's reports: it has never reported, as far as the store says.
        store.prune(T0 + DAY)
        assert [h.state for h in ask(now)] == [Health.WATCH, Health.OK, Health.WATCH]
        assert ask(now) == device_health(store, IDS, now)
        # The store emptied, and numbered anew from 1.
        store.prune(now + 1)
        store.write(reports("lid", now, 3, battery=4.0))
        assert ask(now + DAY) == device_health(store, IDS, now + DAY)
        assert [h.state for h in ask(now + DAY)][2] is Health.FAILED
        # Asked far ahead (every report dropped), then the clock goes back.
        store.write(reports("back", now, 100))
        assert ask(now + 30 * DAY) == device_health(store, IDS, now + 30 * DAY)
        assert ask(now + DAY) == device_health(store, IDS, now + DAY)
        assert ask(now + DAY)[1].last_report == now + 99 * 600.0  # read again
        assert (0, 0) not in reader.reads[1:]  # nothing was read for nothing


def test_a_store_put_back_from_an_older_copy_is_read_again(tmp_path: Path) -> None:
    with EventStore(tmp_path / "now.db") as store, EventStore(tmp_path / "copy.db") as copy:
        for each in (store, copy):
            each.write(reports("front", T0, 10))
        store.write(reports("back", T0 + 6000.0, 10, battery=3.0))
        reader = Counting(store)
        ask = HealthReader(reader, IDS)
        now = T0 + 12000.0
        assert ask(now)[1].state is Health.FAILED
        reader.store = copy  # numbered up to fewer events; its oldest is the same
        assert ask(now) == device_health(copy, IDS, now)
        assert ask(now)[1].reason == "never reported"


def test_past_what_it_may_keep_it_reads_everything_at_each_question(tmp_path: Path) -> None:
    with EventStore(tmp_path / "events.db") as store:
        store.write(reports("front", T0, 10))
        reader = Counting(store)
        ask = HealthReader(reader, IDS, keep=999)  # 10 reports of a device: 1,000 bytes
        now = T0 + 6000.0
        assert ask(now) == ask(now) == device_health(store, IDS, now)
        assert reader.reads == [(0, 10), (0, 10)]


def test_a_read_that_fails_changes_nothing_it_keeps(tmp_path: Path) -> None:
    with EventStore(tmp_path / "events.db") as store:
        store.write(reports("front", T0, 100, battery=3.0))
        store.write(reports("back", T0 + DAY, 100))
        reader = Counting(store)
        ask = HealthReader(reader, IDS)
        now = T0 + DAY + 60000.0
        ask(now)
        store.prune(T0 + 1000.0)  # retention: the next question reads everything again
        store.write(reports("lid", now, 3))
        reader.fail = True
        with pytest.raises(StoreUnavailable):
            ask(now)
        reader.fail = False
        assert ask(now) == device_health(store, IDS, now)
