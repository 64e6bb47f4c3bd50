"""GET /api/state renders the live document once per change of the panel, not once per
request (tests/web/test_rendering.py: and only the rows of the sensors that changed).

The app runs in-process over the pure panel engine, which tells the dashboard of each
change as the controller does, and a real event store."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from homeguard.adapters.store import EventStore
from homeguard.adapters.web import Backend, WebSettings, create_app
from homeguard.adapters.web.rendering import StateRenderer
from homeguard.core.model import PanelSettings, SensorSpec, SensorType
from homeguard.core.panel import Outcome
from homeguard.core.signals import Input
from homeguard.services.controller import View
from homeguard.services.health import HealthReader
from tests.services.conftest import _cheap
from tests.web.conftest import EnginePanel


class WatchedPanel(EnginePanel):
    """The engine, telling its watchers after each request, as the controller does."""

    def __init__(self, settings: PanelSettings) -> None:
        super().__init__(settings)
        self.watchers: list[Callable[[View], None]] = []

    def watch(self, listener: Callable[[View], None]) -> None:
        self.watchers.append(listener)

    def request(self, event: Input, timeout: float = 10.0) -> Outcome:
        outcome = super().request(event, timeout)
        for listener in self.watchers:
            listener(self.view())
        return outcome


@contextmanager
def logged_in(settings: PanelSettings, store: EventStore) -> Iterator[tuple[TestClient, str]]:
    """The app over the engine and ``store``, with alice logged in (and her CSRF token)."""
    backend = Backend(
        panel=WatchedPanel(settings),
        settings=settings,
        store=store,
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
        yield client, login.json()["csrf_token"]


def test_the_state_document_is_rendered_once_per_change(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rendered: list[object] = []
    render = StateRenderer.render

    def counted(self: StateRenderer, *args: Any) -> Any:
        rendered.append(args)
        return render(self, *args)

    monkeypatch.setattr(StateRenderer, "render", counted)
    settings = PanelSettings(sensors=(SensorSpec("front", SensorType.DOOR),))
    with (
        EventStore(tmp_path / "events.db", synchronous="normal") as store,
        logged_in(settings, store) as (client, token),
    ):
        states = [client.get("/api/state").json()["state"] for _ in range(3)]
        assert states == ["disarmed"] * 3
        assert len(rendered) == 1  # the same document, three times

        armed = client.post(
            "/api/arm", json={"mode": "armed_away"}, headers={"X-CSRF-Token": token}
        )
        assert armed.status_code == 200
        for _ in range(100):  # the change reaches the dashboard's event loop
            if client.get("/api/state").json()["state"] != "disarmed":
                break
        assert client.get("/api/state").json()["state"] == armed.json()["state"]
        assert len(rendered) == 2  # rendered again for the change, once


def test_the_system_figures_look_at_no_sensor(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GET /api/system took the whole live document (every sensor: seconds at 100,000).
    def every_sensor(*args: object) -> None:
        raise AssertionError("the whole document was built")

    monkeypatch.setattr(StateRenderer, "render", every_sensor)
    ids = ("front", "back", "hall", "lid")
    settings = PanelSettings(sensors=tuple(SensorSpec(i, SensorType.DOOR) for i in ids))
    with (
        EventStore(tmp_path / "events.db", synchronous="normal") as store,
        logged_in(settings, store) as (client, _),
    ):
        system = client.get("/api/system")
        assert system.status_code == 200
        assert system.json()["sensors"] == 4 and system.json()["broker_connected"] is True
