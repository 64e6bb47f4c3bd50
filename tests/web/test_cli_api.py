"""``homeguard status|arm|disarm --api URL``: the command line through the HTTP API."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable

import pytest

from tests.conftest import wait_until
from tests.services.conftest import Observer
from tests.web.conftest import PASSWORD, Dashboard

pytestmark = pytest.mark.broker


def homeguard(*args: str, password: str | None = PASSWORD) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "HOMEGUARD_PASSWORD"}
    if password is not None:
        env["HOMEGUARD_PASSWORD"] = password
    return subprocess.run(
        [sys.executable, "-m", "homeguard", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=env,
    )


def test_status_arm_and_disarm_through_the_api(dashboard: Dashboard, observer: Observer) -> None:
    api = ("--api", dashboard.url, "--user", "alice")
    status = homeguard("status", *api)
    assert status.returncode == 0, status.stderr
    assert "panel:      disarmed" in status.stdout and "front" in status.stdout

    armed = homeguard("arm", "home", "--code", "1234", *api)
    assert armed.returncode == 0, armed.stderr
    assert armed.stdout.strip() == "panel: armed_home"
    observer.wait_for("home/alarm/state", "armed_home")

    refused = homeguard("disarm", "--code", "0000", *api)
    assert refused.returncode == 2
    assert refused.stderr.splitlines()[-1] == "refused: wrong code"  # after --code's warning

    disarmed = homeguard("disarm", "--code", "1234", *api)
    assert disarmed.returncode == 0 and disarmed.stdout.strip() == "panel: disarmed"
    as_json = json.loads(homeguard("status", "--json", *api).stdout)
    assert as_json["state"] == "disarmed"


def test_not_ready_lists_the_sensors(dashboard: Dashboard, observer: Observer) -> None:
    observer.publish("home/security/window/living", "OPEN")
    wait_until(lambda: dashboard.controller.panel.sensor("living").active, 5, "window open")
    api = ("--api", dashboard.url, "--user", "alice")
    refused = homeguard("arm", "away", "--code", "1234", *api)
    assert refused.returncode == 2
    assert "not ready" in refused.stderr and "(living)" in refused.stderr


def test_a_login_is_needed_and_said_clearly(dashboard: Dashboard) -> None:
    missing = homeguard("status", "--api", dashboard.url, password=None)
    assert missing.returncode == 1
    assert "wants a login" in missing.stderr and "Traceback" not in missing.stderr
    wrong = homeguard("status", "--api", dashboard.url, "--user", "alice", password="nope")
    assert wrong.returncode == 1 and "401" in wrong.stderr


def test_loopback_needs_no_login_when_configured(
    dashboard_factory: Callable[..., Dashboard],
) -> None:
    dashboard = dashboard_factory(loopback=True)
    url = dashboard.url.replace("127.0.0.1", "localhost")
    status = homeguard("status", "--api", url, password=None)
    assert status.returncode == 0, status.stderr
    assert "disarmed" in status.stdout


def test_status_through_the_api_shows_a_storage_trouble(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import argparse

    from homeguard.cli import api as cli_api

    document = {
        "state": "armed_away",
        "triggered_by": [],
        "actuators": [],
        "sensors": [],
        "system_troubles": {"storage": 1.0},
        "system": {"broker": "127.0.0.1:1883", "broker_connected": True, "store_waiting": 12},
    }

    class FakeApi:
        def state(self) -> dict[str, object]:
            return document

    monkeypatch.setattr(cli_api, "_client", lambda args: FakeApi())
    assert cli_api.status(argparse.Namespace(json=False)) == 0
    assert "trouble:    storage (12 events waiting)" in capsys.readouterr().out
