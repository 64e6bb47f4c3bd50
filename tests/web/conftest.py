"""A house on a private Mosquitto with the controller in a thread and its dashboard on a
free port; users log in with ``alice`` / ``correct horse`` (PIN 1234). ``bob`` (PIN
5555) may arm but not disarm; ``coerced`` (PIN 9999) is a duress code appearing as alice."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from homeguard.app import connected_controller, serve_dashboard
from homeguard.core.model import PanelSettings
from homeguard.core.panel import Outcome, Panel, handle, new_panel
from homeguard.core.signals import Input
from homeguard.services.controller import Controller, Stats, View
from tests.conftest import MosquittoProcess
from tests.services.conftest import (
    House,
    _cheap,
    observer,  # noqa: F401 - the same fixture, shared
)

PASSWORD = "correct horse"


class EnginePanel:
    """The panel engine itself, answering requests at once (a controller without I/O)."""

    def __init__(self, settings: PanelSettings) -> None:
        self._settings = settings
        self._panel: Panel = new_panel(time.time())
        self._lock = threading.Lock()
        self.stats = Stats(started_at=time.time())
        self._view: View | None = None

    def request(self, event: Input, timeout: float = 10.0) -> Outcome:
        with self._lock:
            outcome = handle(self._panel, self._settings, event, time.time())
            self._panel = outcome.panel
            return outcome

    def watch(self, listener: Callable[[View], None]) -> None:
        pass

    def view(self) -> View:
        """The same view until the panel changes, as the dashboard's RemotePanel gives."""
        if self._view is None or self._view.panel is not self._panel:
            self._view = View(self._panel, {}, self.stats, time.time())
        return self._view


HOUSE = """
mqtt: {{host: 127.0.0.1, port: {port}, base_topic: home}}
storage: {{path: events.db, synchronous: normal}}
panel:
  modes:
    armed_away: {{exit_delay: 1, entry_delay: 30, siren_time: 3}}
    armed_home: {{exit_delay: 0, entry_delay: 30, siren_time: 3}}
users:
  - {{name: alice, pin_hash: "{alice}", password_hash: "{password}"}}
  - {{name: bob, pin_hash: "{bob}", can_disarm: false}}
  - {{name: coerced, pin_hash: "{coerced}", duress: true, appears_as: alice}}
sensors:
  - {{id: front, type: door, zone: entry, name: Front door}}
  - {{id: living, type: window, zone: perimeter, name: Living room}}
  - {{id: hall, type: motion, zone: interior, name: Hall}}
  - {{id: lid, type: tamper, zone: 24h, name: Panel lid}}
actuators:
  - {{id: siren, type: siren}}
  - {{id: light, type: light}}
web:
  host: 127.0.0.1
  port: {web_port}
  loopback_without_login: {loopback}
  trusted_proxies: {proxies}
"""


@dataclass
class Dashboard:
    url: str
    controller: Controller
    house: House

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=15)

    def login(self, user: str = "alice", password: str = PASSWORD) -> httpx.Client:
        """A client with a session; its CSRF token is in its default headers."""
        client = self.client()
        response = client.post("/api/login", json={"user": user, "password": password})
        assert response.status_code == 200, response.text
        client.headers["X-CSRF-Token"] = response.json()["csrf_token"]
        return client


def write_house(
    broker: MosquittoProcess,
    tmp_path: Path,
    *,
    loopback: bool = False,
    web_port: int = 8080,
    proxies: str = "[]",
) -> House:
    path = tmp_path / "homeguard.yaml"
    path.write_text(
        HOUSE.format(
            port=broker.port,
            alice=_cheap("1234"),
            bob=_cheap("5555"),
            coerced=_cheap("9999"),
            password=_cheap(PASSWORD),
            loopback=str(loopback).lower(),
            web_port=web_port,
            proxies=proxies,
        )
    )
    return House(broker, path, tmp_path / "data")


@pytest.fixture
def dashboard_factory(
    mosquitto: MosquittoProcess, tmp_path: Path
) -> Iterator[Callable[..., Dashboard]]:
    stops: list[Callable[[], None]] = []

    def make(*, loopback: bool = False, proxies: str = "[]") -> Dashboard:
        """``proxies``: the YAML list for ``web.trusted_proxies``."""
        house = write_house(mosquitto, tmp_path, loopback=loopback, proxies=proxies)
        site = house.site
        stop = threading.Event()
        running = connected_controller(site)
        controller = running.__enter__()
        web = serve_dashboard(site, controller, port=0)
        url = web.__enter__()
        thread = threading.Thread(target=controller.run, args=(stop,), daemon=True)
        thread.start()

        def close() -> None:
            stop.set()
            thread.join(timeout=10)
            web.__exit__(None, None, None)
            running.__exit__(None, None, None)

        stops.append(close)
        return Dashboard(url.rstrip("/"), controller, house)

    yield make
    for close in reversed(stops):
        close()


@pytest.fixture
def dashboard(dashboard_factory: Callable[..., Dashboard]) -> Dashboard:
    return dashboard_factory()
