"""The backlog of records waiting for the event store: order, bound, what is never dropped."""

from __future__ import annotations

import pytest

from homeguard.core.backlog import Backlog
from homeguard.core.records import DeviceRecord, SensorRecord, SystemRecord


def sensor(n: int) -> SensorRecord:
    return SensorRecord(float(n), "door", "front", "OPEN", {"seq": n}, f"front:{n}")


def system(n: int, kind: str = "triggered") -> SystemRecord:
    return SystemRecord(float(n), kind, f"event {n}")


def seqs(records: list[SensorRecord]) -> list[int]:
    return [int(r.ts) for r in records]


def test_records_come_out_in_the_order_they_went_in() -> None:
    backlog = Backlog(limit=100)
    for n in range(10):
        backlog.add(sensor_events=[sensor(n)], system_events=[system(n)])
    pending = backlog.take()
    assert pending is not None
    assert seqs(pending.sensor_events) == list(range(10))
    assert [r.ts for r in pending.system_events] == [float(n) for n in range(10)]
    assert backlog.take() is None


def test_a_failed_write_goes_back_in_front_of_what_came_meanwhile() -> None:
    backlog = Backlog(limit=100)
    acked: list[int] = []
    backlog.add(sensor_events=[sensor(0), sensor(1)], after_commit=[lambda: acked.append(0)])
    first = backlog.take()
    assert first is not None
    backlog.add(sensor_events=[sensor(2)], after_commit=[lambda: acked.append(2)])
    backlog.give_back(first)
    again = backlog.take()
    assert again is not None
    assert seqs(again.sensor_events) == [0, 1, 2]
    for ack in again.after_commit:
        ack()
    assert acked == [0, 2]


def test_past_the_limit_the_oldest_sensor_records_go_and_are_counted() -> None:
    backlog = Backlog(limit=5)
    backlog.add(system_events=[system(0, "armed")])
    backlog.add(sensor_events=[sensor(n) for n in range(1, 9)])
    backlog.add(system_events=[system(9, "trouble")])
    backlog.add(sensor_events=[sensor(10)])
    assert backlog.dropped == 4
    pending = backlog.take()
    assert pending is not None
    assert seqs(pending.sensor_events) == [5, 6, 7, 8, 10]  # newest kept, in order
    # System records (arming, alarms, troubles) are never dropped, however many.
    assert [r.event_type for r in pending.system_events] == ["armed", "trouble"]
    assert backlog.take_dropped() == 4
    assert backlog.take_dropped() == 0


def test_system_records_are_kept_past_the_limit() -> None:
    backlog = Backlog(limit=2)
    backlog.add(system_events=[system(n) for n in range(50)], sensor_events=[sensor(99)])
    pending = backlog.take()
    assert pending is not None
    assert len(pending.system_events) == 50
    assert seqs(pending.sensor_events) == [99]
    assert backlog.dropped == 0


def test_giving_back_enforces_the_limit_on_the_oldest() -> None:
    backlog = Backlog(limit=3)
    backlog.add(sensor_events=[sensor(0), sensor(1)])
    first = backlog.take()
    assert first is not None
    backlog.add(sensor_events=[sensor(2), sensor(3)])
    backlog.give_back(first)
    pending = backlog.take()
    assert pending is not None
    assert seqs(pending.sensor_events) == [1, 2, 3]
    assert backlog.take_dropped() == 1


def test_devices_and_the_snapshot_keep_their_latest_version() -> None:
    backlog = Backlog(limit=10)
    old = DeviceRecord("front", "door", (), False, 1.0, None)
    new = DeviceRecord("front", "door", (), True, 2.0, None)
    backlog.add(devices=[old], snapshot="one")
    first = backlog.take()
    assert first is not None
    backlog.add(devices=[new])
    backlog.give_back(first)  # the newer device wins; the older snapshot is still wanted
    pending = backlog.take()
    assert pending is not None
    assert pending.batch().devices == [new]
    assert pending.snapshot == "one"
    backlog.add(snapshot="two")
    backlog.give_back(pending)
    final = backlog.take()
    assert final is not None and final.snapshot == "two"


def test_the_limit_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        Backlog(limit=0)


def test_silent_alerts_wait_with_the_rest_and_are_never_dropped() -> None:
    backlog = Backlog(limit=1)
    alert = SystemRecord(3.0, "duress", "duress code used", {"user": "coerced"})
    backlog.add(sensor_events=[sensor(1), sensor(2)], silent_alerts=[alert])
    pending = backlog.take()
    assert pending is not None
    assert pending.batch().silent_alerts == [alert]
    backlog.give_back(pending)
    again = backlog.take()
    assert again is not None
    assert again.silent_alerts == [alert]
