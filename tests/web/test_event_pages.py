"""The API's event log reads one page from the store, never every row: filtered, merged
and paged in SQL, whatever the size of the log.

The app runs in-process over the pure panel engine and a real event store, wrapped to
count the rows each store call hands back."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from homeguard.adapters.store import EventStore
from homeguard.adapters.web import Backend, WebSettings, create_app
from homeguard.core.model import PanelSettings, SensorSpec, SensorType
from homeguard.core.records import Batch, SensorRecord, SystemRecord
from homeguard.services.health import HealthReader
from tests.services.conftest import _cheap
from tests.web.conftest import EnginePanel

SENSOR_EVENTS = 3000
SYSTEM_EVENTS = 600


class CountingStore:
    """The event store, noting the largest list of rows any call returned."""

    def __init__(self, store: EventStore) -> None:
        self._store = store
        self.largest = 0

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._store, name)

        def counted(*args: Any, **kwargs: Any) -> Any:
            result = method(*args, **kwargs)
            if isinstance(result, list):
                self.largest = max(self.largest, len(result))
            return result

        return counted


@pytest.fixture(scope="module")
def log(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, CountingStore]]:
    """A log of 3000 door events (OPEN and CLOSED in turn) and 600 system events, at
    distinct times, behind a logged-in client."""
    settings = PanelSettings(sensors=(SensorSpec("front", SensorType.DOOR),))
    path: Path = tmp_path_factory.mktemp("pages") / "events.db"
    with EventStore(path, synchronous="normal") as store:
        start = time.time() - 86400
        store.write(
            Batch(
                sensor_events=[
                    SensorRecord(start + i, "door", "front", ("OPEN", "CLOSED")[i % 2])
                    for i in range(SENSOR_EVENTS)
                ],
                system_events=[
                    SystemRecord(start + 5 * i + 0.5, ("armed", "disarmed")[i % 2], "x")
                    for i in range(SYSTEM_EVENTS)
                ],
            )
        )
        counting = CountingStore(store)
        backend = Backend(
            panel=EnginePanel(settings),
            settings=settings,
            store=counting,
            actuators=[],
            broker=lambda: "127.0.0.1:1883",
            broker_connected=lambda: True,
            clock=time.time,
            health=HealthReader(store, [s.id for s in settings.sensors]),
            web=WebSettings(users={"alice": _cheap("secret")}),
        )
        with TestClient(create_app(backend)) as client:
            login = client.post("/api/login", json={"user": "alice", "password": "secret"})
            assert login.status_code == 200
            yield client, counting


def _every_row(store: EventStore, keep: Callable[[SensorRecord | SystemRecord], bool]) -> list[Any]:
    """(timestamp, kind, type) of every event ``keep`` keeps, newest first: the slow way."""
    every: list[SensorRecord | SystemRecord] = [
        *store.sensor_events(limit=None),
        *store.system_events(limit=None),
    ]
    rows = [
        (r.ts, "sensor", r.state.lower())
        if isinstance(r, SensorRecord)
        else (r.ts, "system", r.event_type)
        for r in every
        if keep(r)
    ]
    return sorted(rows, reverse=True)


@pytest.mark.parametrize(
    ("params", "keep"),
    [
        ({"offset": 2000}, lambda r: True),
        (
            {"type": "OPEN", "offset": 40},
            lambda r: isinstance(r, SensorRecord) and r.state == "OPEN",
        ),
        ({"device": "front", "offset": 1234}, lambda r: isinstance(r, SensorRecord)),
        (
            {"type": "disarmed", "offset": 100},
            lambda r: getattr(r, "event_type", None) == "disarmed",
        ),
        ({"kind": "system", "offset": 590}, lambda r: isinstance(r, SystemRecord)),
    ],
)
def test_a_small_page_of_a_large_log_reads_only_that_page(
    log: tuple[TestClient, CountingStore],
    params: dict[str, Any],
    keep: Callable[[SensorRecord | SystemRecord], bool],
) -> None:
    client, counting = log
    counting.largest = 0
    page = client.get("/api/events", params={**params, "limit": 7}).json()
    assert counting.largest <= 7  # no store call handed back more rows than the page
    expected = _every_row(counting._store, keep)
    assert page["total"] == len(expected)
    got = [(item["timestamp"], item["kind"], item["type"]) for item in page["items"]]
    offset = params["offset"]
    assert got == expected[offset : offset + 7]
    assert len(got) == min(7, len(expected) - offset)
