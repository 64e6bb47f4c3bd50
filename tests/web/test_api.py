"""The HTTP API against a real controller on a real Mosquitto: every answer and every
refusal (no session, bad CSRF token, wrong login, wrong code, locked out, not ready)."""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Callable

import httpx
import pytest

from tests.conftest import wait_until
from tests.services.conftest import Observer
from tests.web.conftest import PASSWORD, Dashboard

pytestmark = pytest.mark.broker

STATE = "home/alarm/state"


def refusal(response: httpx.Response, status: int, error: str) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body: dict[str, object] = response.json()
    assert body["error"] == error, body
    assert body["message"]
    return body


def test_without_a_session_everything_is_401(dashboard: Dashboard) -> None:
    with dashboard.client() as client:
        for path in ("/api/state", "/api/sensors", "/api/events", "/api/system", "/api/live"):
            refusal(client.get(path), 401, "not_logged_in")
        refusal(client.post("/api/arm", json={"mode": "armed_away"}), 401, "not_logged_in")
        refusal(client.post("/api/actuators/siren", json={"on": True}), 401, "not_logged_in")
        # The page itself and its assets load, to show the login form.
        assert client.get("/").status_code == 200
        assert client.get("/static/app.js").status_code == 200


def test_login_sets_a_strict_http_only_cookie_and_logout_ends_it(dashboard: Dashboard) -> None:
    with dashboard.client() as client:
        response = client.post("/api/login", json={"user": "alice", "password": PASSWORD})
        assert response.status_code == 200
        cookie = response.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
        token = response.json()["csrf_token"]
        assert client.get("/api/session").json() == {"user": "alice", "csrf_token": token}
        assert client.post("/api/logout", headers={"X-CSRF-Token": token}).status_code == 204
        refusal(client.get("/api/state"), 401, "not_logged_in")


def test_state_changes_need_the_csrf_token(dashboard: Dashboard, observer: Observer) -> None:
    client = dashboard.login()
    token = client.headers.pop("X-CSRF-Token")
    body = {"mode": "armed_home", "code": "1234"}
    refusal(client.post("/api/arm", json=body), 403, "bad_csrf_token")
    wrong = {"X-CSRF-Token": token[:-2] + "xx"}
    refusal(client.post("/api/arm", json=body, headers=wrong), 403, "bad_csrf_token")
    other = {"X-CSRF-Token": token, "Origin": "http://evil.example"}
    refusal(client.post("/api/arm", json=body, headers=other), 403, "bad_csrf_token")
    other_port = {"X-CSRF-Token": token, "Origin": "http://127.0.0.1:1"}
    refusal(client.post("/api/arm", json=body, headers=other_port), 403, "bad_csrf_token")
    refusal(client.post("/api/logout"), 403, "bad_csrf_token")
    assert dashboard.controller.panel.state.value == "disarmed"
    ok = client.post("/api/arm", json=body, headers={"X-CSRF-Token": token})
    assert ok.json()["state"] == "armed_home"
    observer.wait_for(STATE, "armed_home")
    # Arming the mode it is already in changes nothing, and is still answered.
    again = client.post("/api/arm", json=body, headers={"X-CSRF-Token": token})
    assert again.status_code == 200 and again.json()["state"] == "armed_home"


def test_wrong_passwords_lock_the_login(dashboard: Dashboard) -> None:
    with dashboard.client() as client:
        refusal(
            client.post("/api/login", json={"user": "nobody", "password": "x"}), 401, "login_failed"
        )
        for _ in range(4):
            refusal(
                client.post("/api/login", json={"user": "alice", "password": "guess"}),
                401,
                "login_failed",
            )
        # Five failures from this client: even the right password waits now.
        locked = client.post("/api/login", json={"user": "alice", "password": PASSWORD})
        refusal(locked, 429, "login_locked")
        assert 50 <= int(locked.headers["retry-after"]) <= 60


def test_arm_and_disarm_with_the_panels_refusals(dashboard: Dashboard, observer: Observer) -> None:
    client = dashboard.login()
    refusal(client.post("/api/arm", json={"mode": "armed_home"}), 422, "code_required")
    refusal(
        client.post("/api/arm", json={"mode": "armed_home", "code": "0000"}), 422, "invalid_code"
    )
    refusal(client.post("/api/arm", json={"mode": "armed_sideways"}), 422, "invalid_request")
    refusal(client.post("/api/arm", json={"mode": "armed_home", "x": 1}), 422, "invalid_request")
    broken = client.post("/api/arm", content=b"{", headers={"Content-Type": "application/json"})
    assert broken.status_code in (400, 422) and broken.json()["error"] == "invalid_request"
    refusal(client.get("/api/nothing"), 404, "not_found")

    # A door open: not ready, with the door listed; force bypasses it.
    observer.publish("home/security/door/front", "OPEN")
    wait_until(lambda: dashboard.controller.panel.sensor("front").active, 5, "the door open")
    body = refusal(
        client.post("/api/arm", json={"mode": "armed_away", "code": "1234"}),
        409,
        "sensors_not_ready",
    )
    assert body["sensors"] == ["front"]
    forced = client.post("/api/arm", json={"mode": "armed_away", "code": "1234", "force": True})
    assert forced.status_code == 200
    assert forced.json() == {"state": "arming", "mode": "armed_away", "bypassed": ["front"]}
    observer.wait_for(STATE, "armed_away")

    disarmed = client.post("/api/disarm", json={"code": "1234"})
    assert disarmed.json()["state"] == "disarmed"
    observer.wait_for(STATE, "disarmed")

    # An alarm: arming is not allowed until disarmed.
    observer.publish("home/security/tamper/lid", "TAMPER")
    observer.wait_for(STATE, "triggered")
    refusal(
        client.post("/api/arm", json={"mode": "armed_home", "code": "1234"}), 409, "not_allowed"
    )
    assert client.post("/api/disarm", json={"code": "1234"}).json()["state"] == "disarmed"


def test_wrong_codes_lock_code_entry(dashboard: Dashboard) -> None:
    client = dashboard.login()
    for _ in range(4):
        refusal(client.post("/api/disarm", json={"code": "0000"}), 422, "invalid_code")
    refusal(client.post("/api/disarm", json={"code": "0000"}), 422, "invalid_code")  # the 5th
    body = refusal(client.post("/api/disarm", json={"code": "1234"}), 409, "locked_out")
    assert "locked" in str(body["message"])
    assert client.get("/api/state").json()["code_locked_until"] is not None


def test_bypass_and_the_manual_siren(dashboard: Dashboard, observer: Observer) -> None:
    client = dashboard.login()
    refusal(
        client.post("/api/bypass", json={"sensor": "nope", "code": "1234"}), 422, "unknown_sensor"
    )
    bypassed = client.post("/api/bypass", json={"sensor": "living", "code": "1234"})
    assert bypassed.json()["bypassed"] == ["living"]
    sensors = {s["id"]: s for s in client.get("/api/sensors").json()}
    assert sensors["living"]["status"] == "bypassed"
    assert sensors["front"]["zone"] == "entry" and sensors["front"]["name"] == "Front door"

    switched = time.monotonic()
    response = client.post("/api/actuators/siren", json={"on": True})
    assert response.json() == {"actuator": "siren", "on": True, "state": "disarmed"}
    observer.wait_for("home/control/alarm", "ON", after=switched)
    client.post("/api/actuators/light", json={"on": False})
    observer.wait_for("home/control/light", "OFF", after=switched)
    assert client.post("/api/actuators/fog", json={"on": True}).status_code == 422


def test_state_sensors_and_system(dashboard: Dashboard, observer: Observer) -> None:
    client = dashboard.login()
    observer.publish("home/security/door/front", json.dumps({"state": "OPEN", "battery": 42}))
    observer.publish("home/control/siren/state", "ON")
    wait_until(lambda: dashboard.controller.stats.actuators.get("siren") is True, 5, "siren state")
    state = client.get("/api/state").json()
    assert state["state"] == "disarmed"
    assert state["blocking"]["armed_away"] == {"front": "open"}
    assert {"id": "siren", "type": "siren", "on": True} in state["actuators"]
    front = next(s for s in state["sensors"] if s["id"] == "front")
    assert front["status"] == "open" and front["last_seen"] is not None
    assert front["battery"] == 42
    system = client.get("/api/system").json()
    assert system["broker_connected"] is True
    assert system["messages"] >= 2 and system["store_bytes"] > 0
    assert system["sensors"] == 4


def test_events_query_paging_chart_and_csv(dashboard: Dashboard, observer: Observer) -> None:
    client = dashboard.login()
    for seq in range(6):
        state = "OPEN" if seq % 2 == 0 else "CLOSED"
        observer.publish("home/security/door/front", json.dumps({"state": state, "seq": seq}))
    observer.publish("home/security/window/living", "OPEN")
    observer.publish("home/security/tamper/lid", "TAMPER")
    observer.wait_for(STATE, "triggered")
    wait_until(lambda: dashboard.house.sensor_count() == 8, 5, "8 sensor events stored")

    everything = client.get("/api/events", params={"limit": 500}).json()
    assert everything["total"] == len(everything["items"]) >= 9
    stamps = [e["timestamp"] for e in everything["items"]]
    assert stamps == sorted(stamps, reverse=True)

    front = client.get("/api/events", params={"device": "front", "limit": 4}).json()
    assert front["total"] == 6 and len(front["items"]) == 4
    rest = client.get("/api/events", params={"device": "front", "limit": 4, "offset": 4}).json()
    assert len(rest["items"]) == 2
    ids = {e["id"] for e in front["items"]} | {e["id"] for e in rest["items"]}
    assert len(ids) == 6

    opened = client.get("/api/events", params={"device": "front", "type": "OPEN"}).json()
    assert opened["total"] == 3
    alarms = client.get("/api/events", params={"kind": "alarm"}).json()
    assert [e["type"] for e in alarms["items"]] == ["triggered"]
    assert alarms["items"][0]["alarm"] is True
    future = client.get("/api/events", params={"since": time.time() + 3600}).json()
    assert future == {"total": 0, "offset": 0, "limit": 50, "items": []}
    refusal(client.get("/api/events", params={"limit": 0}), 422, "invalid_request")
    refusal(client.get("/api/events", params={"since": "nan"}), 422, "invalid_request")

    chart = client.get("/api/events/chart", params={"span": "24h"}).json()
    assert len(chart["buckets"]) == 24 and chart["bucket"] == 3600
    assert sum(b["sensor"] for b in chart["buckets"]) == 8
    assert sum(b["alarms"] for b in chart["buckets"]) == 1
    month = client.get("/api/events/chart", params={"span": "30d", "tz_offset": 120}).json()
    assert len(month["buckets"]) == 30 and sum(b["sensor"] for b in month["buckets"]) == 8

    exported = client.get("/api/events.csv", params={"device": "front"})
    assert exported.headers["content-type"].startswith("text/csv")
    assert "attachment" in exported.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert len(rows) == 6 and {r["device"] for r in rows} == {"front"}


def test_the_live_stream_pushes_each_change(dashboard: Dashboard, observer: Observer) -> None:
    client = dashboard.login()
    seen: list[dict[str, object]] = []
    with client.stream("GET", "/api/live", timeout=10) as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        lines = stream.iter_lines()
        published = False
        for line in lines:
            if not line.startswith("data: "):
                continue
            document = json.loads(line.removeprefix("data: "))
            seen.append(document)
            front = next(s for s in document["sensors"] if s["id"] == "front")  # type: ignore[union-attr]
            if front["status"] == "open":
                break
            if not published:
                sent = time.monotonic()
                observer.publish("home/security/door/front", "OPEN")
                published = True
        assert time.monotonic() - sent < 1.0
    assert seen[0]["state"] == "disarmed"


def test_loopback_without_login_only_when_configured(
    dashboard_factory: Callable[..., Dashboard],
) -> None:
    dashboard = dashboard_factory(loopback=True)
    with dashboard.client() as client:
        session = client.get("/api/session")
        assert session.status_code == 200 and session.json()["user"] == "local"
        assert client.get("/api/state").status_code == 200
        # Still no state change without the CSRF token.
        refusal(client.post("/api/disarm", json={"code": "1234"}), 403, "bad_csrf_token")
    with dashboard.client() as client:  # a rebound DNS name is not loopback
        rebound = client.get("/api/session", headers={"Host": "evil.example:8080"})
        refusal(rebound, 401, "not_logged_in")


def test_no_loopback_login_by_default(dashboard: Dashboard) -> None:
    with dashboard.client() as client:
        refusal(client.get("/api/session"), 401, "not_logged_in")


def test_openapi_describes_the_api(dashboard: Dashboard) -> None:
    with dashboard.client() as client:
        spec = client.get("/openapi.json").json()
    paths = spec["paths"]
    for path in ("/api/state", "/api/sensors", "/api/events", "/api/arm", "/api/disarm"):
        assert path in paths
    assert "/api/actuators/{kind}" in paths and "/api/bypass" in paths
    assert set(paths["/api/arm"]["post"]["responses"]) >= {"200", "401", "403", "409", "422"}


def test_keep_alive_responses_are_not_held_by_nagle(dashboard: Dashboard) -> None:
    """Without TCP_NODELAY each response on a reused connection waited ~40 ms for the
    client's delayed ACK (measured: 44 ms a request before, 1.5 ms after)."""
    with dashboard.client() as client:
        client.get("/api/session")  # the connection is open and past TCP's quick ACKs
        times = []
        for _ in range(15):
            started = time.perf_counter()
            client.get("/api/session")
            times.append(time.perf_counter() - started)
    times.sort()
    assert times[len(times) // 2] < 0.02, times
