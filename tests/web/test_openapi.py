"""Schemathesis over the OpenAPI spec: whatever the generated requests, never a 5xx.

The app runs in-process over the pure panel engine (no broker, no controller thread) and
a real event store, logged in, with the CSRF token sent, so the generated requests reach
the handlers instead of stopping at 401/403."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from homeguard.adapters.store import EventStore
from homeguard.adapters.web import Backend, WebSettings, create_app
from homeguard.core.model import PanelSettings, SensorSpec, SensorType, User
from homeguard.core.records import Batch, SensorRecord, SystemRecord
from homeguard.core.signals import ActuatorKind
from homeguard.services.health import HealthReader
from tests.services.conftest import _cheap
from tests.web.conftest import EnginePanel


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, dict[str, str]]]:
    settings_ = PanelSettings(
        sensors=(SensorSpec("front", SensorType.DOOR), SensorSpec("hall", SensorType.MOTION)),
        users=(User("alice", _cheap("1234")),),
    )
    path: Path = tmp_path_factory.mktemp("openapi") / "events.db"
    with EventStore(path, synchronous="normal") as store:
        now = time.time()
        store.write(
            Batch(
                sensor_events=[
                    SensorRecord(now - 60 * i, "door", "front", "OPEN") for i in range(5)
                ],
                system_events=[
                    SystemRecord(now - 30, "triggered", "alarm", {"sensors": ["front"]})
                ],
            )
        )
        backend = Backend(
            panel=EnginePanel(settings_),
            settings=settings_,
            store=store,
            actuators=[("siren", ActuatorKind.SIREN)],
            broker=lambda: "127.0.0.1:1883",
            broker_connected=lambda: True,
            clock=time.time,
            health=HealthReader(store, [s.id for s in settings_.sensors]),
            web=WebSettings(users={"alice": _cheap("secret")}),
        )
        app = create_app(backend)
        with TestClient(app) as client:
            login = client.post("/api/login", json={"user": "alice", "password": "secret"})
            assert login.status_code == 200
            auth = {
                "Cookie": f"homeguard_session={client.cookies['homeguard_session']}",
                "X-CSRF-Token": login.json()["csrf_token"],
            }
            yield app, auth


@pytest.fixture(scope="module")
def api_schema(api: tuple[Any, dict[str, str]]) -> Any:
    app, _ = api
    return schemathesis.openapi.from_asgi("/openapi.json", app)


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_no_request_makes_a_server_error(case: Any, api: tuple[Any, dict[str, str]]) -> None:
    _, auth = api
    if case.path == "/api/logout":
        return  # would end the shared session for the operations after it
    if case.path == "/api/live":
        return  # never ends by design: tested on its own in test_api
    case.call_and_validate(headers=auth, checks=[not_a_server_error])
