"""The SQLite event store, on real files: round trips, filters, dedup, atomicity, crashes."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from homeguard.adapters.store import SCHEMA_VERSION, EventStore, queries
from homeguard.adapters.store import sqlite as store_module
from homeguard.core.health import REPORT_FIELDS, report_row
from homeguard.core.records import (
    Batch,
    DeviceRecord,
    EventQuery,
    EventRecord,
    SensorRecord,
    SystemRecord,
    WriteResult,
)
from homeguard.errors import StoreError, StoreRejected, StoreUnavailable


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "events.db"


@pytest.fixture
def store(path: Path) -> Iterator[EventStore]:
    with EventStore(path) as opened:
        yield opened


def sensor(ts: float, device: str = "front", key: str | None = None, **kw: Any) -> SensorRecord:
    sensor_type, state = kw.pop("type", "door"), kw.pop("state", "OPEN")
    return SensorRecord(ts, sensor_type, device, state, dedup_key=key, **kw)


def system(ts: float, event_type: str = "armed", **kw: Any) -> SystemRecord:
    return SystemRecord(ts=ts, event_type=event_type, description=f"{event_type} at {ts}", **kw)


# --------------------------------------------------------------------------- round trips


def test_sensor_event_round_trip(store: EventStore) -> None:
    written = SensorRecord(
        ts=1_700_000_000.25,
        sensor_type="motion",
        device_id="hall",
        state="MOTION",
        metadata={"battery": 87, "rssi": -60.5, "tags": ["a", "b"], "nested": {"x": None}},
        dedup_key="hall:42",
    )
    store.write(Batch(sensor_events=[written]))
    (read,) = store.sensor_events()
    assert isinstance(read.id, int)
    assert read == replace(written, id=read.id)


def test_sensor_event_without_metadata_or_key(store: EventStore) -> None:
    store.write(Batch(sensor_events=[sensor(5)]))
    (read,) = store.sensor_events()
    assert (read.ts, read.metadata, read.dedup_key) == (5.0, None, None)
    assert isinstance(read.ts, float)


def test_system_event_round_trip(store: EventStore) -> None:
    written = [
        SystemRecord(10.5, "alarm", "zone front tripped", {"zones": ["front"], "mode": "away"}),
        SystemRecord(11.0, "disarmed", "by alice"),
    ]
    result = store.write(Batch(system_events=written))
    assert result == WriteResult(sensor_stored=0, duplicates=0, system_stored=2)
    read = store.system_events(newest_first=False)
    assert read == [replace(w, id=r.id) for w, r in zip(written, read, strict=True)]
    assert all(isinstance(r.id, int) for r in read)


def test_devices_are_upserted(store: EventStore) -> None:
    door = DeviceRecord("front", "door", ("state", "battery"), True, 100.0, 90.0, {"fw": "1.2"})
    siren = DeviceRecord("siren", "siren", (), None, None, None)
    store.write(Batch(devices=[door, siren]))
    assert store.devices() == [door, siren]

    newer = replace(door, online=False, capabilities=("state",), last_seen=200.0, info=None)
    store.write(Batch(devices=[newer]))
    assert store.devices() == [newer, siren]


def test_snapshot_is_replaced_and_kept(store: EventStore) -> None:
    assert store.load_snapshot() is None
    store.write(Batch(snapshot='{"state": "armed_away"}'))
    store.write(Batch(snapshot='{"state": "disarmed"}'))
    store.write(Batch(sensor_events=[sensor(1)]))  # no snapshot: the stored one stays
    assert store.load_snapshot() == '{"state": "disarmed"}'


def test_data_survives_reopening(path: Path) -> None:
    with EventStore(path) as store:
        store.write(Batch(sensor_events=[sensor(1, key="a")], snapshot="s"))
    with EventStore(path) as store:
        assert store.commits == 0  # nothing to migrate
        assert [r.dedup_key for r in store.sensor_events()] == ["a"]
        assert store.load_snapshot() == "s"


# --------------------------------------------------------------------------- queries


@pytest.fixture
def sensor_history(store: EventStore) -> EventStore:
    store.write(
        Batch(
            sensor_events=[
                sensor(10, "front", type="door"),
                sensor(20, "hall", type="motion", state="MOTION"),
                sensor(30, "back", type="door"),
                sensor(40, "front", type="door", state="CLOSED"),
            ]
        )
    )
    return store


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({}, [10, 20, 30, 40]),
        ({"since": 20}, [20, 30, 40]),  # since is inclusive
        ({"until": 30}, [10, 20]),  # until is exclusive
        ({"since": 20, "until": 40}, [20, 30]),
        ({"device": "front"}, [10, 40]),
        ({"sensor_type": "door"}, [10, 30, 40]),
        ({"device": "front", "since": 15}, [40]),
        ({"device": "nobody"}, []),
    ],
)
def test_sensor_event_filters(
    sensor_history: EventStore, filters: dict[str, Any], expected: list[float]
) -> None:
    records = sensor_history.sensor_events(newest_first=False, **filters)
    assert [r.ts for r in records] == expected
    assert sensor_history.count_sensor_events(**filters) == len(expected)


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({}, [1, 2, 3, 4]),
        ({"event_type": "armed"}, [1, 4]),
        ({"event_type": ["armed", "alarm"]}, [1, 2, 4]),
        ({"event_type": ("trouble",)}, []),
        ({"event_type": []}, []),
        ({"since": 2, "until": 4}, [2, 3]),
        ({"event_type": "armed", "since": 2}, [4]),
    ],
)
def test_system_event_filters(
    store: EventStore, filters: dict[str, Any], expected: list[float]
) -> None:
    kinds = ["armed", "alarm", "disarmed", "armed"]
    store.write(Batch(system_events=[system(i + 1, kind) for i, kind in enumerate(kinds)]))
    records = store.system_events(newest_first=False, **filters)
    assert [r.ts for r in records] == expected
    assert store.count_system_events(**filters) == len(expected)


def test_paging_and_ordering(store: EventStore) -> None:
    store.write(Batch(sensor_events=[sensor(ts) for ts in (3, 0, 9, 1, 8, 2, 7, 4, 6, 5)]))

    def page(**kw: Any) -> list[float]:
        return [r.ts for r in store.sensor_events(**kw)]

    assert page() == [9, 8, 7, 6, 5, 4, 3, 2, 1, 0]
    assert page(newest_first=False) == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]
    assert page(limit=3, offset=2) == [7, 6, 5]
    assert page(limit=3, offset=8, newest_first=False) == [8, 9]
    assert page(limit=None, offset=7) == [2, 1, 0]
    assert page(limit=0) == []
    with pytest.raises(ValueError, match="negative"):
        store.sensor_events(offset=-1)


# ------------------------------------------------------------------------ merged events


@pytest.fixture
def mixed_history(store: EventStore) -> EventStore:
    """300 sensor events (front OPEN/CLOSED, hall MOTION) and 100 system events, their
    times interleaved, some equal across the two tables."""
    states = ("OPEN", "CLOSED")
    sensors = [
        sensor(float(i), "front", state=states[i % 2]) if i % 3 else sensor(float(i), "hall")
        for i in range(300)
    ]
    systems = [system(float(3 * i), ("armed", "triggered", "disarmed")[i % 3]) for i in range(100)]
    store.write(Batch(sensor_events=sensors, system_events=systems))
    return store


def _merged(store: EventStore, query: EventQuery) -> list[EventRecord]:
    """The events ``query`` selects, merged in Python from every row (the slow way)."""
    every: list[EventRecord] = []
    if query.wants_sensor:
        every += [
            r
            for r in store.sensor_events(limit=None, since=query.since, until=query.until)
            if query.device in (None, r.device_id) and query.state in (None, r.state)
        ]
    if query.wants_system:
        types = (query.event_type,) if isinstance(query.event_type, str) else query.event_type
        every += [
            r
            for r in store.system_events(limit=None, since=query.since, until=query.until)
            if types is None or r.event_type in types
        ]
    # Newest first; on a tie in time the system event (caused by the sensor event) first.
    every.sort(key=lambda r: (r.ts, isinstance(r, SystemRecord), r.id), reverse=True)
    return every


@pytest.mark.parametrize(
    "query",
    [
        EventQuery(),
        EventQuery(since=50.0, until=250.0),
        EventQuery(device="front"),
        EventQuery(state="OPEN"),
        EventQuery(device="front", state="CLOSED", since=100.0),
        EventQuery(event_type="triggered"),
        EventQuery(event_type=("triggered", "disarmed"), until=150.0),
        EventQuery(system=False),
        EventQuery(sensor=False),
        EventQuery(sensor=False, device="front"),  # a sensor filter without sensors
    ],
)
def test_events_merge_both_kinds_and_page_in_sql(
    mixed_history: EventStore, query: EventQuery
) -> None:
    expected = _merged(mixed_history, query)
    assert mixed_history.count_events(query) == len(expected)
    assert mixed_history.events(query, limit=None) == expected
    for offset in (0, 7, 95, len(expected) - 3):
        page = mixed_history.events(query, limit=10, offset=max(offset, 0))
        assert page == expected[max(offset, 0) : max(offset, 0) + 10]
    oldest = mixed_history.events(query, limit=5, newest_first=False)
    assert oldest == expected[::-1][:5]


def test_events_rejects_a_negative_page(store: EventStore) -> None:
    with pytest.raises(ValueError, match="negative"):
        store.events(EventQuery(), limit=-1)


def test_equal_timestamps_keep_insertion_order(store: EventStore) -> None:
    store.write(Batch(system_events=[system(5, "first"), system(5, "second")]))
    assert [r.event_type for r in store.system_events()] == ["second", "first"]
    assert [r.event_type for r in store.system_events(newest_first=False)] == ["first", "second"]


def test_default_limit_is_a_thousand(store: EventStore) -> None:
    store.write(Batch(sensor_events=[sensor(i) for i in range(1001)]))
    assert len(store.sensor_events()) == 1000
    assert len(store.sensor_events(limit=None)) == store.count_sensor_events() == 1001


def test_prune_deletes_old_events_only(store: EventStore) -> None:
    device = DeviceRecord("front", "door", ("state",), True, 1.0, 1.0)
    store.write(
        Batch(
            sensor_events=[sensor(ts) for ts in range(1, 11)],
            system_events=[system(ts) for ts in range(1, 11)],
            devices=[device],
            snapshot="s",
        )
    )
    assert store.prune(before=5) == 8
    assert min(r.ts for r in store.sensor_events()) == 5
    assert min(r.ts for r in store.system_events()) == 5
    assert store.prune(before=5) == 0
    assert store.devices() == [device]
    assert store.load_snapshot() == "s"


def test_size_grows_with_the_data(store: EventStore) -> None:
    before = store.size_bytes()
    assert before > 0
    store.write(Batch(sensor_events=[sensor(i, metadata={"pad": "x" * 100}) for i in range(1000)]))
    assert store.size_bytes() > before + 100_000


# --------------------------------------------------------------------------- duplicates


def test_duplicate_delivery_across_writes_is_stored_once(store: EventStore) -> None:
    first = store.write(Batch(sensor_events=[sensor(1, key="a"), sensor(2, key="b")]))
    again = store.write(Batch(sensor_events=[sensor(1, key="a"), sensor(3, key="c")]))
    assert first == WriteResult(sensor_stored=2, duplicates=0, system_stored=0)
    assert again == WriteResult(sensor_stored=1, duplicates=1, system_stored=0)
    assert sorted(r.dedup_key or "" for r in store.sensor_events()) == ["a", "b", "c"]


def test_duplicate_inside_one_batch_is_stored_once(store: EventStore) -> None:
    result = store.write(Batch(sensor_events=[sensor(1, key="a"), sensor(1, key="a")]))
    assert result == WriteResult(sensor_stored=1, duplicates=1, system_stored=0)
    assert store.count_sensor_events() == 1


def test_events_without_key_are_never_duplicates(store: EventStore) -> None:
    result = store.write(Batch(sensor_events=[sensor(1), sensor(1)]))
    assert result.duplicates == 0
    assert store.count_sensor_events() == 2


# --------------------------------------------------------------------------- transactions


def test_hundred_thousand_events_in_one_commit(store: EventStore) -> None:
    events = [sensor(float(i), f"dev{i % 20}", key=f"k{i}") for i in range(100_000)]
    commits = store.commits
    result = store.write(Batch(sensor_events=events, system_events=[system(0)], snapshot="s"))
    assert store.commits == commits + 1
    assert result == WriteResult(sensor_stored=100_000, duplicates=0, system_stored=1)
    stored = store.sensor_events(limit=None, newest_first=False)
    assert len(stored) == 100_000
    assert [r.dedup_key for r in stored] == [e.dedup_key for e in events]


def test_empty_batch_commits_nothing(store: EventStore) -> None:
    commits = store.commits
    assert store.write(Batch()) == WriteResult(0, 0, 0)
    assert store.commits == commits


@pytest.mark.parametrize("bad", [object(), float("nan"), {1, 2}], ids=["object", "nan", "set"])
def test_unserialisable_metadata_fails_the_whole_batch(store: EventStore, bad: object) -> None:
    commits = store.commits
    batch = Batch(
        sensor_events=[sensor(1, key="good"), sensor(2, metadata={"x": bad})],
        system_events=[system(1)],
        snapshot="s",
    )
    with pytest.raises(StoreRejected, match="not JSON-serialisable"):
        store.write(batch)
    assert store.commits == commits
    assert store.count_sensor_events() == store.count_system_events() == 0
    assert store.load_snapshot() is None


def test_failure_inside_the_transaction_writes_nothing(store: EventStore) -> None:
    bad = SystemRecord(2.0, "armed", None)  # type: ignore[arg-type]  # NOT NULL column
    batch = Batch(sensor_events=[sensor(1, key="a")], system_events=[system(1), bad])
    with pytest.raises(StoreRejected, match="NOT NULL"):
        store.write(batch)
    assert store.count_sensor_events() == store.count_system_events() == 0
    # The failed transaction was rolled back: the store takes the next batch.
    assert store.write(Batch(sensor_events=[sensor(1, key="a")])).sensor_stored == 1


def test_non_numeric_timestamp_is_rejected(store: EventStore) -> None:
    with pytest.raises(StoreRejected, match="CHECK"):
        store.write(Batch(sensor_events=[sensor("yesterday")]))  # type: ignore[arg-type]


# --------------------------------------------------------------------------- concurrency


def test_readers_in_other_threads_see_whole_batches(store: EventStore) -> None:
    errors: list[BaseException] = []
    counts: list[int] = []
    writing = threading.Event()
    writing.set()

    def read() -> None:
        try:
            while writing.is_set():
                counts.append(store.count_sensor_events())
                store.sensor_events(limit=50, device="dev3")
                store.system_events(limit=5, event_type=["armed", "alarm"])
                store.devices()
                store.load_snapshot()
        except BaseException as exc:
            errors.append(exc)

    readers = [threading.Thread(target=read) for _ in range(2)]
    for reader in readers:
        reader.start()
    try:
        for n in range(60):
            store.write(
                Batch(
                    sensor_events=[sensor(n + i / 100, f"dev{i % 5}") for i in range(100)],
                    system_events=[system(n)],
                    devices=[DeviceRecord("dev3", "door", (), True, float(n), 0.0)],
                    snapshot=str(n),
                )
            )
    finally:
        writing.clear()
        for reader in readers:
            reader.join(timeout=10)
    assert errors == []
    assert len(counts) > 2
    assert all(count % 100 == 0 for count in counts)  # never half a batch
    assert store.count_sensor_events() == 6000


# --------------------------------------------------------------------------- durability

_CHILD_WRITER = textwrap.dedent(
    """
    import sys
    from homeguard.adapters.store import EventStore
    from homeguard.core.records import Batch, SensorRecord

    store = EventStore(sys.argv[1])
    total = 0
    while True:
        events = [
            SensorRecord(float(n), "door", "front", "OPEN", {"n": n}, f"k{n}")
            for n in range(total, total + 50)
        ]
        store.write(Batch(sensor_events=events))
        total += len(events)
        print(total, flush=True)
    """
)


def test_every_reported_commit_survives_sigkill(path: Path) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD_WRITER, str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    assert child.stderr is not None
    try:
        lines = [child.stdout.readline() for _ in range(20)]
        os.kill(child.pid, signal.SIGKILL)
        lines += child.stdout.read().splitlines()  # reported before it died
        child.wait(timeout=10)
    finally:
        child.kill()
        child.wait()
        child.stdout.close()
        stderr = child.stderr.read()
        child.stderr.close()
    reported = [int(line) for line in lines if line.strip()]
    assert len(reported) >= 20, stderr
    assert child.returncode == -signal.SIGKILL

    with EventStore(path) as store:
        keys = [r.dedup_key for r in store.sensor_events(limit=None)]
    assert len(keys) >= reported[-1]
    assert len(keys) % 50 == 0  # the batch being written when killed is all or nothing
    assert len(set(keys)) == len(keys)
    assert {f"k{n}" for n in range(reported[-1])} <= set(keys)


# --------------------------------------------------------------------------- schema, errors


def test_new_file_gets_current_schema_in_wal_mode(store: EventStore, path: Path) -> None:
    connection = sqlite3.connect(path)
    try:
        assert connection.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master")}
    finally:
        connection.close()
    assert {"sensor_events", "system_events", "panel_snapshot", "devices"} <= tables


def test_newer_schema_is_refused(path: Path) -> None:
    EventStore(path).close()
    connection = sqlite3.connect(path)
    connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    connection.close()
    with pytest.raises(StoreError, match=f"schema version {SCHEMA_VERSION + 1}, newer"):
        EventStore(path)


def test_a_file_that_is_not_a_database_is_a_store_error(path: Path) -> None:
    path.write_bytes(b"this is not sqlite " * 100)
    with pytest.raises(StoreError, match="cannot open event store"):
        EventStore(path)


def test_an_unreachable_path_is_a_store_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="cannot open event store"):
        EventStore(tmp_path / "missing" / "events.db")


def test_a_closed_store_refuses_work(path: Path) -> None:
    store = EventStore(path)
    store.close()
    store.close()  # idempotent
    with pytest.raises(StoreRejected, match="closed"):
        store.write(Batch(sensor_events=[sensor(1)]))
    with pytest.raises(StoreRejected, match="closed"):
        store.sensor_events()


def test_synchronous_must_be_known(path: Path) -> None:
    with pytest.raises(ValueError, match="synchronous"):
        EventStore(path, synchronous="off")  # type: ignore[arg-type]


def test_event_counts_per_bucket_in_local_time(store: EventStore) -> None:
    hour = 3600.0
    store.write(
        Batch(
            sensor_events=[sensor(5.0), sensor(hour + 5), sensor(hour + 6), sensor(3 * hour)],
            system_events=[system(hour + 1, "triggered"), system(hour + 2), system(-10.0)],
        )
    )
    counts = store.event_counts(since=0.0, until=4 * hour, bucket=hour)
    assert counts == [(0.0, 1, 0, 0), (hour, 2, 2, 1), (3 * hour, 1, 0, 0)]  # empty left out
    # Days two hours east of UTC: a day starts at 22:00 UTC the evening before.
    day = 86400.0
    late = 22 * hour + 1
    store.write(Batch(sensor_events=[sensor(late)]))
    by_day = store.event_counts(since=-day, until=2 * day, bucket=day, offset=2 * hour)
    assert by_day == [(-2 * hour, 4, 3, 1), (day - 2 * hour, 1, 0, 0)]
    with pytest.raises(ValueError, match="bucket"):
        store.event_counts(since=0.0, until=1.0, bucket=0)


def test_battery_levels_are_the_last_reported(store: EventStore) -> None:
    store.write(
        Batch(
            sensor_events=[
                sensor(1.0, metadata={"battery": 90}),
                sensor(3.0, metadata={"battery": 80}),
                sensor(2.0, metadata={"battery": 85}),
                sensor(4.0, metadata={"seq": 1}),
                sensor(2.0, device="back", metadata={"battery": 55.5}),
                sensor(2.0, device="hall"),
                sensor(2.0, device="porch", metadata={"battery": "low"}),  # not a level
            ]
        )
    )
    assert store.battery_levels(["front", "back", "hall", "porch", "nobody", "back"]) == {
        "front": 80.0,
        "back": 55.5,
    }
    assert store.battery_levels(["front"], scan=1) == {}  # its latest event has none
    assert store.battery_levels([]) == {}


_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=4),
    lambda inner: st.lists(inner, max_size=2) | st.dictionaries(st.text(max_size=2), inner),
    max_leaves=4,
)


@settings(max_examples=60, deadline=None)
@given(
    events=st.lists(
        st.tuples(
            st.sampled_from([1.0, 2.0, 2.5, 9.0]),  # ties: oldest first, then as written
            st.sampled_from(["front", "back"]),
            st.none() | st.dictionaries(st.sampled_from([*REPORT_FIELDS, "seq"]), _JSON),
        ),
        max_size=12,
    )
)
def test_sensor_reports_are_what_health_reads_of_each_event(
    tmp_path_factory: pytest.TempPathFactory, events: list[tuple[float, str, Any]]
) -> None:
    """The numbers SQLite's JSON functions take out of the metadata are those health
    would take out of the decoded events (a boolean, a text, a list are no number),
    in the same order; and read again after an event, only those stored after it."""
    half = len(events) // 2
    with EventStore(tmp_path_factory.mktemp("reports") / "events.db") as store:
        store.write(Batch(sensor_events=[sensor(0.5)]))  # before the span
        store.write(Batch(sensor_events=[sensor(t, d, metadata=m) for t, d, m in events[:half]]))
        first = store.sensor_reports(REPORT_FIELDS, since=1.0)
        store.write(Batch(sensor_events=[sensor(t, d, metadata=m) for t, d, m in events[half:]]))
        store.write(Batch(sensor_events=[sensor(0.75)]))  # stored late, before the span
        decoded = store.sensor_events(since=1.0, limit=None, newest_first=False)
        every = store.sensor_reports(REPORT_FIELDS, since=1.0)
        then = store.sensor_reports(REPORT_FIELDS, since=1.0, after=first.last_id)
    assert every.rows == [report_row(record) for record in decoded]
    assert len(every.rows) == len(events)
    assert (first.last_id, every.last_id) == (1 + half, 2 + len(events))
    assert first.oldest == every.oldest == 0.5
    stored_later = sorted(events[half:], key=lambda event: event[0])  # by time, then as written
    assert [row[:2] for row in then.rows] == [(t, d)[::-1] for t, d, _ in stored_later]
    assert then.last_id == every.last_id


def test_an_empty_store_has_no_sensor_reports(store: EventStore) -> None:
    assert store.sensor_reports(REPORT_FIELDS, since=0.0) == ([], 0, None)
    store.write(Batch(system_events=[system(1.0)]))
    assert store.sensor_reports(REPORT_FIELDS, since=0.0, after=5) == ([], 0, None)


@pytest.mark.parametrize(
    ("after", "plan"),
    [
        (0, "USING INDEX sensor_events_time (timestamp>?)"),  # the span of a year's table
        (5, "USING INTEGER PRIMARY KEY (rowid>? AND rowid<?)"),  # only the last ones
    ],
)
def test_sensor_reports_read_the_span_by_time_and_then_only_the_newest_by_id(
    store: EventStore, path: Path, after: int, plan: str
) -> None:
    sql, params = queries.reports_sql(REPORT_FIELDS, since=1.0, after=after, last=10)
    with sqlite3.connect(path) as raw:
        steps = [row[-1] for row in raw.execute(f"EXPLAIN QUERY PLAN {sql}", params)]
    assert any(step.endswith(plan) for step in steps), steps


def test_sensor_reports_take_only_field_names_and_refuse_malformed_metadata(
    store: EventStore, path: Path
) -> None:
    with pytest.raises(ValueError, match="field name"):
        store.sensor_reports(['battery") --'], since=0.0)
    with sqlite3.connect(path) as raw:
        raw.execute(
            "INSERT INTO sensor_events (timestamp, sensor_type, device_id, state, metadata)"
            " VALUES (1.0, 'door', 'front', 'OPEN', '{not json')"
        )
    with pytest.raises(StoreRejected, match="malformed JSON"):
        store.sensor_reports(REPORT_FIELDS, since=0.0)


# --------------------------------------------------------------------------- failures


def test_a_bad_record_is_a_store_error_not_worth_retrying(store: EventStore) -> None:
    bad = SystemRecord(2.0, "armed", None)  # type: ignore[arg-type]  # NOT NULL column
    with pytest.raises(StoreRejected):
        store.write(Batch(system_events=[bad]))


def test_a_locked_database_is_unavailable_for_now(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_module, "_BUSY_TIMEOUT_S", 0.1)
    with EventStore(path) as store:
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN EXCLUSIVE")
        with pytest.raises(StoreUnavailable, match="locked"):
            store.write(Batch(system_events=[system(1)]))
        other.execute("COMMIT")
        other.close()
        store.write(Batch(system_events=[system(1)]))
        assert store.count_system_events() == 1


def test_a_full_disk_is_unavailable_for_now(path: Path) -> None:
    with EventStore(path) as store:
        # max_page_count caps the file as a full disk does (SQLITE_FULL).
        store._writer.execute("PRAGMA max_page_count = 1")
        big = [system(n, data={"pad": "x" * 2000}) for n in range(50)]
        with pytest.raises(StoreUnavailable, match="full"):
            store.write(Batch(system_events=big))
        store._writer.execute("PRAGMA max_page_count = 1000000")
        store.write(Batch(system_events=big))
        assert store.count_system_events() == 50


# ------------------------------------------------------------------ silent alerts


def test_silent_alerts_are_kept_apart_from_the_system_events(store: EventStore) -> None:
    alert = SystemRecord(5.0, "duress", "duress code used by coerced", {"user": "coerced"})
    store.write(Batch(system_events=[system(5.0, "disarmed")], silent_alerts=[alert]))
    assert [r.event_type for r in store.system_events()] == ["disarmed"]
    assert store.count_system_events(event_type="duress") == 0
    assert [replace(r, id=None) for r in store.silent_alerts()] == [alert]
    assert store.silent_alerts(since=6.0) == []
    assert not Batch(silent_alerts=[alert]).empty
    assert store.prune(before=6.0) == 2
    assert store.silent_alerts() == []


def test_duress_rows_of_an_older_file_move_to_the_silent_alerts(path: Path) -> None:
    from homeguard.adapters.store.schema import MIGRATIONS

    connection = sqlite3.connect(path)
    for statement in MIGRATIONS[0]:
        connection.execute(statement)
    connection.executemany(
        "INSERT INTO system_events (timestamp, event_type, description, data) VALUES (?,?,?,?)",
        [(1.0, "armed", "armed", None), (2.0, "duress", "duress code used by c", '{"user":"c"}')],
    )
    connection.execute("PRAGMA user_version = 1")
    connection.commit()
    connection.close()
    with EventStore(path) as store:
        assert [r.event_type for r in store.system_events()] == ["armed"]
        (alert,) = store.silent_alerts()
    assert (alert.ts, alert.data) == (2.0, {"user": "c"})
    assert alert.description == "duress code used by c"
