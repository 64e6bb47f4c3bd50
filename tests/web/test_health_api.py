"""Sensor health in the API: every configured sensor, with its state and reason."""

from __future__ import annotations

import json

import pytest

from tests.conftest import wait_until
from tests.services.conftest import Observer
from tests.web.conftest import Dashboard

pytestmark = pytest.mark.broker


def test_the_api_gives_every_sensors_health(dashboard: Dashboard) -> None:
    with dashboard.client() as client:
        assert client.get("/api/health").status_code == 401
    dashboard.house.cli("sensor", "front", "open")
    client = dashboard.login()

    def front() -> dict[str, object]:
        rows = {row["device"]: row for row in client.get("/api/health").json()}
        assert set(rows) == {"front", "living", "hall", "lid"}
        return rows["front"]

    wait_until(lambda: front()["last_report"] is not None, what="front's report stored")
    row = front()
    assert row["health"] == "ok" and row["reason"] == "healthy"
    silent = {row["device"]: row for row in client.get("/api/health").json()}["lid"]
    assert silent["health"] == "watch" and silent["reason"] == "never reported"


def test_the_api_gives_only_the_sensors_to_service_when_asked(
    dashboard: Dashboard, observer: Observer
) -> None:
    client = dashboard.login()
    observer.publish("home/security/door/front", json.dumps({"state": "OPEN", "battery": 3}))

    def attention() -> list[dict[str, object]]:
        found: list[dict[str, object]] = client.get("/api/health?attention=true").json()
        return found

    wait_until(lambda: attention() != [], what="front's report stored")
    every = client.get("/api/health").json()
    assert attention() == [row for row in every if row["device"] == "front"]
    assert attention()[0]["health"] == "failed" and len(every) == 4
