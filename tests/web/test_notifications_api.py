"""Notifications in the API and the state document: delivery state, never duress."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from homeguard.adapters.store import Outbox
from homeguard.app import connected_controller, serve_dashboard
from tests.conftest import MosquittoProcess, free_port, wait_until
from tests.web.conftest import Dashboard, write_house
from tests.web.test_cli_api import homeguard

pytestmark = pytest.mark.broker


@pytest.fixture
def dashboard(mosquitto: MosquittoProcess, tmp_path: Path) -> Iterator[Dashboard]:
    """The web test house with notification routes whose service never answers (no
    notifier runs here: the rows stay pending, as the controller queued them)."""
    house = write_house(mosquitto, tmp_path)
    down = free_port()
    house.config_path.write_text(
        house.config_path.read_text()
        + f"""notifications:
  targets:
    hook: {{url: "json://127.0.0.1:{down}/hook"}}
    company: {{url: "json://127.0.0.1:{down}/company"}}
  routes:
    family: {{targets: [hook], events: [armed, disarmed]}}
    security: {{targets: [company], events: [alarm], duress: true}}
"""
    )
    site = house.site
    stop = threading.Event()
    with connected_controller(site) as controller, serve_dashboard(site, controller, port=0) as url:
        thread = threading.Thread(target=controller.run, args=(stop,), daemon=True)
        thread.start()
        try:
            yield Dashboard(url.rstrip("/"), controller, house)
        finally:
            stop.set()
            thread.join(timeout=10)


def test_the_api_lists_notifications_with_their_state_and_never_duress(
    dashboard: Dashboard,
) -> None:
    with dashboard.client() as anonymous:
        assert anonymous.get("/api/notifications").status_code == 401
    client = dashboard.login()
    armed = client.post("/api/arm", json={"mode": "armed_home", "code": "1234"})
    assert armed.json()["state"] == "armed_home"
    disarmed = client.post("/api/disarm", json={"code": "9999"})  # the duress code
    assert disarmed.json()["state"] == "disarmed"

    def page() -> Any:
        return client.get("/api/notifications").json()

    wait_until(lambda: len(page()["rows"]) == 2, what="arm and disarm queued")
    rows = page()["rows"]
    assert [(r["kind"], r["route"], r["state"], r["attempts"]) for r in rows] == [
        ("disarmed", "family", "pending", 0),
        ("armed", "family", "pending", 0),
    ]
    assert rows[0]["title"] == "homeguard: Disarmed by alice"
    assert page()["counts"] == {"pending": 2}
    assert "duress" not in client.get("/api/notifications").text.lower()
    state = client.get("/api/state").json()
    assert state["system"]["notifications"] == {"pending": 2}
    # The duress row is in the outbox all the same, for its route alone.
    with dashboard.house.store() as store:
        silent = [r for r in Outbox(store).recent(silent=True) if r.record.silent]
    assert [(r.record.kind, r.record.route) for r in silent] == [("duress", "security")]
    # The command line through the API shows the same counts.
    shown = homeguard("status", "--api", dashboard.url, "--user", "alice")
    assert shown.returncode == 0, shown.stderr
    assert "notify:     2 pending\n" in shown.stdout
